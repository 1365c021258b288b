/**
 * Candidate versus champion on the same evaluation set. The direction table is what turns a
 * delta into "better" or "worse": a lower log loss is an improvement, a lower AUC is not.
 */

export type Direction = "higher" | "lower";

/** Whether a larger value is better, per metric name used in reports. */
export const METRIC_DIRECTIONS: Readonly<Record<string, Direction>> = {
  roc_auc: "higher",
  pr_auc: "higher",
  accuracy: "higher",
  precision: "higher",
  recall: "higher",
  f1: "higher",
  log_loss: "lower",
  brier_score: "lower",
  precision_macro: "higher",
  recall_macro: "higher",
  f1_macro: "higher",
  precision_weighted: "higher",
  recall_weighted: "higher",
  f1_weighted: "higher",
  roc_auc_ovr_macro: "higher",
  rmse: "lower",
  mae: "lower",
  r2: "higher",
  mape: "lower",
  demographic_parity_difference: "lower",
  demographic_parity_ratio: "higher",
  equalized_odds_difference: "lower",
};

export interface ComparisonRow {
  metric: string;
  candidate: number | null;
  champion: number | null;
  /** candidate − champion; null when either side is null. */
  delta: number | null;
  /** Null for descriptive numbers (counts, base rates) that have no better direction. */
  direction: Direction | null;
  /** Whether the candidate is strictly better (false on a tie); null when not comparable. */
  improved: boolean | null;
}

export interface Comparison {
  /** Whatever identifies the champion (a model version id); informational. */
  champion: string | null;
  rows: ComparisonRow[];
  /** Counts over the rows with a direction and two values. */
  improvedCount: number;
  regressedCount: number;
}

/**
 * One row per metric present on either side, in the candidate's order then the champion's
 * extras, so a metric the champion never had still shows up (with a null delta).
 */
export function compareMetrics(
  candidate: Record<string, number | null>,
  champion: Record<string, number | null>,
  championId: string | null = null,
  directions: Readonly<Record<string, Direction>> = METRIC_DIRECTIONS,
): Comparison {
  const names = [...new Set([...Object.keys(candidate), ...Object.keys(champion)])];
  let improvedCount = 0;
  let regressedCount = 0;
  const rows = names.map((metric): ComparisonRow => {
    const a = candidate[metric] ?? null;
    const b = champion[metric] ?? null;
    const delta = a === null || b === null ? null : a - b;
    const direction = Object.hasOwn(directions, metric) ? directions[metric] : null;
    let improved: boolean | null = null;
    if (delta !== null && direction !== null) {
      improved = direction === "higher" ? delta > 0 : delta < 0;
      if (improved) improvedCount++;
      else if (delta !== 0) regressedCount++;
    }
    return { metric, candidate: a, champion: b, delta, direction, improved };
  });
  return { champion: championId, rows, improvedCount, regressedCount };
}
