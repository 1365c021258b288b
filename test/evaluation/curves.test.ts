import assert from "node:assert/strict";
import { test } from "node:test";
import { binaryCurve, calibrationCurve, downsample, prPoints, rocPoints, sortFloat64 } from "../../src/evaluation/curves";

const i32 = (a: number[]) => Int32Array.from(a);
const f64 = (a: number[]) => Float64Array.from(a);

test("ROC points of the sklearn example match roc_curve (without its +inf threshold)", () => {
  // roc_curve([0,0,1,1],[0.1,0.4,0.35,0.8]): fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1], thresholds [inf, .8, .4, .35, .1].
  const roc = rocPoints(binaryCurve(i32([0, 0, 1, 1]), f64([0.1, 0.4, 0.35, 0.8])));
  assert.ok(roc);
  assert.deepEqual(
    roc.points.map((p) => [p.x, p.y, p.threshold]),
    [
      [0, 0, null],
      [0, 0.5, 0.8],
      [0.5, 0.5, 0.4],
      [0.5, 1, 0.35],
      [1, 1, 0.1],
    ],
  );
});

test("PR points start at (recall 0, precision 1) and follow falling thresholds", () => {
  const pr = prPoints(binaryCurve(i32([0, 0, 1, 1]), f64([0.1, 0.4, 0.35, 0.8])));
  assert.ok(pr);
  assert.deepEqual(
    pr.points.map((p) => [p.x, p.y]),
    [
      [0, 1],
      [0.5, 1],
      [0.5, 0.5],
      [1, 2 / 3],
      [1, 0.5],
    ],
  );
  assert.equal(prPoints(binaryCurve(i32([0, 0]), f64([0.1, 0.2]))), null);
});

test("large curves are cut to 200 points, endpoints kept, collinear runs dropped first", () => {
  const n = 50_000;
  const y = new Int32Array(n);
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s[i] = i / n;
    y[i] = (i * 7919) % 10 < 3 + (i * 5) / n ? 1 : 0;
  }
  const curve = binaryCurve(y, s);
  const roc = rocPoints(curve)!;
  assert.ok(roc.points.length <= 200);
  assert.deepEqual([roc.points[0].x, roc.points[0].y], [0, 0]);
  assert.deepEqual([roc.points.at(-1)!.x, roc.points.at(-1)!.y], [1, 1]);
  assert.equal(roc.fullLength, n + 1);
  const pr = prPoints(curve)!;
  assert.equal(pr.points.length, 200);
  assert.equal(pr.points.at(-1)!.x, 1);
  // A perfectly separating model: the ROC is two segments, so three points survive pruning.
  const perfect = rocPoints(binaryCurve(i32([0, 0, 0, 1, 1, 1]), f64([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])))!;
  assert.deepEqual(
    perfect.points.map((p) => [p.x, p.y]),
    [
      [0, 0],
      [0, 1],
      [1, 1],
    ],
  );
  assert.deepEqual(downsample([1, 2, 3, 4, 5], 3), [1, 3, 5]);
});

test("calibration_curve: the sklearn docs example with n_bins=3", () => {
  // calibration_curve(y_true, y_pred, n_bins=3) → prob_true [0, 0.5, 1], prob_pred [0.2, 0.525, 0.85].
  const c = calibrationCurve(i32([0, 0, 0, 0, 1, 1, 1, 1, 1]), f64([0.1, 0.2, 0.3, 0.4, 0.65, 0.7, 0.8, 0.9, 1]), 3);
  assert.deepEqual(
    c.bins.map((b) => b.fractionPositive),
    [0, 0.5, 1],
  );
  const pred = c.bins.map((b) => b.meanPredicted);
  [0.2, 0.525, 0.85].forEach((v, k) => assert.ok(Math.abs(pred[k] - v) < 1e-12));
  assert.deepEqual(
    c.bins.map((b) => b.count),
    [3, 2, 4],
  );
});

test("calibration bins use linspace's float edges and skip empty bins", () => {
  // Edges are k·0.1: 0.2 is an edge exactly (→ lower bin 1), 0.7 sits below 7·0.1 = 0.7000000000000001 (→ bin 6),
  // 0.1 → bin 0, 1.0 → bin 9. Everything else empty and left out, as sklearn does.
  const c = calibrationCurve(i32([0, 1, 1, 0]), f64([0.1, 0.2, 0.7, 1]));
  assert.deepEqual(
    c.bins.map((b) => [b.lower, b.count]),
    [
      [0, 1],
      [0.1, 1],
      [0.6000000000000001, 1],
      [0.9, 1],
    ],
  );
  assert.equal(c.bins.length, 4);
});

test("the radix sort agrees with the built-in sort: negatives, ±0, duplicates, subarrays", () => {
  let seed = 11;
  const rnd = () => {
    seed = (seed * 1664525 + 1013904223) % 2 ** 32;
    return seed / 2 ** 32;
  };
  for (const n of [0, 5, 1023, 1024, 5000]) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = rnd();
      v[i] = r < 0.1 ? 0 : r < 0.2 ? -0 : r < 0.4 ? Math.round(r * 8) / 8 : (r - 0.6) * 1e6 * rnd();
    }
    const expected = Float64Array.from(v).sort();
    const actual = Float64Array.from(v);
    sortFloat64(actual);
    assert.deepEqual(
      [...actual].map((x) => (x === 0 ? 0 : x)),
      [...expected].map((x) => (x === 0 ? 0 : x)),
    );
  }
  // A view into a larger buffer: only its own range is sorted.
  const big = Float64Array.from({ length: 3000 }, (_, i) => 3000 - i);
  sortFloat64(big.subarray(1000, 2500));
  assert.deepEqual([big[999], big[1000], big[2499], big[2500]], [2001, 501, 2000, 500]);
});
