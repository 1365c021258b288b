import { checkBinaryLabels, checkSameLength, type Labels } from "./common";
import { type GroupColumn, groupRows } from "./slices";

/**
 * Group fairness of binary hard predictions across a sensitive column, with Fairlearn's
 * definitions (method="between_groups"): demographic parity difference = max − min selection
 * rate, ratio = min / max; equalized odds difference = max(TPR difference, FPR difference).
 */

export interface FairnessGroup {
  value: string | null;
  count: number;
  /** Actual positives and negatives in the group: the denominators of TPR and FPR. */
  positives: number;
  negatives: number;
  /** P(ŷ = 1 | group); null for an empty group. */
  selectionRate: number | null;
  /** P(ŷ = 1 | y = 1, group); null when the group has no actual positives. */
  truePositiveRate: number | null;
  /** P(ŷ = 1 | y = 0, group); null when the group has no actual negatives. */
  falsePositiveRate: number | null;
  belowMinCount: boolean;
}

export interface FairnessReport {
  column: string;
  groups: FairnessGroup[];
  demographicParityDifference: number | null;
  demographicParityRatio: number | null;
  truePositiveRateDifference: number | null;
  falsePositiveRateDifference: number | null;
  equalizedOddsDifference: number | null;
  /** How a group's undefined TPR/FPR entered the differences. */
  undefinedRates: "exclude" | "zero";
  /** Why any of the aggregate numbers above is null. */
  undefinedReasons: Record<string, string>;
}

export interface FairnessOptions {
  /** Values of the sensitive column to report even when absent. */
  expectedValues?: ReadonlyArray<string | null>;
  /** Groups smaller than this are marked (and still counted). @default 30 */
  minCount?: number;
  /**
   * A group with no actual positives has no TPR (no negatives: no FPR). Fairlearn, through
   * sklearn's normalized confusion matrix, counts such a rate as 0, which can manufacture a large
   * equalized-odds gap out of a group that had nothing to measure. "exclude" (the default) leaves
   * those groups out of that difference; "zero" reproduces Fairlearn's numbers exactly.
   * Empty groups are always left out of every aggregate.
   */
  undefinedRates?: "exclude" | "zero";
}

function spread(values: Array<number | null>): { min: number; max: number } | null {
  const present = values.filter((v): v is number => v !== null);
  if (present.length === 0) return null;
  return { min: Math.min(...present), max: Math.max(...present) };
}

export function fairness(column: string, yTrue: Labels, yPred: Labels, groups: GroupColumn, options: FairnessOptions = {}): FairnessReport {
  checkSameLength("yPred", yTrue.length, yPred.length);
  checkSameLength(`sensitive column ${JSON.stringify(column)}`, yTrue.length, groups.length);
  checkBinaryLabels(yTrue);
  checkBinaryLabels(yPred, "yPred");
  const minCount = options.minCount ?? 30;
  const undefinedRates = options.undefinedRates ?? "exclude";
  const out: FairnessGroup[] = groupRows(groups, options.expectedValues).map((g) => {
    let selected = 0;
    let positives = 0;
    let tp = 0;
    let fp = 0;
    for (const i of g.indices) {
      selected += yPred[i];
      positives += yTrue[i];
      if (yPred[i] === 1) yTrue[i] === 1 ? tp++ : fp++;
    }
    const count = g.indices.length;
    const negatives = count - positives;
    return {
      value: g.value,
      count,
      positives,
      negatives,
      selectionRate: count === 0 ? null : selected / count,
      truePositiveRate: positives === 0 ? null : tp / positives,
      falsePositiveRate: negatives === 0 ? null : fp / negatives,
      belowMinCount: count < minCount,
    };
  });
  const nonEmpty = out.filter((g) => g.count > 0);
  const rate = (r: number | null) => (r === null && undefinedRates === "zero" ? 0 : r);
  const reasons: Record<string, string> = {};

  const sel = spread(nonEmpty.map((g) => g.selectionRate));
  let dpDiff: number | null = null;
  let dpRatio: number | null = null;
  if (sel === null) {
    reasons.demographicParityDifference = reasons.demographicParityRatio = "no rows in any group";
  } else {
    dpDiff = sel.max - sel.min;
    if (sel.max === 0) reasons.demographicParityRatio = "no group has any positive prediction (0 / 0)";
    else dpRatio = sel.min / sel.max;
  }

  const tpr = spread(nonEmpty.map((g) => rate(g.truePositiveRate)));
  const fpr = spread(nonEmpty.map((g) => rate(g.falsePositiveRate)));
  const tprDiff = tpr === null ? null : tpr.max - tpr.min;
  const fprDiff = fpr === null ? null : fpr.max - fpr.min;
  if (tprDiff === null) reasons.truePositiveRateDifference = "no group has actual positives";
  if (fprDiff === null) reasons.falsePositiveRateDifference = "no group has actual negatives";
  // Equalized odds needs both rates: with one of them missing everywhere it is not measured.
  let eo: number | null = null;
  if (tprDiff === null || fprDiff === null) reasons.equalizedOddsDifference = "needs actual positives and negatives in some group";
  else eo = Math.max(tprDiff, fprDiff);

  return {
    column,
    groups: out,
    demographicParityDifference: dpDiff,
    demographicParityRatio: dpRatio,
    truePositiveRateDifference: tprDiff,
    falsePositiveRateDifference: fprDiff,
    equalizedOddsDifference: eo,
    undefinedRates,
    undefinedReasons: reasons,
  };
}
