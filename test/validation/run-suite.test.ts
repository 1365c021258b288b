import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { runSuite, type ExpectationResult, type ValidationReport } from "../../src/validation/run-suite";
import type { ExpectationDefinition } from "../../src/validation/suite";
import { quantileSorted, tempDir, writeParquet } from "./fixtures";

const tmp = tempDir();
let data = "";
let empty = "";

const COLUMNS = { id: "BIGINT", score: "DOUBLE", cat: "VARCHAR", code: "VARCHAR", dup: "INTEGER", ts: "TIMESTAMP" };
const ROWS = Array.from({ length: 100 }, (_, k) => {
  const i = k + 1;
  return {
    id: i,
    // 90 values in 1..9 and 10 outliers at 50.
    score: i % 10 === 0 ? 50 : i % 10,
    // 5 nulls.
    cat: i % 20 === 0 ? null : ["a", "b", "c"][i % 3],
    // 4 values that are not A-<digits>.
    code: i % 25 === 0 ? `bad${i}` : `A-${i}`,
    // i and i + 40 share a value; 2 nulls.
    dup: i % 50 === 0 ? null : i % 40,
    ts: new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString().replace("T", " ").replace("Z", ""),
  };
});
/** The newest ts: 2024-01-05 04:00 UTC. */
const NEWEST = Date.UTC(2024, 0, 1) + 100 * 3600_000;

before(async () => {
  data = await writeParquet(tmp.file("data.parquet"), COLUMNS, ROWS);
  empty = await writeParquet(tmp.file("empty.parquet"), COLUMNS, []);
});
after(() => tmp.cleanup());

async function one(e: ExpectationDefinition, options: Parameters<typeof runSuite>[2] = {}, file = data): Promise<ExpectationResult> {
  const report = await runSuite(file, { name: "t", expectations: [e] }, options);
  assert.equal(report.results.length, 1);
  return report.results[0];
}

/** Asserts a result's success and, for row-level ones, its unexpected count. */
function expect(result: ExpectationResult, success: boolean, unexpected?: number): void {
  assert.equal(result.error, undefined, `unexpected error: ${result.error}`);
  assert.equal(result.success, success, `${result.type} ${JSON.stringify(result)}`);
  if (unexpected !== undefined) assert.equal(result.unexpectedCount, unexpected);
}

const count = (pred: (r: (typeof ROWS)[number]) => boolean) => ROWS.filter(pred).length;

