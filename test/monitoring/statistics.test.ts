import assert from "node:assert/strict";
import { test } from "node:test";
import {
  chiSquareSurvival,
  compareCategorical,
  compareNumeric,
  kolmogorovSurvival,
  ksTwoSamplePValue,
  radixSortFloat64,
  sortedFinite,
  summarizeReference,
  type CategoricalReference,
  type NumericReference,
} from "../../src/monitoring/drift";
import { normal } from "./data";
import { FIXTURES } from "./fixtures";

/** |actual − expected| ≤ tol · max(1, |expected|) for statistics; p-values are checked relative. */
function close(actual: number, expected: number, tol = 1e-9, what = ""): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}
function closeRel(actual: number, expected: number, rel = 1e-6, what = ""): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: expected ${expected}, got ${actual}`);
}

const numericRef = (values: Float64Array, maxSample?: number) =>
  summarizeReference({ x: values }, { maxSample }).features.x as NumericReference;
const categoricalRef = (values: string[]) => summarizeReference({ x: values }).features.x as CategoricalReference;

/**
 * Reference values: SciPy 1.10.1 on the arrays of fixtures.ts —
 *   ks = stats.ks_2samp(ref, cur)   (method "auto", as Evidently calls it)
 *   w = stats.wasserstein_distance(ref, cur); w / max(np.std(ref), 0.001)
 */
const SCIPY_NUMERIC = {
  ksSmall: { d: 0.13, p: 0.10223791010642781, method: "exact", w: 0.26732923159812555, wNorm: 0.2786142489973773 },
  ksSquare: { d: 0.12, p: 0.026515154829730034, method: "exact", w: 2.2199999999999998, wNorm: 0.22718207036016913 },
  ksLarge: { d: 0.014716666666666656, p: 0.010946394904732214, method: "asymp", w: 0.029448628370714963, wNorm: 0.02964182719258971 },
  ksLopsided: { d: 0.0683333333333333, p: 0.6101651041082758, method: "asymp", w: 0.10517279322360411, wNorm: 0.10174068840309754 },
  wContinuous: { d: 0.1339, p: 3.59225143087973e-35, method: "exact", w: 0.6464505870850481, wNorm: 0.32570157788500875 },
  wTies: { d: 0.2706, p: 2.5729748671823243e-88, method: "exact", w: 3.725693333333333, wNorm: 0.7366108559548948 },
} as const;

for (const [name, expected] of Object.entries(SCIPY_NUMERIC)) {
  test(`KS and Wasserstein equal SciPy on ${name}`, () => {
    const f = FIXTURES[name as keyof typeof SCIPY_NUMERIC];
    const c = compareNumeric("x", numericRef(f.ref), f.cur);
    close(c.ks.statistic, expected.d, 1e-12, "KS D");
    closeRel(c.ks.pValue, expected.p, 1e-6, "KS p");
    assert.equal(c.ks.method, expected.method);
    close(c.wasserstein, expected.w, 1e-9, "W1");
    close(c.wassersteinNorm, expected.wNorm, 1e-9, "W1 normed");
  });
}

test("kstwo.sf and chi2.sf equal SciPy across the methods' regions", () => {
  // scipy.stats.kstwo.sf(x, n): Durbin matrix, Pelz–Good, 2·smirnov and the Ruben–Gambino ends.
  const kstwo: [number, number, number][] = [
    [100, 0.05, 0.9532159710635725],
    [100, 0.1, 0.2526927570063874],
    [100, 0.2, 0.0005551927327988775],
    [100, 0.3, 1.7719869892662917e-8],
    [1000, 0.02, 0.8108971656895577],
    [1000, 0.05, 0.013012074781090332],
    [1000, 0.1, 3.703687096817711e-9],
    [50000, 0.003, 0.7579000443487147],
    [50000, 0.01, 9.018048811843602e-5],
    [250000, 0.002, 0.26964259864783624],
    [250000, 0.005, 7.428069840216574e-6],
    [200, 0.01, 1],
  ];
  for (const [n, x, p] of kstwo) closeRel(kolmogorovSurvival(n, x), p, 1e-6, `kstwo.sf(${x}, ${n})`);
  // scipy.stats.chi2.sf(x, dof)
  closeRel(chiSquareSurvival(3, 1), 0.08326451666355042, 1e-9, "chi2.sf(3, 1)");
  closeRel(chiSquareSurvival(42.625340046963316, 4), 1.2375893316924412e-8, 1e-9, "chi2.sf(42.6, 4)");
  closeRel(chiSquareSurvival(1060.6133571139912, 4), 2.6066400354119246e-228, 1e-9, "chi2.sf(1060.6, 4)");
  assert.equal(chiSquareSurvival(Infinity, 3), 0);
  // Exact two-sample p-values straight from _attempt_exact_2kssamp.
  closeRel(ksTwoSamplePValue(0.1, 500, 700).pValue, 0.0054355536700984135, 1e-9, "exact 500/700");
  closeRel(ksTwoSamplePValue(0.1, 500, 500).pValue, 0.01343088815558133, 1e-9, "exact 500/500");
});

test("chi-square and Jensen–Shannon equal SciPy (Evidently's expected counts, natural log)", () => {
  // chisquare(f_obs=current counts, f_exp=reference counts · n_cur/n_ref); jensenshannon(ref shares, cur shares)
  const expected = {
    cat: { chi: 42.625340046963316, p: 1.2375893316924412e-8, js: 0.08845917933519103 },
    catLarge: { chi: 1060.6133571139912, p: 2.6066400354119246e-228, js: 0.09393756272035961 },
  };
  for (const [name, e] of Object.entries(expected)) {
    const f = FIXTURES[name as keyof typeof expected];
    const c = compareCategorical("x", categoricalRef(f.ref), f.cur);
    close(c.chiSquare.statistic, e.chi, 1e-9, `${name} χ²`);
    closeRel(c.chiSquare.pValue, e.p, 1e-6, `${name} p`);
    assert.equal(c.chiSquare.dof, 4);
    close(c.jensenShannon, e.js, 1e-9, `${name} JS`);
  }
});

test("PSI by hand on a tiny case", () => {
  // Reference 1..10: deciles at 1.9, 2.8, …, 9.1 → one value per bin. Current: five 1s, five 10s.
  const ref = numericRef(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  assert.deepEqual(
    ref.psi.cuts.map((c) => +c.toFixed(10)),
    [1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1],
  );
  assert.deepEqual(ref.psi.counts, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const c = compareNumeric("x", ref, Float64Array.from([1, 1, 1, 1, 1, 10, 10, 10, 10, 10]));
  // Bins 0 and 9: (0.5 − 0.1)·ln(5) each; the eight empty bins: (1e-4 − 0.1)·ln(1e-4/0.1) each.
  const expected = 2 * 0.4 * Math.log(5) + 8 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1);
  close(c.psi, expected, 1e-12, "PSI");
  assert.equal(c.psiBins.length, 10);
  assert.equal(c.psiBins[0].lower, null);
  assert.equal(c.psiBins[9].upper, null);
  // Categorical: a 50/50 reference, current 75/25 plus nothing unseen.
  const cat = compareCategorical("x", categoricalRef(["a", "a", "b", "b"]), ["a", "a", "a", "b"]);
  close(cat.psi, (0.75 - 0.5) * Math.log(0.75 / 0.5) + (0.25 - 0.5) * Math.log(0.25 / 0.5), 1e-12, "categorical PSI");
});

test("the radix sort sorts like a numeric sort, NaN dropped and counted, −0 as 0", () => {
  const x = normal(21, 50_000, 0, 1e6);
  x[10] = NaN;
  x[11] = -0;
  x[12] = -Infinity;
  x[13] = Infinity;
  x[14] = 5e-324;
  const { sorted, missing } = sortedFinite(x);
  assert.equal(missing, 1);
  const expected = Float64Array.from(x.filter((v) => !Number.isNaN(v))).sort();
  assert.equal(sorted.length, expected.length);
  for (let i = 0; i < sorted.length; i++) assert.ok(sorted[i] === expected[i], `index ${i}: ${sorted[i]} vs ${expected[i]}`);
  const ints = normal(22, 10_000, 0, 100, 0);
  const copy = ints.slice();
  radixSortFloat64(copy);
  assert.deepEqual(Array.from(copy), Array.from(ints.slice().sort()));
});

test("a subsampled reference stays within its documented error", () => {
  const f = FIXTURES.wContinuous;
  const exact = compareNumeric("x", numericRef(f.ref), f.cur);
  const k = 500;
  const approx = compareNumeric("x", numericRef(f.ref, k), f.cur);
  const ref = numericRef(f.ref, k);
  assert.equal(ref.exact, false);
  assert.equal(ref.sample.length, k);
  assert.equal(ref.count, 5000);
  assert.ok(Math.abs(approx.ks.statistic - exact.ks.statistic) <= 1 / k, "KS within 1/k");
  assert.ok(Math.abs(approx.wasserstein - exact.wasserstein) <= (ref.max - ref.min) / k, "W1 within (max − min)/k");
  assert.equal(approx.psi, exact.psi); // PSI bins and counts are exact either way
});
