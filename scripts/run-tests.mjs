#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner.
// Listing them explicitly keeps helpers under dist/test/helpers from running as tests.
// Extra arguments pass through, e.g. `npm test -- --test-name-pattern=audit`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return find(full);
    return name.endsWith(".test.js") ? [full] : [];
  });
}

const args = process.argv.slice(2);
const onlyFiles = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));
const files = onlyFiles.length > 0 ? onlyFiles : find("dist/test").sort();
const db = process.env.DATABASE_URL ? `PostgreSQL (${new URL(process.env.DATABASE_URL).host})` : "embedded PGlite";
console.log(`Running ${files.length} test files on ${db}`);
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=2", ...flags, ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