describe("row-level expectations", () => {
  test("not_null passes on a full column and fails on one with nulls; mostly counts every row", async () => {
    expect(await one({ type: "not_null", column: "id" }), true, 0);
    const nulls = await one({ type: "not_null", column: "cat" });
    expect(nulls, false, 5);
    assert.equal(nulls.elementCount, 100);
    assert.equal(nulls.unexpectedFraction, 0.05);
    expect(await one({ type: "not_null", column: "cat", mostly: 0.95 }), true, 5);
    expect(await one({ type: "not_null", column: "cat", mostly: 0.96 }), false, 5);
  });

  test("between: inclusive and strict bounds, and mostly on the fraction of rows that pass", async () => {
    expect(await one({ type: "between", column: "score", min: 1, max: 50 }), true, 0);
    const strict = await one({ type: "between", column: "score", min: 1, max: 50, strictMin: true, strictMax: true });
    expect(
      strict,
      false,
      count((r) => r.score === 1 || r.score === 50),
    );
    // 90 of 100 rows pass.
    const loose = await one({ type: "between", column: "score", max: 10, mostly: 0.85 });
    expect(loose, true, 10);
    assert.equal(loose.observedValue, 0.9);
    assert.equal(loose.mostly, 0.85);
    expect(await one({ type: "between", column: "score", max: 10, mostly: 0.95 }), false, 10);
    expect(await one({ type: "between", column: "score", max: 10, mostly: 0.9 }), true, 10);
  });

  test("null values are not unexpected, and mostly is a fraction of the non-null rows", async () => {
    // dup is null in 2 rows; 0..39 elsewhere. Values above 29: 10..., counted among 98 non-null rows.
    const above = count((r) => r.dup !== null && r.dup > 29);
    const result = await one({ type: "between", column: "dup", max: 29 });
    expect(result, false, above);
    assert.equal(result.elementCount, 98);
    assert.equal(result.unexpectedFraction, above / 98);
    assert.deepEqual(result.details, { missingCount: 2 });
  });

  test("in_set: strings, and numbers compared with the column's own type", async () => {
    expect(await one({ type: "in_set", column: "cat", values: ["a", "b", "c"] }), true, 0);
    expect(
      await one({ type: "in_set", column: "cat", values: ["a", "b"] }),
      false,
      count((r) => r.cat === "c"),
    );
    // "3" converts to the INTEGER 3; 1.5 and "x" equal no INTEGER, and must not match 2 by rounding.
    const numbers = await one({ type: "in_set", column: "dup", values: [1, 2, "3", 1.5, "x"] });
    expect(
      numbers,
      false,
      count((r) => r.dup !== null && ![1, 2, 3].includes(r.dup)),
    );
    expect(await one({ type: "in_set", column: "cat", values: [1, true] }), false, 95);
  });

  test("unique: every row whose value repeats is unexpected", async () => {
    expect(await one({ type: "unique", column: "id" }), true, 0);
    const counts = new Map<number, number>();
    for (const r of ROWS) if (r.dup !== null) counts.set(r.dup, (counts.get(r.dup) ?? 0) + 1);
    const repeated = count((r) => r.dup !== null && counts.get(r.dup)! > 1);
    expect(await one({ type: "unique", column: "dup" }), false, repeated);
  });

  test("matches_regex searches the value (partial match); anchors make it whole-value", async () => {
    expect(await one({ type: "matches_regex", column: "code", regex: "^A-[0-9]+$" }), false, 4);
    expect(await one({ type: "matches_regex", column: "code", regex: "[0-9]" }), true, 0);
    expect(await one({ type: "matches_regex", column: "code", regex: "^[A-Za-z0-9-]+$" }), true, 0);
  });

  test("value_lengths_between counts characters", async () => {
    expect(await one({ type: "value_lengths_between", column: "code", min: 3, max: 6 }), true, 0);
    expect(
      await one({ type: "value_lengths_between", column: "code", max: 3 }),
      false,
      count((r) => r.code.length > 3),
    );
  });
});

describe("aggregate expectations", () => {
  const scores = ROWS.map((r) => r.score).sort((a, b) => a - b);
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / (scores.length - 1));

  test("row_count_between", async () => {
    const ok = await one({ type: "row_count_between", min: 100, max: 100 });
    expect(ok, true);
    assert.equal(ok.observedValue, 100);
    assert.equal(ok.unexpectedCount, null);
    assert.equal(ok.mostly, null, "aggregates ignore mostly");
    expect(await one({ type: "row_count_between", min: 101 }), false);
    expect(await one({ type: "row_count_between", max: 10, mostly: 0.5 }), false);
  });

  test("mean_between and std_between (sample standard deviation)", async () => {
    const m = await one({ type: "mean_between", column: "score", min: mean - 0.01, max: mean + 0.01 });
    expect(m, true);
    assert.ok(Math.abs((m.observedValue as number) - mean) < 1e-9);
    expect(await one({ type: "mean_between", column: "score", max: mean - 0.01 }), false);
    const s = await one({ type: "std_between", column: "score", min: std - 0.01, max: std + 0.01 });
    expect(s, true);
    assert.ok(Math.abs((s.observedValue as number) - std) < 1e-9);
    expect(await one({ type: "std_between", column: "score", min: std + 0.01 }), false);
  });

  test("quantile_between uses the interpolated quantile", async () => {
    const q90 = quantileSorted(scores, 0.9);
    const ok = await one({ type: "quantile_between", column: "score", quantile: 0.9, min: q90, max: q90 });
    expect(ok, true);
    assert.equal(ok.observedValue, q90);
    expect(await one({ type: "quantile_between", column: "score", quantile: 0.5, min: 6 }), false);
  });

  test("aggregates of a column without values fail with a null observed value", async () => {
    const result = await one({ type: "mean_between", column: "score", min: 0 }, {}, empty);
    expect(result, false);
    assert.equal(result.observedValue, null);
    // Row-level expectations pass vacuously on no rows.
    expect(await one({ type: "not_null", column: "score" }, {}, empty), true, 0);
  });

  test("freshness measures the newest value's age from a fixed now", async () => {
    const now = new Date(NEWEST + 3600_000);
    const fresh = await one({ type: "freshness", column: "ts", maxAgeSeconds: 3600 }, { now });
    expect(fresh, true);
    assert.equal(fresh.observedValue, 3600);
    assert.equal((fresh.details as { newest: string }).newest, "2024-01-05 04:00:00");
    expect(await one({ type: "freshness", column: "ts", maxAgeSeconds: 3599 }, { now }), false);
  });
});

