import {
  checkBinaryLabels,
  checkFinite,
  checkProbabilities,
  checkSameLength,
  defined,
  emptyMetricSet,
  EvaluationInputError,
  FLOAT64_EPS,
  type Labels,
  type Metric,
  type MetricSet,
  put,
  undefinedMetric,
} from "./common";
import { averagePrecisionFromCurve, binaryCurve, type BinaryCurve, rocAucFromCurve } from "./curves";

/**
 * Classification metrics with scikit-learn's definitions. Binary inputs are 0/1 labels and the
 * positive class's probability; multiclass inputs are class indices 0..k-1 and a row-major
 * [n × k] probability matrix.
 */

/** Rows are true classes, columns predicted classes, as sklearn's confusion_matrix. */
export interface ConfusionMatrix {
  labels: string[];
  matrix: number[][];
}

export function rocAuc(yTrue: Labels, scores: Float64Array): Metric {
  return rocAucFromCurve(binaryCurve(yTrue, scores));
}

export function averagePrecision(yTrue: Labels, scores: Float64Array): Metric {
  return averagePrecisionFromCurve(binaryCurve(yTrue, scores));
}

/**
 * sklearn's log_loss for a binary positive-class probability: clip to [eps, 1 − eps] with eps the
 * float64 machine epsilon (its eps="auto"), renormalize the two columns, take the mean negative
 * log-likelihood. Defined even when only one class occurs (sklearn then needs labels=[0, 1]).
 */
export function logLossBinary(yTrue: Labels, probabilities: Float64Array): Metric {
  checkSameLength("probabilities", yTrue.length, probabilities.length);
  checkBinaryLabels(yTrue);
  checkProbabilities(probabilities, "probabilities");
  if (yTrue.length === 0) return undefinedMetric("no rows");
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p1 = clip(probabilities[i]);
    const p0 = clip(1 - probabilities[i]);
    sum -= Math.log((yTrue[i] === 1 ? p1 : p0) / (p0 + p1));
  }
  return defined(sum / yTrue.length);
}

/** sklearn's brier_score_loss: mean squared difference between probability and outcome. */
export function brierScore(yTrue: Labels, probabilities: Float64Array): Metric {
  checkSameLength("probabilities", yTrue.length, probabilities.length);
  checkBinaryLabels(yTrue);
  checkProbabilities(probabilities, "probabilities");
  if (yTrue.length === 0) return undefinedMetric("no rows");
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += (probabilities[i] - yTrue[i]) ** 2;
  return defined(sum / yTrue.length);
}

function clip(p: number): number {
  return p < FLOAT64_EPS ? FLOAT64_EPS : p > 1 - FLOAT64_EPS ? 1 - FLOAT64_EPS : p;
}

/**
 * Hard predictions from probabilities: positive when score >= threshold, the same convention as
 * the ROC curve's thresholds, so the confusion matrix is one of the curve's points.
 */
export function thresholdScores(scores: Float64Array, threshold: number): Int32Array {
  const out = new Int32Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] >= threshold ? 1 : 0;
  return out;
}

export interface BinaryCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function binaryCounts(yTrue: Labels, yPred: Labels): BinaryCounts {
  checkSameLength("yPred", yTrue.length, yPred.length);
  checkBinaryLabels(yTrue);
  checkBinaryLabels(yPred, "yPred");
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < yTrue.length; i++) {
    if (yPred[i] === 1) yTrue[i] === 1 ? c.tp++ : c.fp++;
    else yTrue[i] === 1 ? c.fn++ : c.tn++;
  }
  return c;
}

/**
 * Accuracy, precision, recall and F1 of the positive class. Where sklearn would warn and return
 * 0 (zero_division="warn"), these return null with the reason: a 0 would read as "as bad as it
 * gets" on a dashboard when it really means "nothing to measure".
 */
