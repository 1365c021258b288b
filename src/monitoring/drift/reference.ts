/**
 * The reference summary: what drift monitoring keeps of the training data, computed once and
 * stored as JSON, so that no window ever needs the training set again.
 *
 * Numeric features keep exact moments, exact PSI bin edges and counts, an exact equal-width
 * histogram, and a sorted sample for KS and Wasserstein: every value when the reference has at
 * most `maxSample` of them — by default {@link EXACT_REFERENCE_VALUES}, one million — so KS and
 * Wasserstein are exact (the numbers SciPy computes on the full reference). Above that the sample
 * is `maxSample` evenly spaced order statistics (the values at ranks ⌊(i + ½)·N/k⌋), `exact` is
 * false and drift reports say the statistic was sampled: the sample's empirical CDF is within 1/k
 * of the full reference's at every point, so the KS statistic is off by at most 1/k and W1 by at
 * most (max − min)/k; KS p-values use the full count N, but near a decision threshold a shift of
 * 1/k in D can move them by several percent, which is why the default keeps every value.
 * Categorical features keep every category's count: their statistics are always exact.
 */
import { type CategoricalColumn, type Column, DriftInputError, type FeatureKind, isNumericColumn, type NumericColumn } from "./common";
import { sortedFinite } from "./sort";

export const REFERENCE_SUMMARY_VERSION = 1;

/**
 * Reference values per numeric feature up to which the summary keeps every one, so KS and
 * Wasserstein are exact; a larger reference keeps this many order statistics (`exact: false`).
 * A training reference has at most 200,000 rows (monitoring's REFERENCE_MAX_ROWS), so it is
 * always exact; a larger limit only costs storage (about 20 bytes of JSON per value).
 */
export const EXACT_REFERENCE_VALUES = 1_000_000;

