import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import type { Runner, StageTask } from "../../runners/contract";
import { createProcessRunner } from "../../runners/process";
import type { StageRun } from "../../src/pipelines/spec";
import { failedWith, succeeded } from "./conformance";
import { makeTask, neverAborted, RecordingReporter, TempDirs } from "./harness";

const sh = (script: string): StageRun => ({ command: ["/bin/sh", "-c", script] });

/** The process runner's datasets-as-tables contract (runners/PROTOCOL.md, "Datasets as tables"). */
describe("process runner: datasets as tables", () => {
  const temp = new TempDirs();
  let runner: Runner;
  let baseDir: string;
  const task = (fields: Partial<StageTask> & { run: StageRun }) => makeTask(temp, { baseDir, ...fields });

  before(() => {
    runner = createProcessRunner({ capacity: 2, killGraceMs: 300 });
    baseDir = temp.make("sluice-tables-base-");
  });
  after(async () => {
    await runner.close();
    temp.cleanup();
  });

  it("gives a Dataset input as JSON lines with its columns, numbers and BIGINTs exact", async () => {
    const parquet = path.join(baseDir, "in.parquet");
    const db = await DuckDBInstance.create(":memory:");
    const conn = await db.connect();
    await conn.run(
      `COPY (SELECT * FROM (VALUES (1, 'a', 1.5, 9007199254740993::BIGINT), (2, NULL, 2.0, 3)) t(id, name, x, big)) TO '${parquet}' (FORMAT parquet)`,
    );
    conn.closeSync();
    db.closeSync();
    const t = task({
      run: sh('cat "$SLUICE_INPUTS_FILE" > /dev/null'),
      inputs: { rows: { artifactId: "a1", kind: "Dataset", hash: "sha256:x", size: 100, path: parquet, metadata: {} } },
    });
    succeeded(await runner.run(t, new RecordingReporter(), neverAborted()));
    const described = JSON.parse(readFileSync(path.join(t.workDir, ".sluice", "inputs.json"), "utf8"));
    const table = described.rows.table;
    assert.equal(table.rowCount, 2);
    assert.deepEqual(
      table.columns.map((c: { name: string; type: string }) => `${c.name}:${c.type}`),
      ["id:INTEGER", "name:VARCHAR", "x:DECIMAL(2,1)", "big:BIGINT"],
    );
    const lines = readFileSync(table.jsonl, "utf8").trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0], /"big":9007199254740993\b/);
    assert.deepEqual(JSON.parse(lines[1]), { id: 2, name: null, x: 2.0, big: 3 });
  });

  it("converts a Dataset output written as CSV or JSON lines to Parquet, with its row count", async () => {
    const t = task({
      run: sh(
        `printf 'a,b\\n1,x\\n2,y\\n' > "$SLUICE_OUTPUT_CSV.csv"; printf '{"n":1}\\n{"n":2.5}\\n{"n":null}\\n' > "$SLUICE_OUTPUT_JSON.jsonl"`,
      ),
      outputs: { csv: { kind: "Dataset" }, json: { kind: "Dataset" } },
    });
    const outputs = succeeded(await runner.run(t, new RecordingReporter(), neverAborted()));
    assert.equal(outputs.csv.metadata?.rowCount, 2);
    assert.equal(outputs.json.metadata?.rowCount, 3);
    for (const name of ["csv", "json"]) assert.equal(readFileSync(outputs[name].path).subarray(0, 4).toString(), "PAR1", name);
  });

  it("fails OUTPUT_UNREADABLE, non-retryable, for a file that is not a table or a link out of the work folder", async () => {
    const secret = path.join(baseDir, "secret.txt");
    writeFileSync(secret, '{"secret": "do not read"}\n');
    const broken = await runner.run(
      task({ run: sh(`printf 'not json at all\\n' > "$SLUICE_OUTPUT_T.jsonl"`), outputs: { t: { kind: "Dataset" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    const f1 = failedWith(broken, "OUTPUT_UNREADABLE");
    assert.equal(f1.nonRetryable, true);
    assert.deepEqual(f1.details, { outputs: ["t"] });
    const linked = await runner.run(
      task({ run: sh(`ln -s '${secret}' "$SLUICE_OUTPUT_T.jsonl"`), outputs: { t: { kind: "Dataset" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    assert.match(failedWith(linked, "OUTPUT_UNREADABLE").message, /not a regular file/);
  });
});