export function binaryThresholdMetrics(c: BinaryCounts): { accuracy: Metric; precision: Metric; recall: Metric; f1: Metric } {
  const n = c.tp + c.fp + c.tn + c.fn;
  return {
    accuracy: n === 0 ? undefinedMetric("no rows") : defined((c.tp + c.tn) / n),
    precision: c.tp + c.fp === 0 ? undefinedMetric("no predicted positives") : defined(c.tp / (c.tp + c.fp)),
    recall: c.tp + c.fn === 0 ? undefinedMetric("no actual positives") : defined(c.tp / (c.tp + c.fn)),
    // 2TP / (2TP + FP + FN) equals the harmonic mean wherever that exists, and stays defined (= 0)
    // when TP = 0 but there is something to be wrong about; sklearn computes it the same way.
    f1: 2 * c.tp + c.fp + c.fn === 0 ? undefinedMetric("no actual or predicted positives") : defined((2 * c.tp) / (2 * c.tp + c.fp + c.fn)),
  };
}

export interface BinaryEvaluation {
  metrics: MetricSet;
  counts: BinaryCounts;
  confusionMatrix: ConfusionMatrix;
  curve: BinaryCurve;
  yPred: Int32Array;
}

export interface BinaryOptions {
  /** Decision threshold for the hard-prediction metrics. @default 0.5 */
  threshold?: number;
  /** Display names of class 0 and class 1. @default ["0", "1"] */
  classNames?: [string, string];
}

/** Every binary metric at once, sharing one sort between ROC AUC and PR AUC. */
export function evaluateBinary(yTrue: Labels, scores: Float64Array, options: BinaryOptions = {}): BinaryEvaluation {
  const threshold = options.threshold ?? 0.5;
  const curve = binaryCurve(yTrue, scores);
  const yPred = thresholdScores(scores, threshold);
  const counts = binaryCounts(yTrue, yPred);
  const t = binaryThresholdMetrics(counts);
  const metrics = emptyMetricSet();
  put(metrics, "roc_auc", rocAucFromCurve(curve));
  put(metrics, "pr_auc", averagePrecisionFromCurve(curve));
  put(metrics, "accuracy", t.accuracy);
  put(metrics, "precision", t.precision);
  put(metrics, "recall", t.recall);
  put(metrics, "f1", t.f1);
  put(metrics, "log_loss", logLossBinary(yTrue, scores));
  put(metrics, "brier_score", brierScore(yTrue, scores));
  put(metrics, "positive_rate", yTrue.length === 0 ? undefinedMetric("no rows") : defined(curve.positives / yTrue.length));
  const names = options.classNames ?? ["0", "1"];
  return {
    metrics,
    counts,
    confusionMatrix: {
      labels: [...names],
      matrix: [
        [counts.tn, counts.fp],
        [counts.fn, counts.tp],
      ],
    },
    curve,
    yPred,
  };
}

// ---------------------------------------------------------------------------------------------
// Multiclass

function checkClassIndices(y: Labels, k: number, what: string): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0 || v >= k)
      throw new EvaluationInputError(`${what}[${i}] = ${v}: expected a class index in 0..${k - 1}`);
  }
}

function checkProba(yTrue: Labels, proba: Float64Array, k: number): void {
  if (!Number.isInteger(k) || k < 2) throw new EvaluationInputError(`a classifier needs at least 2 classes, got ${k}`);
  checkSameLength("proba (rows)", yTrue.length * k, proba.length);
  checkClassIndices(yTrue, k, "yTrue");
  checkFinite(proba, "proba");
}

/** The most probable class per row; the first on ties, like numpy's argmax. */
export function argmaxRows(proba: Float64Array, k: number): Int32Array {
  const n = proba.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (proba[i * k + c] > proba[i * k + best]) best = c;
    out[i] = best;
  }
  return out;
}

export function confusionMatrix(yTrue: Labels, yPred: Labels, k: number, classNames?: string[]): ConfusionMatrix {
  checkSameLength("yPred", yTrue.length, yPred.length);
  checkClassIndices(yTrue, k, "yTrue");
  checkClassIndices(yPred, k, "yPred");
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) matrix[yTrue[i]][yPred[i]]++;
  return { labels: classNames ?? Array.from({ length: k }, (_, c) => String(c)), matrix };
}

/**
 * sklearn's multiclass log_loss with labels = 0..k-1: clip every probability to [eps, 1 − eps],
 * renormalize the row, mean of −ln p[true class].
 */
export function logLossMulticlass(yTrue: Labels, proba: Float64Array, k: number): Metric {
  checkProba(yTrue, proba, k);
  if (yTrue.length === 0) return undefinedMetric("no rows");
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    let rowSum = 0;
    for (let c = 0; c < k; c++) rowSum += clip(proba[i * k + c]);
    sum -= Math.log(clip(proba[i * k + yTrue[i]]) / rowSum);
  }
  return defined(sum / yTrue.length);
}

