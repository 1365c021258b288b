import assert from "node:assert/strict";
import { test } from "node:test";
import { DriftInputError, driftReport, parseReferenceSummary, summarizeReference } from "../../src/monitoring/drift";
import { ErrorCode, InvalidInputError } from "../../src/kernel/errors";
import { categories, normal } from "./data";
import { assertNames } from "../helpers/names";

const W = { a: 40, b: 30, c: 20, d: 10 };

function reference(n: number) {
  return summarizeReference(
    { x: normal(1, n), y: normal(2, n, 5, 2), z: normal(3, n, 0, 1, 0), city: categories(40, n, W), score: normal(5, n, 0.3, 0.1) },
    { prediction: "score" },
  );
}
const window = (n: number, seed: number, shift = 0) => ({
  x: normal(seed, n, shift),
  y: normal(seed + 1, n, 5 + shift * 2, 2),
  z: normal(seed + 2, n, 0, 1, 0),
  city: categories(seed + 3, n, shift ? { a: 20, b: 30, c: 20, d: 30 } : W),
  score: normal(seed + 4, n, 0.3 + shift * 0.1, 0.1),
});

test("a small reference gets KS and chi-square; a large one Wasserstein and Jensen–Shannon", () => {
  const small = driftReport(reference(800), window(600, 100));
  assert.deepEqual(
    small.features.map((f) => [f.feature, f.method, f.threshold]),
    [
      ["x", "ks", 0.05],
      ["y", "ks", 0.05],
      ["z", "ks", 0.05],
      ["city", "chisquare", 0.05],
    ],
  );
  assert.ok(small.features.every((f) => f.pValue !== undefined && f.score === f.pValue));
  const large = driftReport(reference(5000), window(3000, 200));
  assert.deepEqual(
    large.features.map((f) => [f.feature, f.method, f.threshold]),
    [
      ["x", "wasserstein", 0.1],
      ["y", "wasserstein", 0.1],
      ["z", "wasserstein", 0.1],
      ["city", "jensenshannon", 0.1],
    ],
  );
  assert.ok(large.features.every((f) => f.pValue === undefined && f.score === f.statistic));
  // The 1,000 boundary is inclusive, as Evidently's `<= 1000`.
  assert.equal(driftReport(reference(1000), window(500, 300)).features[0].method, "ks");
  assert.equal(driftReport(reference(1001), window(500, 300)).features[0].method, "wasserstein");
});

// Chi-square takes the reference frequencies as exact expectations (as Evidently does), so a small
// reference's own sampling noise shows up as drift more often than 5 % of the time; the seeds here
// give a reference close to its weights.
test("a shifted window drifts; an unshifted control from another seed does not", () => {
  for (const n of [800, 5000]) {
    const ref = reference(n);
    const control = driftReport(ref, window(2000, 1000 + n));
    assert.equal(control.driftedCount, 0, `control at ${n}: ${JSON.stringify(control.features.map((f) => [f.feature, f.score]))}`);
    assert.equal(control.datasetDrift, false);
    assert.ok(control.features.every((f) => f.psiLevel === "ok"));
    assert.equal(control.prediction?.drifted, false);
    const shifted = driftReport(ref, window(2000, 2000 + n, 1));
    assert.deepEqual(
      shifted.features.map((f) => [f.feature, f.drifted]),
      [
        ["x", true],
        ["y", true],
        ["z", false],
        ["city", true],
      ],
    );
    assert.equal(shifted.driftedShare, 0.75);
    assert.equal(shifted.datasetDrift, true);
    assert.equal(shifted.features[0].psiLevel, "alert");
    assert.equal(shifted.prediction?.feature, "score");
    assert.equal(shifted.prediction?.drifted, true);
    assert.equal(shifted.featureCount, 4); // the prediction is reported apart
  }
});

test("dataset drift starts at 50 % of the features; overrides change method and threshold", () => {
  const ref = reference(5000);
  const cur = { ...window(2000, 50), x: normal(51, 2000, 1) };
  const oneOfFour = driftReport(ref, cur);
  assert.equal(oneOfFour.driftedShare, 0.25);
  assert.equal(oneOfFour.datasetDrift, false);
  const twoOfFour = driftReport(ref, { ...cur, z: normal(52, 2000, 1, 1, 0) });
  assert.equal(twoOfFour.driftedShare, 0.5);
  assert.equal(twoOfFour.datasetDrift, true);
  assert.equal(driftReport(ref, cur, { driftShare: 0.2 }).datasetDrift, true);

  const o = driftReport(ref, cur, { features: { x: { method: "ks" }, y: { threshold: 0 }, city: { method: "psi", threshold: 0.5 } } });
  const [x, y, , city] = o.features;
  assert.equal(x.method, "ks");
  assert.equal(x.threshold, 0.05);
  assert.ok(x.pValue! < 1e-10 && x.drifted);
  assert.equal(y.method, "wasserstein");
  assert.equal(y.drifted, true); // any distance ≥ 0
  assert.equal(city.method, "psi");
  assert.equal(city.statistic, city.psi);
  assert.equal(city.drifted, false);
});

