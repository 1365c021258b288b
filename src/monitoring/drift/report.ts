/**
 * driftReport(): every feature of a stored reference summary against one window, with
 * Evidently's default choice of test, per-feature overrides, PSI levels alongside, data quality,
 * prediction drift, and the dataset verdict.
 *
 * Defaults (Evidently's get_default_stattest, simplified to the feature's declared kind):
 * - numeric: KS when the reference has ≤ 1,000 values (drift when p < 0.05), else the normed
 *   Wasserstein distance (drift when ≥ 0.1);
 * - categorical: chi-square when ≤ 1,000 (p < 0.05), else the Jensen–Shannon distance (≥ 0.1);
 * - distances drift at ≥ threshold, as Evidently compares them; p-values at < threshold.
 * PSI is always reported: ≥ 0.1 "warn", ≥ 0.25 "alert". Statistics are exact against the whole
 * reference up to EXACT_REFERENCE_VALUES values per feature; above, `referenceSampled` says so. The dataset drifts when the share of
 * drifted features is ≥ 0.5. The prediction column is reported apart and not counted in the share.
 */
import { compareCategorical, type CategoricalComparison } from "./categorical";
import { type Column, DriftInputError, type FeatureKind, isNumericColumn } from "./common";
import { compareNumeric, type NumericComparison } from "./numeric";
import type { FeatureReference, ReferenceSummary } from "./reference";

export type NumericMethod = "ks" | "wasserstein" | "psi";
export type CategoricalMethod = "chisquare" | "jensenshannon" | "psi";
export type DriftMethod = NumericMethod | CategoricalMethod;

const METHODS: Record<FeatureKind, readonly DriftMethod[]> = {
  numeric: ["ks", "wasserstein", "psi"],
  categorical: ["chisquare", "jensenshannon", "psi"],
};
const P_VALUE_METHODS = new Set<DriftMethod>(["ks", "chisquare"]);
const DEFAULT_THRESHOLDS: Record<DriftMethod, number> = { ks: 0.05, chisquare: 0.05, wasserstein: 0.1, jensenshannon: 0.1, psi: 0.1 };

export interface FeatureOverride {
  method?: DriftMethod;
  threshold?: number;
}

export interface DriftOptions {
  /** Per-feature method and threshold. */
  features?: Record<string, FeatureOverride>;
  /** A reference with at most this many values gets the statistical test. @default 1000 */
  smallReference?: number;
  /** @default 0.5 */
  driftShare?: number;
  /** @default { warn: 0.1, alert: 0.25 } */
  psiLevels?: { warn: number; alert: number };
  /** Unseen category values listed per feature. @default 20 */
  maxUnseen?: number;
}

export type PsiLevel = "ok" | "warn" | "alert";

export interface FeatureDrift {
  feature: string;
  kind: FeatureKind;
  method: DriftMethod;
  /** The method's statistic: KS D, χ², W1/std, JS distance or PSI. */
  statistic: number;
  /** For KS and chi-square. */
  pValue?: number;
  /** What is compared with the threshold: the p-value for tests, the statistic for distances. */
  score: number;
  threshold: number;
  drifted: boolean;
  psi: number;
  psiLevel: PsiLevel;
  referenceCount: number;
  /**
   * Whether the statistic was computed on a sample of the reference rather than all of it: a
   * numeric reference of more than EXACT_REFERENCE_VALUES values keeps evenly spaced order
   * statistics, so KS and Wasserstein are then within 1/referenceSampleSize of the exact values.
   * Categorical references keep every count and are never sampled.
   */
  referenceSampled: boolean;
  /** The reference values the statistic was computed from: referenceCount unless sampled. */
  referenceSampleSize: number;
  currentCount: number;
  /** Missing values' share of the window's rows, and of the reference's. */
  nullShare: number;
  referenceNullShare: number;
  numeric?: NumericComparison;
  categorical?: CategoricalComparison;
  /** Numeric: share of non-missing current values outside the reference [min, max]. */
  outOfRangeShare?: number;
  /** Categorical: categories the reference never saw. */
  unseenShare?: number;
  unseenValues?: { value: string; count: number }[];
}

export interface DriftReport {
  features: FeatureDrift[];
  prediction?: FeatureDrift;
  featureCount: number;
  driftedCount: number;
  driftedShare: number;
  driftShareThreshold: number;
  datasetDrift: boolean;
  currentRows: number;
  /** Whether any feature's (or the prediction's) statistic was computed on a sample of its reference (see FeatureDrift.referenceSampled). */
  sampled: boolean;
}