/**
 * sklearn's roc_auc_score(multi_class="ovr", average="macro"): the unweighted mean of each
 * class's one-vs-rest AUC. Undefined when a class never occurs (sklearn raises then), since
 * that class's AUC does not exist.
 */
export function rocAucOvrMacro(yTrue: Labels, proba: Float64Array, k: number): Metric {
  checkProba(yTrue, proba, k);
  const n = yTrue.length;
  const isClass = new Int32Array(n);
  const column = new Float64Array(n);
  let sum = 0;
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      isClass[i] = yTrue[i] === c ? 1 : 0;
      column[i] = proba[i * k + c];
    }
    const auc = rocAucFromCurve(binaryCurve(isClass, column));
    if (auc.value === null) return undefinedMetric(`one-vs-rest ROC AUC of class ${c}: ${auc.reason}`);
    sum += auc.value;
  }
  return defined(sum / k);
}

export interface PerClassMetrics {
  label: string;
  support: number;
  predicted: number;
  /** Null where sklearn would warn and use 0; the averages below use 0 there, as sklearn does. */
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

export interface MulticlassEvaluation {
  metrics: MetricSet;
  perClass: PerClassMetrics[];
  confusionMatrix: ConfusionMatrix;
  yPred: Int32Array;
}

/**
 * Accuracy, macro and weighted precision/recall/F1, log loss, one-vs-rest macro ROC AUC and the
 * confusion matrix of an [n × k] probability matrix, predicting the argmax.
 *
 * The averages follow sklearn's default (labels = classes present in yTrue or yPred,
 * zero_division → 0), so they match precision_score(..., average="macro") and friends exactly;
 * per-class values keep the null to show which classes made the average ill-defined.
 */
export function evaluateMulticlass(yTrue: Labels, proba: Float64Array, k: number, classNames?: string[]): MulticlassEvaluation {
  checkProba(yTrue, proba, k);
  if (classNames !== undefined && classNames.length !== k)
    throw new EvaluationInputError(`classNames has ${classNames.length} names, expected ${k}`);
  const n = yTrue.length;
  const yPred = argmaxRows(proba, k);
  const cm = confusionMatrix(yTrue, yPred, k, classNames);
  const metrics = emptyMetricSet();
  let correct = 0;
  for (let c = 0; c < k; c++) correct += cm.matrix[c][c];
  put(metrics, "accuracy", n === 0 ? undefinedMetric("no rows") : defined(correct / n));

  const perClass: PerClassMetrics[] = [];
  let present = 0;
  const macro = { precision: 0, recall: 0, f1: 0 };
  const weighted = { precision: 0, recall: 0, f1: 0 };
  for (let c = 0; c < k; c++) {
    const tp = cm.matrix[c][c];
    let support = 0;
    let predicted = 0;
    for (let o = 0; o < k; o++) {
      support += cm.matrix[c][o];
      predicted += cm.matrix[o][c];
    }
    const precision = predicted === 0 ? null : tp / predicted;
    const recall = support === 0 ? null : tp / support;
    const f1 = support + predicted === 0 ? null : (2 * tp) / (support + predicted);
    perClass.push({ label: cm.labels[c], support, predicted, precision, recall, f1 });
    if (support + predicted === 0) continue; // absent from both: not among sklearn's labels
    present++;
    macro.precision += precision ?? 0;
    macro.recall += recall ?? 0;
    macro.f1 += f1 ?? 0;
    weighted.precision += (precision ?? 0) * support;
    weighted.recall += (recall ?? 0) * support;
    weighted.f1 += (f1 ?? 0) * support;
  }
  for (const m of ["precision", "recall", "f1"] as const) {
    put(metrics, `${m}_macro`, present === 0 ? undefinedMetric("no rows") : defined(macro[m] / present));
    put(metrics, `${m}_weighted`, n === 0 ? undefinedMetric("no rows") : defined(weighted[m] / n));
  }
  put(metrics, "log_loss", logLossMulticlass(yTrue, proba, k));
  put(metrics, "roc_auc_ovr_macro", rocAucOvrMacro(yTrue, proba, k));
  return { metrics, perClass, confusionMatrix: cm, yPred };
}