export interface NumericReference {
  kind: "numeric";
  /** Non-missing values. */
  count: number;
  missing: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation (numpy's np.std, ddof = 0), the Wasserstein norm. */
  std: number;
  /** Ascending; every value when `exact`, else evenly spaced order statistics. */
  sample: number[];
  exact: boolean;
  /** PSI bins: cut points at the reference's quantiles 1/k … (k−1)/k (linear interpolation), duplicates merged;
   * bin i holds cuts[i−1] ≤ v < cuts[i]; counts has cuts.length + 1 entries. */
  psi: { cuts: number[]; counts: number[] };
  /** Equal-width histogram over [min, max] for plots (edges has counts.length + 1 entries). */
  histogram: { edges: number[]; counts: number[] };
}

export interface CategoricalReference {
  kind: "categorical";
  count: number;
  missing: number;
  /** Every category (as text) and its count, most frequent first. */
  categories: string[];
  counts: number[];
}

export type FeatureReference = NumericReference | CategoricalReference;

export interface ReferenceSummary {
  version: typeof REFERENCE_SUMMARY_VERSION;
  rows: number;
  features: Record<string, FeatureReference>;
  /** The model's prediction column, summarized like a feature but reported apart. */
  prediction?: string;
}

export interface SummaryOptions {
  /** Kinds by column; by default Float64Array/Float32Array are numeric and anything else categorical. */
  kinds?: Record<string, FeatureKind>;
  /** Which column holds the prediction. */
  prediction?: string;
  /** Values kept per numeric feature; above it KS and Wasserstein are computed on a sample. @default EXACT_REFERENCE_VALUES */
  maxSample?: number;
  /** PSI quantile bins. @default 10 */
  psiBins?: number;
  /** Histogram bins for plots. @default 20 */
  histogramBins?: number;
}

/** Summarizes training data (columns of equal length) into a JSON-serializable reference. */
export function summarizeReference(columns: Record<string, Column>, options: SummaryOptions = {}): ReferenceSummary {
  const names = Object.keys(columns);
  if (names.length === 0) throw new DriftInputError("columns", "the reference has no columns");
  const rows = columns[names[0]].length;
  const maxSample = options.maxSample ?? EXACT_REFERENCE_VALUES;
  const psiBins = options.psiBins ?? 10;
  const histogramBins = options.histogramBins ?? 20;
  if (!(Number.isInteger(maxSample) && maxSample >= 2)) throw new DriftInputError("maxSample", `must be an integer ≥ 2, got ${maxSample}`);
  if (!(Number.isInteger(psiBins) && psiBins >= 2)) throw new DriftInputError("psiBins", `must be an integer ≥ 2, got ${psiBins}`);
  if (!(Number.isInteger(histogramBins) && histogramBins >= 1))
    throw new DriftInputError("histogramBins", `must be an integer ≥ 1, got ${histogramBins}`);
  if (options.prediction !== undefined && !(options.prediction in columns)) {
    throw new DriftInputError("prediction", `column ${JSON.stringify(options.prediction)} is not among the reference columns`);
  }
  for (const name of Object.keys(options.kinds ?? {})) {
    if (!(name in columns)) throw new DriftInputError(`kinds.${name}`, "not a reference column");
  }
  const features: Record<string, FeatureReference> = {};
  for (const name of names) {
    const column = columns[name];
    if (column.length !== rows) throw new DriftInputError(name, `the reference column has ${column.length} rows, expected ${rows}`);
    const kind = options.kinds?.[name] ?? (isNumericColumn(column) ? "numeric" : "categorical");
    if (kind === "numeric") {
      if (!isNumericColumn(column)) throw new DriftInputError(name, "the reference column is numeric but not a Float64Array/Float32Array");
      features[name] = summarizeNumeric(name, column, maxSample, psiBins, histogramBins);
    } else if (kind === "categorical") {
      features[name] = summarizeCategorical(name, column);
    } else throw new DriftInputError(`kinds.${name}`, `${JSON.stringify(kind)}: expected "numeric" or "categorical"`);
  }
  return { version: REFERENCE_SUMMARY_VERSION, rows, features, ...(options.prediction ? { prediction: options.prediction } : {}) };
}

/** numpy.quantile's default (linear interpolation between order statistics), as DuckDB's quantile_cont. */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function summarizeNumeric(
  name: string,
  column: NumericColumn,
  maxSample: number,
  psiBins: number,
  histogramBins: number,
): NumericReference {
  const { sorted, missing } = sortedFinite(column);
  const count = sorted.length;
  if (count === 0) throw new DriftInputError(name, "the reference column has no non-missing values");
  for (const v of [sorted[0], sorted[count - 1]]) {
    if (!Number.isFinite(v)) throw new DriftInputError(name, `the reference column holds ${v}: values must be finite or NaN (missing)`);
  }
  let mean = 0;
  for (let i = 0; i < count; i++) mean += sorted[i];
  mean /= count;
  let ss = 0;
  for (let i = 0; i < count; i++) ss += (sorted[i] - mean) ** 2;
  const std = Math.sqrt(ss / count);

  const cuts = [...new Set(Array.from({ length: psiBins - 1 }, (_, i) => quantileSorted(sorted, (i + 1) / psiBins)))].sort((a, b) => a - b);
  const psiCounts = new Array<number>(cuts.length + 1).fill(0);
  // Bin i holds cuts[i-1] <= v < cuts[i]: count by walking the sorted values once.
  let bin = 0;
  for (let i = 0; i < count; i++) {
    while (bin < cuts.length && sorted[i] >= cuts[bin]) bin++;
    psiCounts[bin]++;
  }

  const min = sorted[0];
  const max = sorted[count - 1];
  const bins = max > min ? histogramBins : 1;
  const width = (max - min) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? max : min + i * width));
  const hist = new Array<number>(bins).fill(0);
  for (let i = 0; i < count; i++) hist[width > 0 ? Math.min(bins - 1, Math.floor((sorted[i] - min) / width)) : 0]++;

  let sample: number[];
  const exact = count <= maxSample;
  if (exact) sample = Array.from(sorted);
  else {
    sample = new Array<number>(maxSample);
    for (let i = 0; i < maxSample; i++) sample[i] = sorted[Math.floor(((i + 0.5) * count) / maxSample)];
  }
  return {
    kind: "numeric",
    count,
    missing,
    min,
    max,
    mean,
    std,
    sample,
    exact,
    psi: { cuts, counts: psiCounts },
    histogram: { edges, counts: hist },
  };
}

