import assert from "node:assert/strict";
import { test } from "node:test";
import { FLOAT64_EPS } from "../../src/evaluation/common";
import { evaluateRegression, mae, mape, r2, residualHistogram, rmse } from "../../src/evaluation/regression";

const f64 = (a: number[]) => Float64Array.from(a);

function close(actual: number | null, expected: number, tol = 1e-12): void {
  assert.ok(actual !== null, `expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `expected ${expected}, got ${actual}`);
}

test("the sklearn docs example y=[3,-0.5,2,7], ŷ=[2.5,0,2,8]", () => {
  const y = f64([3, -0.5, 2, 7]);
  const p = f64([2.5, 0.0, 2, 8]);
  close(rmse(y, p).value, Math.sqrt(0.375)); // mean_squared_error = 0.375
  close(mae(y, p).value, 0.5);
  close(r2(y, p).value, 0.9486081370449679); // r2_score docstring
  close(mape(y, p).value, 0.3273809523809524); // mean_absolute_percentage_error docstring: (.5/3 + .5/.5 + 0 + 1/7) / 4
});

test("MAPE with zero targets divides by float64 eps, as sklearn", () => {
  // y=[0,1], ŷ=[1,1]: (1/eps + 0) / 2 = 2^52 / 2, exactly.
  assert.equal(mape(f64([0, 1]), f64([1, 1])).value, 1 / FLOAT64_EPS / 2);
  // The docstring's example: mean_absolute_percentage_error([1, 0, 2.4, 7], [1.2, 0.1, 2.4, 8]) = 112589990684262.48.
  close(mape(f64([1, 0, 2.4, 7]), f64([1.2, 0.1, 2.4, 8])).value, 112589990684262.48);
  const m = evaluateRegression(f64([1, 0, 0]), f64([1, 0, 1]));
  assert.equal(m.values.mape_zero_targets, 2);
});

test("R² edge cases follow sklearn's force_finite", () => {
  assert.equal(r2(f64([1, 1]), f64([1, 1])).value, 1); // constant target, perfect fit
  assert.equal(r2(f64([1, 1]), f64([1, 2])).value, 0); // constant target, imperfect fit
  assert.equal(r2(f64([1]), f64([1])).value, null); // sklearn: NaN with a warning
  close(r2(f64([1, 2, 3]), f64([3, 2, 1])).value, -3); // 1 − 8/2
  assert.equal(rmse(f64([]), f64([])).reason, "no rows");
});

test("residual histogram", () => {
  const h = residualHistogram(f64([0, 0, 0, 0]), f64([-1, 0, 0.5, 1]), 4);
  assert.deepEqual(h.edges, [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(h.counts, [1, 0, 1, 2]);
  assert.deepEqual(residualHistogram(f64([1, 2]), f64([2, 3])), { edges: [1, 1], counts: [2] });
});
