/**
 * Live performance of a window from the rows whose outcome (ground truth) is known: ROC AUC,
 * accuracy and log loss for classifiers, RMSE and MAE for regressors — the names the train and
 * evaluate operators record, so they line up with the version's evaluation baseline (`metrics`).
 */

export interface LabeledRow {
  outcome: unknown;
  /** The prediction column's value (a probability of the positive class, a label or a number). */
  prediction: unknown;
  /** The logged `label` output, when the model has one: a class name, or (without names, or logged before names were answered) a class index. */
  label: unknown;
  /** The logged `label_index` output, when the model answers class names in `label`. */
  labelIndex?: unknown;
}

export type Task = "classification" | "regression";

/** 1 or 0 for a binary outcome (1/0, true/false, "1"/"0", "true"/"false"), else null. */
export function binaryOutcome(v: unknown): 0 | 1 | null {
  if (v === 1 || v === true || v === "1" || v === "true") return 1;
  if (v === 0 || v === false || v === "0" || v === "false") return 0;
  return null;
}

function finite(v: unknown): number | null {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : typeof v === "boolean" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** ROC AUC by ranks (Mann–Whitney U, ties at their mean rank), as sklearn's roc_auc_score; null without both classes. */
export function rocAuc(y: readonly (0 | 1)[], score: readonly number[]): number | null {
  const n = y.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && score[order[j + 1]] === score[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  let pos = 0;
  let sumPos = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === 1) {
      pos++;
      sumPos += ranks[i];
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (sumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Mean binary cross-entropy with probabilities clipped to [1e-15, 1 − 1e-15], as sklearn's log_loss. */
export function logLoss(y: readonly (0 | 1)[], p: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - 1e-15, Math.max(1e-15, p[i]));
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / y.length;
}

/**
 * The live metrics of the labeled rows. Classification: accuracy compares the logged label with
 * the outcome as text; AUC and log loss need a binary outcome and a probability prediction.
 * Regression: RMSE and MAE over rows where both are numbers. `classes` (the model's class names,
 * by index) turns outcomes and predictions, by name or by index, into indices. Metrics without enough rows are left out.
 */
export function livePerformance(
  rows: readonly LabeledRow[],
  task: Task,
  probabilistic: boolean,
  classes: readonly string[] | null = null,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (rows.length === 0) return out;
  // With class names, the outcome and the prediction are both compared as class indices: outcomes
  // may come as names or as indices, and the logged prediction is `label_index` (or, in rows logged
  // before `label` held names, the index in `label`).
  if (classes && classes.length > 0) {
    rows = rows.map((r) => ({ ...r, outcome: outcomeIndex(r.outcome, classes), label: predictedIndex(r, classes) }));
  }
  if (task === "classification") {
    const withLabel = rows.filter((r) => r.label !== undefined && r.label !== null);
    if (withLabel.length > 0) out.accuracy = withLabel.filter((r) => String(r.label) === String(r.outcome)).length / withLabel.length;
    if (probabilistic) {
      const toBinary = outcomeCoder(rows);
      const y: (0 | 1)[] = [];
      const p: number[] = [];
      for (const r of rows) {
        const b = toBinary(r.outcome);
        const q = finite(r.prediction);
        if (b !== null && q !== null) {
          y.push(b);
          p.push(q);
        }
      }
      if (y.length > 0) {
        const auc = rocAuc(y, p);
        if (auc !== null) out.roc_auc = auc;
        out.log_loss = logLoss(y, p);
        if (out.accuracy === undefined) out.accuracy = y.filter((v, i) => v === (p[i] >= 0.5 ? 1 : 0)).length / y.length;
      }
    }
  } else {
    let n = 0;
    let se = 0;
    let ae = 0;
    for (const r of rows) {
      const y = finite(r.outcome);
      const f = finite(r.prediction);
      if (y === null || f === null) continue;
      n++;
      se += (f - y) ** 2;
      ae += Math.abs(f - y);
    }
    if (n > 0) {
      out.rmse = Math.sqrt(se / n);
      out.mae = ae / n;
    }
  }
  return out;
}

/**
 * A ground-truth outcome as a class index: a class name first (so with numeric class names such as
 * "1", "2", the outcome 2 is the class named "2"), else an index 0..C-1; anything else unchanged (it
 * then matches no prediction).
 */
export function outcomeIndex(outcome: unknown, classes: readonly string[]): unknown {
  const byName = classes.indexOf(String(outcome));
  if (byName >= 0) return byName;
  const n = typeof outcome === "number" ? outcome : typeof outcome === "string" && /^\d+$/.test(outcome.trim()) ? Number(outcome) : NaN;
  return Number.isInteger(n) && n >= 0 && n < classes.length ? n : outcome;
}

/**
 * A logged prediction as a class index: its `label_index`; else a numeric `label` (an index: names
 * are always logged as strings); else the index of the name in `label`.
 */
function predictedIndex(r: LabeledRow, classes: readonly string[]): unknown {
  if (typeof r.labelIndex === "number" && Number.isInteger(r.labelIndex)) return r.labelIndex;
  if (typeof r.label === "string") {
    const i = classes.indexOf(r.label);
    if (i >= 0) return i;
  }
  return r.label;
}

/**
 * How outcomes become 1 (the class whose probability is the prediction) or 0. A classifier trained
 * on text labels answers e.g. "lost"/"kept" and gets outcomes in the same words: the positive label
 * is the one the model gives its most confident positive row (p ≥ 0.5), the negative the one it
 * gives its most confident negative row. Otherwise 1/0, true/false.
 */
function outcomeCoder(rows: readonly LabeledRow[]): (v: unknown) => 0 | 1 | null {
  let hi: LabeledRow | undefined;
  let lo: LabeledRow | undefined;
  for (const r of rows) {
    const q = finite(r.prediction);
    if (q === null || r.label === undefined || r.label === null) continue;
    if (q >= 0.5 && (!hi || q > (finite(hi.prediction) ?? 0))) hi = r;
    if (q < 0.5 && (!lo || q < (finite(lo.prediction) ?? 1))) lo = r;
  }
  const positive = hi ? String(hi.label) : undefined;
  const negative = lo ? String(lo.label) : undefined;
  return (v) => {
    const text = String(v);
    if (positive !== undefined && text === positive) return 1;
    if (negative !== undefined && text === negative) return 0;
    return binaryOutcome(v);
  };
}

/** The live metric names; a version's `metrics` under these names are its baseline. */
export const PERFORMANCE_METRICS = ["roc_auc", "accuracy", "log_loss", "rmse", "mae"] as const;
