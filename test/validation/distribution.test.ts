import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { kolmogorovSurvival, ksPValue, ksTest, psiCategorical, psiNumeric } from "../../src/validation/distribution";
import { runSuite } from "../../src/validation/run-suite";
import { quantileSorted, tempDir, writeParquet } from "./fixtures";

const tmp = tempDir();

/** A deterministic pseudo-random stream (an LCG), so the samples are the same on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 2 ** 32;
    return s / 2 ** 32;
  };
}

function sample(n: number, seed: number, shift: number, spread: number, nulls = 0): Array<number | null> {
  const r = random(seed);
  // Rounded, so there are ties both within and across the samples (and repeated quantile cuts).
  return Array.from({ length: n }, (_, i) => (i < nulls ? null : Math.round(shift + spread * (r() + r() + r() - 1.5))));
}

const REFERENCE = sample(400, 1, 50, 20, 7);
const CURRENT = sample(300, 2, 56, 26, 3);
const CATS_REF = Array.from({ length: 200 }, (_, i) => ["a", "b", "c", "d"][i % 4 === 3 && i % 8 === 7 ? 3 : i % 3]);
const CATS_CUR = Array.from({ length: 150 }, (_, i) => ["a", "b", "c", "e"][i % 5 === 0 ? 3 : i % 3]);

let refFile = "";
let curFile = "";

before(async () => {
  refFile = await writeParquet(
    tmp.file("ref.parquet"),
    { x: "BIGINT", cat: "VARCHAR" },
    REFERENCE.map((x, i) => ({ x, cat: CATS_REF[i % CATS_REF.length] })),
  );
  curFile = await writeParquet(
    tmp.file("cur.parquet"),
    { x: "BIGINT", cat: "VARCHAR" },
    CURRENT.map((x, i) => ({ x, cat: CATS_CUR[i % CATS_CUR.length] })),
  );
});
after(() => tmp.cleanup());

const present = (xs: Array<number | null>) => xs.filter((x): x is number => x !== null);
const EPS = 1e-4;

/** PSI written out independently of the SQL: reference-quantile bins [cut[i-1], cut[i]), ε for empty bins. */
function jsPsiNumeric(reference: number[], current: number[], bins = 10): { psi: number; counts: Array<[number, number]> } {
  const sorted = [...reference].sort((a, b) => a - b);
  const cuts = [...new Set(Array.from({ length: bins - 1 }, (_, i) => quantileSorted(sorted, (i + 1) / bins)))].sort((a, b) => a - b);
  const binOf = (v: number) => cuts.filter((c) => c <= v).length;
  const counts: Array<[number, number]> = Array.from({ length: cuts.length + 1 }, () => [0, 0]);
  for (const v of reference) counts[binOf(v)][0]++;
  for (const v of current) counts[binOf(v)][1]++;
  let psi = 0;
  for (const [r, c] of counts) {
    const rs = r === 0 ? EPS : r / reference.length;
    const cs = c === 0 ? EPS : c / current.length;
    psi += (cs - rs) * Math.log(cs / rs);
  }
  return { psi, counts };
}

function jsPsiCategorical(reference: string[], current: string[]): number {
  const keys = new Set([...reference, ...current]);
  let psi = 0;
  for (const k of keys) {
    const r = reference.filter((x) => x === k).length;
    const c = current.filter((x) => x === k).length;
    const rs = r === 0 ? EPS : r / reference.length;
    const cs = c === 0 ? EPS : c / current.length;
    psi += (cs - rs) * Math.log(cs / rs);
  }
  return psi;
}

function jsKs(a: number[], b: number[]): number {
  let d = 0;
  for (const x of new Set([...a, ...b])) {
    const fa = a.filter((v) => v <= x).length / a.length;
    const fb = b.filter((v) => v <= x).length / b.length;
    d = Math.max(d, Math.abs(fa - fb));
  }
  return d;
}

