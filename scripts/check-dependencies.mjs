#!/usr/bin/env node
// The dependency rules of DESIGN.md, run by `npm run lint:deps` (and .ci/run).
//
// One dependency-cruiser pass over src/, runners/, plugins/ and packages/ checks two things:
//   1. the file rules of .dependency-cruiser.cjs (kernel, pure cores, storage, runners, app, index.ts);
//   2. no cycle between capability folders: an import from folder X into folder Y is a violation when
//      Y reaches X again through other folders (dependency-cruiser's `no-circular` is per file, and a
//      folder cycle needs no file cycle).
// Violations that exist today are listed in two baseline files, to burn down:
// .dependency-cruiser-known-violations.json and .folder-cycles-known-violations.json. Only a new one
// fails. `node scripts/check-dependencies.mjs --baseline` (npm run lint:deps:baseline) rewrites both.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cruise, format } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";

const ROOTS = ["src", "runners", "plugins", "packages"];
const CONFIG = "./.dependency-cruiser.cjs";
const KNOWN_FILE_VIOLATIONS = ".dependency-cruiser-known-violations.json";
const KNOWN_FOLDER_CYCLES = ".folder-cycles-known-violations.json";

const writeBaseline = process.argv.includes("--baseline");

/** The folder a module belongs to for the cycle check: src/<capability>, runners, plugins or packages/<package>. */
function folderOf(source) {
  const match = /^(src\/[^/]+|runners|plugins|packages\/[^/]+)\//.exec(source);
  return match ? match[1] : null;
}

function readJson(file, fallback) {
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : fallback;
}

async function cruiseGraph() {
  const options = await extractDepcruiseOptions(CONFIG);
  if (!writeBaseline) options.knownViolations = readJson(KNOWN_FILE_VIOLATIONS, []);
  const tsConfig = extractTSConfig(options.tsConfig.fileName);
  const { output } = await cruise(ROOTS, { ...options, outputType: "json" }, {}, { tsConfig });
  return JSON.parse(output);
}

/** Folder-to-folder imports, each with one file import as an example. */
function folderEdges(modules) {
  const edges = new Map();
  for (const module of modules) {
    const from = folderOf(module.source);
    if (!from) continue;
    for (const dependency of module.dependencies) {
      const to = folderOf(dependency.resolved);
      if (!to || to === from) continue;
      const key = `${from} → ${to}`;
      if (!edges.has(key)) edges.set(key, { from, to, example: `${module.source} → ${dependency.resolved}` });
    }
  }
  return edges;
}

/** Shortest folder path from `start` to `goal`, or null. */
function folderPath(adjacency, start, goal) {
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const folder = queue.shift();
    if (folder === goal) {
      const path = [];
      for (let at = goal; at !== null; at = previous.get(at)) path.unshift(at);
      return path;
    }
    for (const next of adjacency.get(folder) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, folder);
        queue.push(next);
      }
    }
  }
  return null;
}

/** Every folder import X → Y where Y reaches X, with the path back. */
function folderCycleViolations(modules) {
  const edges = folderEdges(modules);
  const adjacency = new Map();
  for (const { from, to } of edges.values()) {
    if (!adjacency.has(from)) adjacency.set(from, new Set());
    adjacency.get(from).add(to);
  }
  const violations = [];
  for (const [key, edge] of edges) {
    const back = folderPath(adjacency, edge.to, edge.from);
    if (back) violations.push({ key, example: edge.example, back: back.join(" → ") });
  }
  return violations.sort((a, b) => a.key.localeCompare(b.key));
}

const result = await cruiseGraph();
const folderViolations = folderCycleViolations(result.modules);

if (writeBaseline) {
  const { output } = await format(result, { outputType: "baseline" });
  writeFileSync(KNOWN_FILE_VIOLATIONS, output.endsWith("\n") ? output : `${output}\n`);
  writeFileSync(KNOWN_FOLDER_CYCLES, `${JSON.stringify(folderViolations.map((v) => v.key).sort(), null, 2)}\n`);
  const perRule = new Map();
  for (const violation of result.summary.violations) {
    perRule.set(violation.rule.name, (perRule.get(violation.rule.name) ?? 0) + 1);
  }
  perRule.set("no-folder-cycle", folderViolations.length);
  console.log(`Wrote ${KNOWN_FILE_VIOLATIONS} and ${KNOWN_FOLDER_CYCLES}:`);
  for (const [rule, count] of [...perRule].sort()) console.log(`  ${rule}: ${count}`);
  process.exit(0);
}

const fileReport = await format(result, { outputType: "err" });
process.stdout.write(fileReport.output);

const known = new Set(readJson(KNOWN_FOLDER_CYCLES, []));
const newCycles = folderViolations.filter((violation) => !known.has(violation.key));
for (const violation of newCycles) {
  console.log(`  error no-folder-cycle: ${violation.key}\n      e.g. ${violation.example}\n      and back: ${violation.back}`);
}
const gone = [...known].filter((key) => !folderViolations.some((violation) => violation.key === key));
console.log(
  `${newCycles.length === 0 ? "✔" : "x"} folder cycles: ${newCycles.length} new, ` +
    `${folderViolations.length - newCycles.length} known (${KNOWN_FOLDER_CYCLES})` +
    (gone.length > 0 ? `, ${gone.length} known ones gone: run npm run lint:deps:baseline` : ""),
);
process.exit(fileReport.exitCode > 0 || newCycles.length > 0 ? 1 : 0);
