import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { specHash } from "../../src/pipelines/canonical";
import { InvalidSpecFileError, SpecFileError, loadSpecFile } from "../../src/pipelines/load";
import { diamond } from "./sample-specs";
import { assertNames } from "../helpers/names";

// Fixtures are not compiled (or compiled but not what we load): read them from the source tree.
const ROOT = path.resolve(__dirname, "../../..");
const FIXTURES = path.join(ROOT, "test/pipelines/fixtures");
const fixture = (name: string) => path.join(FIXTURES, name);

/** The error `promise` rejects with (failing the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("it loaded");
}

describe("loadSpecFile", () => {
  let scratch: string;
  const write = (name: string, text: string) => {
    const file = path.join(scratch, name);
    writeFileSync(file, text);
    return file;
  };
  before(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), "sluice-spec-"));
  });
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it("loads the same pipeline from JSON, YAML and TypeScript with equal hashes", async () => {
    const expected = specHash(diamond());
    for (const name of ["diamond.json", "diamond.yaml", "diamond.pipeline.ts"]) {
      const loaded = await loadSpecFile(fixture(name));
      assert.equal(specHash(loaded.spec), expected, name);
      assert.equal(loaded.baseDir, FIXTURES);
      assert.equal(loaded.file, fixture(name));
      assert.equal(loaded.spec.stages[0].retries.max, 0, "normalized");
    }
  });

  it("resolves a relative path against the working directory", async () => {
    const loaded = await loadSpecFile(path.relative(process.cwd(), fixture("diamond.yaml")));
    assert.equal(loaded.baseDir, FIXTURES);
  });

  it("calls an exported function, awaiting it, when the module exports one", async () => {
    const loaded = await loadSpecFile(fixture("factory.pipeline.ts"));
    assert.deepEqual(
      loaded.spec.stages.map((s) => s.name),
      ["step-1", "step-2", "step-3"],
    );
  });

  it("takes module.exports itself as the spec of a CommonJS file", async () => {
    const loaded = await loadSpecFile(fixture("plain.cjs"));
    assert.equal(loaded.spec.name, "plain");
  });

  it("reloads a module file that changed since the last load", async () => {
    const file = write("changing.js", `module.exports = { name: "one", stages: [{ name: "a", run: { operator: "noop" } }] };`);
    assert.equal((await loadSpecFile(file)).spec.name, "one");
    write("changing.js", `module.exports = { name: "two", stages: [{ name: "a", run: { operator: "noop" } }] };`);
    assert.equal((await loadSpecFile(file)).spec.name, "two");
  });

  it("names the line and column of a YAML syntax error", async () => {
    const file = write(
      "broken.yaml",
      "name: broken\nstages:\n  - name: a\n    run: { operator: noop }\n  - name: b\n   run: { operator: noop }\n",
    );
    const err = await failure(loadSpecFile(file));
    assert.ok(err instanceof SpecFileError);
    assert.equal(err.reason, "PARSE");
    assert.equal(err.position?.line, 6);
    assert.ok(err.message.startsWith(`${file}:6:`), err.message);
  });

  it("names the line and column of a JSON syntax error, for every kind of error", async () => {
    const cases: Array<[string, number, number]> = [
      ['{\n  "name": "x",\n  "stages": [1,]\n}\n', 3, 16],
      ['{\n  "name": }\n', 2, 11],
      ['{\n  "name": "x"\n  "stages": []\n}', 3, 3],
      ['{\n  "name": "x",\n', 3, 1],
      ['{"name": "tab\there"}', 1, 14],
    ];
    for (const [text, line, column] of cases) {
      const err = await failure(loadSpecFile(write("broken.json", text)));
      assert.ok(err instanceof SpecFileError);
      assert.equal(err.reason, "PARSE");
      assert.deepEqual(err.position, { line, column }, JSON.stringify(text));
    }
  });

  it("refuses an empty file", async () => {
    const err = await failure(loadSpecFile(write("empty.yaml", "# nothing here\n")));
    assert.ok(err instanceof SpecFileError);
    assert.equal(err.reason, "PARSE");
  });

  it("refuses a missing file, a folder and an unknown extension, naming the file", async () => {
    for (const [file, reason] of [
      [path.join(scratch, "missing.yaml"), "NOT_FOUND"],
      [path.join(scratch, "missing.ts"), "NOT_FOUND"],
      [FIXTURES + "/../fixtures.json", "NOT_FOUND"],
      [fixture("diamond.pipeline.ts").replace(/\.ts$/, ".toml"), "UNSUPPORTED"],
    ] as const) {
      const err = await failure(loadSpecFile(file));
      assert.ok(err instanceof SpecFileError, String(err));
      assert.equal(err.reason, reason);
      assert.ok(err.message.includes(file), err.message);
    }
    const folder = path.join(scratch, "folder.json");
    mkdirSync(folder);
    assert.equal(((await failure(loadSpecFile(folder))) as SpecFileError).reason, "NOT_FOUND");
  });

  it("refuses a module without a pipeline export, listing what it exports", async () => {
    const err = await failure(loadSpecFile(fixture("no-export.pipeline.ts")));
    assert.ok(err instanceof SpecFileError);
    assert.equal(err.reason, "NO_EXPORT");
    assertNames(err.message, "no-export.pipeline.ts", "notAPipeline", "helper");
  });

  it("reports a module that throws while loading, with the file and the module's message", async () => {
    const err = await failure(loadSpecFile(fixture("throws.pipeline.ts")));
    assert.ok(err instanceof SpecFileError);
    assert.equal(err.reason, "LOAD_FAILED");
    assertNames(err.message, "throws.pipeline.ts", "WIDTH is not set");
  });

  it("reports an exported function that throws", async () => {
    const file = write("factory-throws.js", `exports.pipeline = async () => { throw new Error("no cluster"); };`);
    const err = await failure(loadSpecFile(file));
    assert.ok(err instanceof SpecFileError);
    assert.equal(err.reason, "LOAD_FAILED");
  });

  it("refuses an invalid spec with the problems' fields, and the file in the message", async () => {
    const err = await failure(loadSpecFile(fixture("invalid.yaml")));
    assert.ok(err instanceof InvalidSpecFileError);
    assert.ok(err instanceof InvalidInputError);
    assert.deepEqual(
      err.problems.map((p) => p.field),
      ["stages[0].inputs.x"],
    );
    assertNames(err.message, "invalid.yaml");
  });

  it("resolves the sluice SDK from files anywhere in the repository, examples/ included", () => {
    const sdk = path.join(ROOT, "dist/src/index.js");
    for (const from of ["examples/flights/pipeline.ts", "test/pipelines/fixtures/x.ts"]) {
      assert.equal(createRequire(path.join(ROOT, from)).resolve("sluice"), sdk, from);
    }
    const exported = createRequire(path.join(ROOT, "examples/x.ts"))("sluice");
    assert.equal(typeof exported.definePipeline, "function");
    assert.equal(typeof exported.stage, "function");
  });
});
