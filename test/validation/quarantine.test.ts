import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { splitRows } from "../../src/validation/quarantine";
import { runSuite } from "../../src/validation/run-suite";
import type { SuiteDefinition } from "../../src/validation/suite";
import { columnNames, readParquet, tempDir, writeParquet } from "./fixtures";
import { assertNames } from "../helpers/names";

const tmp = tempDir();
let data = "";

// Column order deliberately not alphabetical, to see it kept.
const COLUMNS = { z: "INTEGER", name: "VARCHAR", amount: "DOUBLE", key: "INTEGER" };
const ROWS = Array.from({ length: 60 }, (_, k) => ({
  z: k,
  name: k % 7 === 0 ? null : `n${k}`,
  amount: k % 9 === 0 ? -5 : k,
  // 58 and 59 repeat 0 and 1.
  key: k % 58,
}));

before(async () => {
  data = await writeParquet(tmp.file("data.parquet"), COLUMNS, ROWS);
});
after(() => tmp.cleanup());

const SUITE: SuiteDefinition = {
  name: "gate",
  expectations: [
    { type: "not_null", column: "name" },
    { type: "between", column: "amount", min: 0 },
    { type: "unique", column: "key" },
    // Warn severity and aggregates never move rows.
    { type: "matches_regex", column: "name", regex: "^n[0-5]$", severity: "warn" },
    { type: "row_count_between", max: 1 },
  ],
};

const failsGate = (r: (typeof ROWS)[number]) => r.name === null || r.amount < 0 || r.key === 0 || r.key === 1;

test("splits rows failing any error-severity row-level expectation, keeping columns and order", async () => {
  const pass = tmp.file("pass.parquet");
  const fail = tmp.file("fail.parquet");
  const counts = await splitRows(data, SUITE, pass, fail);
  const expectedFail = ROWS.filter(failsGate);
  const expectedPass = ROWS.filter((r) => !failsGate(r));
  assert.deepEqual(counts, { passed: expectedPass.length, failed: expectedFail.length });
  assert.deepEqual(await readParquet(fail), expectedFail);
  assert.deepEqual(await readParquet(pass), expectedPass);
  assert.deepEqual(await columnNames(pass), Object.keys(COLUMNS));
  assert.deepEqual(await columnNames(fail), Object.keys(COLUMNS));
});

test("agrees with the suite run's unexpected counts", async () => {
  const pass = tmp.file("pass2.parquet");
  const fail = tmp.file("fail2.parquet");
  for (const e of SUITE.expectations.slice(0, 3)) {
    const { failed } = await splitRows(data, { name: "one", expectations: [e] }, pass, fail);
    const report = await runSuite(data, { name: "one", expectations: [e] });
    assert.equal(failed, report.results[0].unexpectedCount, e.type);
  }
});

test("with no error-severity row-level expectation every row passes and the fail file is empty but typed", async () => {
  const pass = tmp.file("pass3.parquet");
  const fail = tmp.file("fail3.parquet");
  const counts = await splitRows(data, { name: "none", expectations: SUITE.expectations.slice(3) }, pass, fail);
  assert.deepEqual(counts, { passed: 60, failed: 0 });
  assert.deepEqual(await readParquet(fail), []);
  assert.deepEqual(await columnNames(fail), Object.keys(COLUMNS));
});

test("refuses to split when a blocking expectation cannot be evaluated", async () => {
  await assert.rejects(
    splitRows(
      data,
      {
        name: "broken",
        expectations: [
          { type: "not_null", column: "missing" },
          { type: "matches_regex", column: "name", regex: "[" },
        ],
      },
      tmp.file("p.parquet"),
      tmp.file("f.parquet"),
    ),
    (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.deepEqual(
        err.problems.map((p) => p.field),
        ["expectations[0]", "expectations[1]"],
      );
      assertNames(err.problems[0].message, "missing");
      return true;
    },
  );
});