/** Counts per category as text (the code 3 and the string "3" are one category); null, undefined and NaN are missing. */
export function countCategories(column: CategoricalColumn): { counts: Map<string, number>; missing: number } {
  const raw = new Map<string | number, number>();
  let missing = 0;
  for (let i = 0; i < column.length; i++) {
    const v = column[i];
    if (v === null || v === undefined || (typeof v === "number" && v !== v)) missing++;
    else raw.set(v, (raw.get(v) ?? 0) + 1);
  }
  const counts = new Map<string, number>();
  for (const [k, c] of raw) {
    const key = String(k);
    counts.set(key, (counts.get(key) ?? 0) + c);
  }
  return { counts, missing };
}

function summarizeCategorical(name: string, column: CategoricalColumn): CategoricalReference {
  const { counts, missing } = countCategories(column);
  const count = column.length - missing;
  if (count === 0) throw new DriftInputError(name, "the reference column has no non-missing values");
  const entries = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return { kind: "categorical", count, missing, categories: entries.map((e) => e[0]), counts: entries.map((e) => e[1]) };
}

/**
 * Checks a summary read back from storage (JSON) before any statistic trusts it; the message
 * names the feature and field that is wrong.
 */
export function parseReferenceSummary(value: unknown): ReferenceSummary {
  const fail = (what: string): never => {
    throw new DriftInputError("summary", what);
  };
  if (typeof value !== "object" || value === null) fail("not an object");
  const s = value as Partial<ReferenceSummary>;
  if (s.version !== REFERENCE_SUMMARY_VERSION) fail(`version ${JSON.stringify(s.version)}, expected ${REFERENCE_SUMMARY_VERSION}`);
  if (typeof s.features !== "object" || s.features === null) fail("features is missing");
  const isNums = (a: unknown): a is number[] => Array.isArray(a) && a.every((x) => typeof x === "number");
  for (const [name, f] of Object.entries(s.features!)) {
    const at = `feature ${JSON.stringify(name)}`;
    if (typeof f !== "object" || f === null) fail(`${at} is not an object`);
    if (!(typeof f.count === "number" && f.count > 0)) fail(`${at}: count must be a positive number`);
    if (f.kind === "numeric") {
      if (!isNums(f.sample) || f.sample.length === 0) fail(`${at}: sample must be a non-empty array of numbers`);
      for (let i = 1; i < f.sample.length; i++) if (f.sample[i] < f.sample[i - 1]) fail(`${at}: sample is not sorted at index ${i}`);
      if (!isNums(f.psi?.cuts) || !isNums(f.psi?.counts) || f.psi.counts.length !== f.psi.cuts.length + 1)
        fail(`${at}: psi must hold cuts and cuts.length + 1 counts`);
      if (!isNums(f.histogram?.edges) || !isNums(f.histogram?.counts) || f.histogram.edges.length !== f.histogram.counts.length + 1) {
        fail(`${at}: histogram must hold counts and counts.length + 1 edges`);
      }
      for (const k of ["min", "max", "mean", "std"] as const) if (!Number.isFinite(f[k])) fail(`${at}: ${k} must be a finite number`);
    } else if (f.kind === "categorical") {
      if (!Array.isArray(f.categories) || !isNums(f.counts) || f.categories.length !== f.counts.length)
        fail(`${at}: categories and counts must be arrays of one length`);
    } else fail(`${at}: kind ${JSON.stringify((f as { kind?: unknown }).kind)}, expected "numeric" or "categorical"`);
  }
  if (s.prediction !== undefined && !(s.prediction in s.features!))
    fail(`prediction ${JSON.stringify(s.prediction)} is not among the features`);
  return s as ReferenceSummary;
}