export function driftReport(reference: ReferenceSummary, current: Record<string, Column>, options: DriftOptions = {}): DriftReport {
  const small = options.smallReference ?? 1000;
  const share = options.driftShare ?? 0.5;
  const levels = options.psiLevels ?? { warn: 0.1, alert: 0.25 };
  if (!(share > 0 && share <= 1)) throw new DriftInputError("driftShare", `must be in (0, 1], got ${share}`);
  if (!(levels.warn >= 0 && levels.alert >= levels.warn))
    throw new DriftInputError("psiLevels", `need 0 ≤ warn ≤ alert, got ${levels.warn}, ${levels.alert}`);
  for (const [name, o] of Object.entries(options.features ?? {})) {
    const ref = reference.features[name];
    if (!ref) throw new DriftInputError(`features.${name}`, "an override for a feature the reference does not have");
    if (o.method !== undefined && !METHODS[ref.kind].includes(o.method)) {
      throw new DriftInputError(
        `features.${name}.method`,
        `${JSON.stringify(o.method)} does not apply to a ${ref.kind} feature (use ${METHODS[ref.kind].join(", ")})`,
      );
    }
    if (o.threshold !== undefined && !(Number.isFinite(o.threshold) && o.threshold >= 0)) {
      throw new DriftInputError(`features.${name}.threshold`, `must be a finite number ≥ 0, got ${o.threshold}`);
    }
  }
  let rows: number | undefined;
  for (const [name, column] of Object.entries(current)) {
    if (rows === undefined) rows = column.length;
    else if (column.length !== rows) throw new DriftInputError(name, `the current column has ${column.length} rows, expected ${rows}`);
  }
  const results: FeatureDrift[] = [];
  let prediction: FeatureDrift | undefined;
  for (const [name, ref] of Object.entries(reference.features)) {
    const column = current[name];
    if (column === undefined) throw new DriftInputError(name, "the current window has no such column");
    const result = featureDrift(name, ref, column, options.features?.[name] ?? {}, small, levels, options.maxUnseen);
    if (name === reference.prediction) prediction = result;
    else results.push(result);
  }
  const driftedCount = results.filter((r) => r.drifted).length;
  const driftedShare = results.length === 0 ? 0 : driftedCount / results.length;
  return {
    features: results,
    ...(prediction ? { prediction } : {}),
    featureCount: results.length,
    driftedCount,
    driftedShare,
    driftShareThreshold: share,
    datasetDrift: results.length > 0 && driftedShare >= share,
    currentRows: rows ?? 0,
    sampled: [...results, ...(prediction ? [prediction] : [])].some((r) => r.referenceSampled),
  };
}

function featureDrift(
  name: string,
  ref: FeatureReference,
  column: Column,
  override: FeatureOverride,
  small: number,
  levels: { warn: number; alert: number },
  maxUnseen: number | undefined,
): FeatureDrift {
  const smallRef = ref.count <= small;
  const rows = column.length;
  if (rows === 0) throw new DriftInputError(name, "the current window is empty");
  let statistic: number;
  let pValue: number | undefined;
  let psi: number;
  let method: DriftMethod;
  let extra: Partial<FeatureDrift>;
  let currentCount: number;
  if (ref.kind === "numeric") {
    if (!isNumericColumn(column))
      throw new DriftInputError(name, "the feature is numeric: the current column must be a Float64Array or Float32Array");
    const cmp = compareNumeric(name, ref, column);
    method = override.method ?? (smallRef ? "ks" : "wasserstein");
    statistic = method === "ks" ? cmp.ks.statistic : method === "wasserstein" ? cmp.wassersteinNorm : cmp.psi;
    if (method === "ks") pValue = cmp.ks.pValue;
    psi = cmp.psi;
    currentCount = cmp.currentCount;
    extra = { numeric: cmp, outOfRangeShare: cmp.outOfRangeShare };
  } else {
    if (isNumericColumn(column))
      throw new DriftInputError(
        name,
        "the feature is categorical: the current column must hold strings or integer codes, not a float array",
      );
    const cmp = compareCategorical(name, ref, column, { maxUnseen });
    method = override.method ?? (smallRef ? "chisquare" : "jensenshannon");
    statistic = method === "chisquare" ? cmp.chiSquare.statistic : method === "jensenshannon" ? cmp.jensenShannon : cmp.psi;
    if (method === "chisquare") pValue = cmp.chiSquare.pValue;
    psi = cmp.psi;
    currentCount = cmp.currentCount;
    extra = { categorical: cmp, unseenShare: cmp.unseen.share, unseenValues: cmp.unseen.values };
  }
  const threshold = override.threshold ?? DEFAULT_THRESHOLDS[method];
  const isTest = P_VALUE_METHODS.has(method);
  const score = isTest ? pValue! : statistic;
  return {
    feature: name,
    kind: ref.kind,
    method,
    statistic,
    ...(isTest ? { pValue } : {}),
    score,
    threshold,
    drifted: isTest ? score < threshold : score >= threshold,
    psi,
    psiLevel: psi >= levels.alert ? "alert" : psi >= levels.warn ? "warn" : "ok",
    referenceCount: ref.count,
    referenceSampled: ref.kind === "numeric" && !ref.exact,
    referenceSampleSize: ref.kind === "numeric" ? ref.sample.length : ref.count,
    currentCount,
    nullShare: (rows - currentCount) / rows,
    referenceNullShare: ref.missing / (ref.count + ref.missing),
    ...extra,
  };
}