const src = (file: string) => `read_parquet(${sqlString(file)})`;
const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe("PSI", () => {
  test("numeric PSI matches a plain computation over the same arrays, bin by bin", async () => {
    const expected = jsPsiNumeric(present(REFERENCE), present(CURRENT));
    const result = await withDuckDb((conn) => psiNumeric(conn, src(curFile), src(refFile), "x"));
    close(result.psi, expected.psi);
    assert.ok(result.psi > 0.1, `the shifted sample drifts: ${result.psi}`);
    assert.deepEqual(
      result.bins.map((b) => [b.referenceCount, b.currentCount]),
      expected.counts,
    );
    assert.equal(result.referenceCount, 393);
    assert.equal(result.currentCount, 297);
    assert.equal(result.bins[0].lower, null);
    assert.equal(result.bins.at(-1)!.upper, null);
  });

  test("a sample against itself has PSI 0", async () => {
    const result = await withDuckDb((conn) => psiNumeric(conn, src(refFile), src(refFile), "x"));
    assert.equal(result.psi, 0);
  });

  test("categorical PSI, with categories present on one side only", async () => {
    const expected = jsPsiCategorical(CATS_REF, CATS_CUR.concat(CATS_CUR).slice(0, 300));
    const result = await withDuckDb((conn) => psiCategorical(conn, src(curFile), src(refFile), "cat"));
    close(result.psi, expected);
    assert.equal(result.binCount, 5);
    const labels = result.bins.map((b) => b.label).sort();
    assert.deepEqual(labels, ["a", "b", "c", "d", "e"]);
    const limited = await withDuckDb((conn) => psiCategorical(conn, src(curFile), src(refFile), "cat", { maxBins: 2 }));
    assert.equal(limited.bins.length, 2);
    close(limited.psi, expected);
  });
});

describe("KS", () => {
  test("the statistic matches a plain computation; the p-value follows the asymptotic distribution", async () => {
    const a = present(CURRENT);
    const b = present(REFERENCE);
    const result = await withDuckDb((conn) => ksTest(conn, src(curFile), src(refFile), "x"));
    close(result.statistic, jsKs(a, b));
    assert.equal(result.currentCount, a.length);
    assert.equal(result.referenceCount, b.length);
    close(result.pValue, ksPValue(result.statistic, a.length, b.length));
    assert.ok(result.pValue < 0.01, `clearly different samples: p = ${result.pValue}`);
  });

  test("the Kolmogorov survival function at known points, continuous where its two series meet", () => {
    close(kolmogorovSurvival(0.5), 0.9639452436648751, 1e-9);
    close(kolmogorovSurvival(1), 0.26999967167735456, 1e-9);
    close(kolmogorovSurvival(1.36), 0.04946, 1e-4);
    close(kolmogorovSurvival(1 - 1e-9), kolmogorovSurvival(1 + 1e-9), 1e-8);
    assert.equal(kolmogorovSurvival(0), 1);
    assert.equal(ksPValue(0, 10, 10), 1);
  });
});

describe("distribution expectations", () => {
  test("pass under the threshold, fail over it, report the metric and details", async () => {
    const psi = jsPsiNumeric(present(REFERENCE), present(CURRENT)).psi;
    const d = jsKs(present(CURRENT), present(REFERENCE));
    const report = await runSuite(
      curFile,
      {
        name: "drift",
        expectations: [
          { type: "distribution", column: "x", metric: "psi", threshold: psi + 0.01 },
          { type: "distribution", column: "x", metric: "psi", threshold: psi - 0.01 },
          { type: "distribution", column: "x", metric: "ks", threshold: d },
          { type: "distribution", column: "x", metric: "ks", threshold: d / 2 },
          { type: "distribution", column: "cat", metric: "psi", threshold: 10 },
          { type: "distribution", column: "cat", metric: "ks", threshold: 10 },
        ],
      },
      { referenceFile: refFile },
    );
    const [psiOk, psiBad, ksOk, ksBad, catOk, catKs] = report.results;
    assert.deepEqual(
      [psiOk.success, psiBad.success, ksOk.success, ksBad.success, catOk.success, catKs.success],
      [true, false, true, false, true, false],
    );
    close(psiOk.observedValue as number, psi);
    close(ksOk.observedValue as number, d);
    assert.equal(typeof ksOk.details?.pValue, "number");
    assert.equal((psiOk.details?.bins as unknown[]).length, jsPsiNumeric(present(REFERENCE), present(CURRENT)).counts.length);
    assert.match(catKs.error ?? "", /ks needs a numeric column/);
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  test("a reference without the column, or without values, is an error result", async () => {
    const other = await writeParquet(tmp.file("other.parquet"), { y: "BIGINT", x: "BIGINT" }, [{ y: 1, x: null }]);
    const report = await runSuite(
      curFile,
      {
        name: "bad-ref",
        expectations: [
          { type: "distribution", column: "cat", metric: "psi", threshold: 1 },
          { type: "distribution", column: "x", metric: "psi", threshold: 1 },
          { type: "distribution", column: "x", metric: "ks", threshold: 1 },
        ],
      },
      { referenceFile: other },
    );
    assert.match(report.results[0].error ?? "", /in the reference: column "cat" is not in the data set/);
    assert.match(report.results[1].error ?? "", /the reference data has no non-null values in column "x"/);
    assert.match(report.results[2].error ?? "", /the reference data has no non-null values in column "x"/);
  });
});
