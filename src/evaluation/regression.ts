import {
  checkFinite,
  checkSameLength,
  defined,
  emptyMetricSet,
  FLOAT64_EPS,
  type Labels,
  type Metric,
  type MetricSet,
  put,
  undefinedMetric,
} from "./common";

/** Regression metrics with scikit-learn's definitions. */

function check(yTrue: Labels, yPred: Float64Array): void {
  checkSameLength("yPred", yTrue.length, yPred.length);
  checkFinite(yPred, "yPred");
  if (yTrue instanceof Float64Array) checkFinite(yTrue, "yTrue");
}

/** sqrt(mean_squared_error). */
export function rmse(yTrue: Labels, yPred: Float64Array): Metric {
  check(yTrue, yPred);
  if (yTrue.length === 0) return undefinedMetric("no rows");
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += (yTrue[i] - yPred[i]) ** 2;
  return defined(Math.sqrt(sum / yTrue.length));
}

export function mae(yTrue: Labels, yPred: Float64Array): Metric {
  check(yTrue, yPred);
  if (yTrue.length === 0) return undefinedMetric("no rows");
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += Math.abs(yTrue[i] - yPred[i]);
  return defined(sum / yTrue.length);
}

/**
 * sklearn's r2_score = 1 − SS_res / SS_tot. With a constant yTrue (SS_tot = 0) sklearn's default
 * force_finite=True gives 1.0 for a perfect fit and 0.0 otherwise; kept, so a stored value equals
 * what a data scientist gets in a notebook. Fewer than two rows: null, as sklearn returns NaN.
 */
export function r2(yTrue: Labels, yPred: Float64Array): Metric {
  check(yTrue, yPred);
  const n = yTrue.length;
  if (n < 2) return undefinedMetric("R² needs at least two rows");
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i];
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (yTrue[i] - yPred[i]) ** 2;
    ssTot += (yTrue[i] - mean) ** 2;
  }
  if (ssTot === 0) return defined(ssRes === 0 ? 1 : 0);
  return defined(1 - ssRes / ssTot);
}

/**
 * sklearn's mean_absolute_percentage_error: mean |y − ŷ| / max(|y|, eps), eps the float64
 * epsilon. A zero target therefore yields an enormous (but finite) value rather than Infinity,
 * exactly as sklearn; `mape_zero_targets` in the report says when that happened.
 */
export function mape(yTrue: Labels, yPred: Float64Array): Metric {
  check(yTrue, yPred);
  if (yTrue.length === 0) return undefinedMetric("no rows");
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += Math.abs(yTrue[i] - yPred[i]) / Math.max(Math.abs(yTrue[i]), FLOAT64_EPS);
  return defined(sum / yTrue.length);
}

export interface ResidualHistogram {
  /** Bin edges, length bins + 1; residual = yPred − yTrue. */
  edges: number[];
  counts: number[];
}

/** A fixed-width histogram of residuals for plotting; a single bin when every residual is equal. */
export function residualHistogram(yTrue: Labels, yPred: Float64Array, bins = 20): ResidualHistogram {
  check(yTrue, yPred);
  if (yTrue.length === 0) return { edges: [], counts: [] };
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < yTrue.length; i++) {
    const r = yPred[i] - yTrue[i];
    if (r < lo) lo = r;
    if (r > hi) hi = r;
  }
  if (lo === hi) return { edges: [lo, hi], counts: [yTrue.length] };
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < yTrue.length; i++) counts[Math.min(bins - 1, Math.floor((yPred[i] - yTrue[i] - lo) / width))]++;
  return { edges: Array.from({ length: bins + 1 }, (_, b) => (b === bins ? hi : lo + b * width)), counts };
}

export function evaluateRegression(yTrue: Labels, yPred: Float64Array): MetricSet {
  const metrics = emptyMetricSet();
  put(metrics, "rmse", rmse(yTrue, yPred));
  put(metrics, "mae", mae(yTrue, yPred));
  put(metrics, "r2", r2(yTrue, yPred));
  put(metrics, "mape", mape(yTrue, yPred));
  let zeros = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === 0) zeros++;
  put(metrics, "mape_zero_targets", defined(zeros));
  return metrics;
}
