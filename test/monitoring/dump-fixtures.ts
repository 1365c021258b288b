/**
 * Writes the seeded test arrays as JSON for the one-off SciPy computation of the reference values
 * (`node dist/test/monitoring/dump-fixtures.js /tmp/drift-fixtures.json`). Not a test.
 */
import fs from "node:fs";
import { FIXTURES } from "./fixtures";

const out = process.argv[2] ?? "/tmp/drift-fixtures.json";
const json: Record<string, unknown> = {};
for (const [name, f] of Object.entries(FIXTURES))
  json[name] = { ref: Array.from(f.ref as ArrayLike<unknown>), cur: Array.from(f.cur as ArrayLike<unknown>) };
fs.writeFileSync(out, JSON.stringify(json));
console.log(out);