describe("reports", () => {
  test("warn failures keep the suite successful; error failures do not", async () => {
    const failing = { type: "between", column: "score", max: 10 } as const;
    const warned = await runSuite(data, {
      name: "w",
      expectations: [
        { ...failing, severity: "warn" },
        { type: "not_null", column: "id" },
      ],
    });
    assert.equal(warned.success, true);
    assert.deepEqual(warned.statistics, { evaluated: 2, successful: 1, failedWarn: 1, failedError: 0 });
    const errored = await runSuite(data, { name: "e", expectations: [failing, { type: "not_null", column: "id", severity: "warn" }] });
    assert.equal(errored.success, false);
    assert.deepEqual(errored.statistics, { evaluated: 2, successful: 1, failedWarn: 0, failedError: 1 });
    assert.equal(errored.results[0].severity, "error", "severity defaults to error");
  });

  test("sample rows are whole failing rows, in file order, at most sampleSize, as JSON values", async () => {
    const result = await one({ type: "between", column: "score", max: 10 }, { sampleSize: 3 });
    assert.deepEqual(
      result.sampleFailingRows,
      ROWS.filter((r) => r.score > 10)
        .slice(0, 3)
        .map((r) => ({ ...r, ts: r.ts.replace(".000", "") })),
    );
    assert.equal(typeof result.sampleFailingRows[0].id, "number", "BIGINT comes back as a number");
    const all = await one({ type: "matches_regex", column: "code", regex: "^A-" });
    assert.equal(all.sampleFailingRows.length, 4);
    assert.ok(all.sampleFailingRows.every((r) => String(r.code).startsWith("bad")));
    // Passing expectations fetch no samples.
    assert.deepEqual((await one({ type: "between", column: "score", max: 10, mostly: 0.5 })).sampleFailingRows, []);
  });

  test("an unknown column, a wrong type or a bad regex is that expectation's error; the rest still run", async () => {
    const report = await runSuite(data, {
      name: "mixed",
      expectations: [
        { type: "not_null", column: "nope" },
        { type: "matches_regex", column: "code", regex: "(" },
        { type: "mean_between", column: "cat", min: 0 },
        { type: "not_null", column: "ID", severity: "warn" },
        { type: "distribution", column: "score", metric: "psi", threshold: 0.1 },
        { type: "between", column: "score", min: 0, max: 100, id: "score-range" },
      ],
    });
    const [unknown, regex, typed, cased, noRef, fine] = report.results;
    assert.match(unknown.error ?? "", /column "nope" is not in the data set; the columns are id, score, cat, code, dup, ts/);
    assert.match(regex.error ?? "", /invalid regex "\("/);
    assert.match(typed.error ?? "", /mean_between needs a numeric column; "cat" is VARCHAR/);
    assert.match(cased.error ?? "", /did you mean "id"\?/);
    assert.match(noRef.error ?? "", /options\.referenceFile/);
    for (const r of [unknown, regex, typed, cased, noRef]) assert.equal(r.success, false);
    expect(fine, true, 0);
    assert.equal(fine.id, "score-range");
    assert.equal(fine.index, 5);
    assert.equal(report.success, false);
    assert.deepEqual(report.statistics, { evaluated: 6, successful: 1, failedWarn: 1, failedError: 4 });
  });

  test("the report is plain JSON and says when and how long", async () => {
    const report: ValidationReport = await runSuite(
      data,
      {
        name: "all",
        expectations: [
          { type: "not_null", column: "cat", mostly: 0.5 },
          { type: "between", column: "score", max: 10 },
          { type: "freshness", column: "ts", maxAgeSeconds: 1 },
          { type: "row_count_between", min: 1 },
        ],
      },
      { now: new Date(NEWEST) },
    );
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
    assert.equal(report.suite, "all");
    assert.equal(report.rowCount, 100);
    assert.ok(!Number.isNaN(Date.parse(report.startedAt)));
    assert.ok(report.durationMs >= 0);
  });

  test("an invalid suite is refused before any data is read", async () => {
    await assert.rejects(runSuite(tmp.file("missing.parquet"), { name: "", expectations: [] }), InvalidInputError);
  });
});