test("missing values are excluded and counted; out-of-range and unseen categories are data quality", () => {
  const ref = summarizeReference({ v: Float64Array.from([1, 2, 3, NaN, 4, 5]), c: ["a", "b", null, "a", "b", undefined] });
  assert.equal(ref.features.v.count, 5);
  assert.equal(ref.features.v.missing, 1);
  assert.equal(ref.features.c.missing, 2);
  const r = driftReport(ref, {
    v: Float32Array.from([NaN, 0, 2, 3, 9, NaN, 4, 5]),
    c: ["a", "z", "z", "y", null, "a", "b", NaN as unknown as string],
  });
  const [v, c] = r.features;
  assert.equal(v.nullShare, 2 / 8);
  assert.equal(v.referenceNullShare, 1 / 6);
  assert.equal(v.currentCount, 6);
  assert.equal(v.outOfRangeShare, 2 / 6); // 0 and 9
  assert.equal(v.numeric!.histogram.currentBelow, 1);
  assert.equal(v.numeric!.histogram.currentAbove, 1);
  assert.equal(c.nullShare, 2 / 8);
  assert.equal(c.unseenShare, 3 / 6);
  assert.deepEqual(c.unseenValues, [
    { value: "z", count: 2 },
    { value: "y", count: 1 },
  ]);
  assert.equal(c.categorical!.chiSquare.statistic, Infinity); // expected count 0, as SciPy
  assert.equal(c.pValue, 0);
  assert.equal(c.drifted, true);
  // Integer codes and their text are one category.
  const codes = summarizeReference({ k: Int32Array.from([1, 1, 2, 3]) });
  assert.deepEqual(codes.features.k.kind, "categorical");
  assert.equal(driftReport(codes, { k: ["1", "1", "2", "3"] }).features[0].psi, 0);
});

test("the summary survives JSON and gives the same report", () => {
  const ref = reference(3000);
  const cur = window(1000, 77, 1);
  const back = parseReferenceSummary(JSON.parse(JSON.stringify(ref)));
  assert.deepEqual(JSON.parse(JSON.stringify(driftReport(back, cur))), JSON.parse(JSON.stringify(driftReport(ref, cur))));
});

test("empty windows and bad input are refused with the feature and the problem named", () => {
  const ref = reference(500);
  const ok = window(100, 9);
  // A refusal is a BAD_USER_INPUT error whose problem's field is the feature or option at fault.
  const err = (fn: () => unknown, field: string, ...names: string[]) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof DriftInputError && e instanceof InvalidInputError, String(e));
      assert.equal(e.code, ErrorCode.BAD_USER_INPUT);
      assert.deepEqual(
        e.problems.map((p) => p.field),
        [field],
      );
      assertNames(e.message, field, ...names);
      return true;
    });
  err(
    () =>
      driftReport(ref, {
        ...ok,
        x: new Float64Array(0),
        y: new Float64Array(0),
        z: new Float64Array(0),
        city: [],
        score: new Float64Array(0),
      }),
    "x",
    "empty",
  );
  err(() => driftReport(ref, { ...ok, y: new Float64Array(100).fill(NaN) }), "y", "missing");
  err(() => driftReport(ref, { ...ok, city: new Array(100).fill(null) }), "city", "missing");
  const { z: _z, ...withoutZ } = ok;
  err(() => driftReport(ref, withoutZ), "z", "column");
  err(() => driftReport(ref, { ...ok, x: Array.from(ok.x) as unknown as Float64Array }), "x", "numeric", "Float64Array");
  err(() => driftReport(ref, { ...ok, city: new Float64Array(100) }), "city", "categorical");
  err(() => driftReport(ref, { ...ok, score: new Float64Array(99) }), "score", "99", "100");
  err(() => driftReport(ref, ok, { driftShare: 0 }), "driftShare", "0");
  err(() => driftReport(ref, ok, { psiLevels: { warn: 0.3, alert: 0.2 } }), "psiLevels", "0.3", "0.2");
  err(() => driftReport(ref, ok, { features: { nope: { method: "ks" } } }), "features.nope");
  err(() => driftReport(ref, ok, { features: { city: { method: "ks" } } }), "features.city.method", "ks", "categorical");
  err(() => driftReport(ref, ok, { features: { x: { threshold: -1 } } }), "features.x.threshold", "-1");
  err(() => summarizeReference({ x: Float64Array.from([NaN, NaN]) }), "x", "missing");
  err(() => summarizeReference({ x: Float64Array.from([1, Infinity]) }), "x", "Infinity");
  err(() => summarizeReference({ x: new Float64Array(3), y: new Float64Array(2) }), "y", "2", "3");
  err(() => summarizeReference({ x: new Float64Array(3) }, { prediction: "p" }), "prediction", "p");
  err(
    () => parseReferenceSummary({ version: 1, rows: 1, features: { x: { kind: "numeric", count: 2, sample: [2, 1] } } }),
    "summary",
    "x",
    "sample",
    "1",
  );
  err(() => parseReferenceSummary({ version: 2, features: {} }), "summary", "version", "2", "1");
});
