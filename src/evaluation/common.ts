/**
 * Shared pieces of the evaluation core: input types, the "undefined metric" convention and
 * input checks. Everything in src/evaluation is pure (no I/O, no database) so that it can run
 * inside a stage runner, a test, or a benchmark alike.
 */

// Lives with the registry (below evaluation): a model version stores the same flat metrics.
export { finiteMetrics } from "../registry/metrics";

/** Ground-truth labels: class indices (0/1 for binary) or, for regression, real values. */
export type Labels = Int32Array | Float64Array;

/**
 * A metric that may not exist for the data (ROC AUC with a single class, precision with no
 * predicted positives, ...). `null` rather than NaN because NaN does not survive JSON and hides
 * *why*; the reason travels alongside.
 */
export type Metric = { value: number; reason?: undefined } | { value: null; reason: string };

export function defined(value: number): Metric {
  return { value };
}

export function undefinedMetric(reason: string): Metric {
  return { value: null, reason };
}

/** Metrics as stored in a report: name → value, with the reasons for the null ones kept apart. */
export interface MetricSet {
  values: Record<string, number | null>;
  /** name → why the metric is null. */
  undefinedReasons: Record<string, string>;
}

export function emptyMetricSet(): MetricSet {
  return { values: {}, undefinedReasons: {} };
}

export function put(set: MetricSet, name: string, metric: Metric): void {
  set.values[name] = metric.value;
  if (metric.value === null) set.undefinedReasons[name] = metric.reason;
}

/** float64 machine epsilon, np.finfo(np.float64).eps: sklearn's clip for log_loss and MAPE's floor. */
export const FLOAT64_EPS = 2.220446049250313e-16;

export class EvaluationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EvaluationInputError";
  }
}

export function checkSameLength(what: string, expected: number, actual: number): void {
  if (expected !== actual) throw new EvaluationInputError(`${what} has ${actual} rows, expected ${expected}`);
}

/** Binary labels must be exactly 0 or 1: anything else is a caller bug worth stopping on. */
export function checkBinaryLabels(yTrue: Labels, what = "yTrue"): void {
  for (let i = 0; i < yTrue.length; i++) {
    const v = yTrue[i];
    if (v !== 0 && v !== 1) throw new EvaluationInputError(`${what}[${i}] = ${v}: binary labels must be 0 or 1`);
  }
}

/** Scores with NaN would sort arbitrarily and poison every sum; sklearn refuses them too. */
export function checkFinite(values: Float64Array, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new EvaluationInputError(`${what}[${i}] = ${values[i]} is not finite`);
  }
}

export function checkProbabilities(values: Float64Array, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 1)) throw new EvaluationInputError(`${what}[${i}] = ${v} is not a probability in [0, 1]`);
  }
}

/** Rows `indices` of a column, same array type: how slices reuse the whole-set metric code. */
export function take<T extends Int32Array | Float64Array>(values: T, indices: Int32Array): T {
  const out = new (values.constructor as { new (n: number): T })(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]];
  return out;
}

/** Rows `indices` of a row-major [n × k] matrix. */
export function takeRows(values: Float64Array, k: number, indices: Int32Array): Float64Array {
  const out = new Float64Array(indices.length * k);
  for (let i = 0; i < indices.length; i++) out.set(values.subarray(indices[i] * k, indices[i] * k + k), i * k);
  return out;
}
