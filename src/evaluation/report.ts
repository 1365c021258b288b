import { evaluateBinary, evaluateMulticlass, type ConfusionMatrix, type PerClassMetrics } from "./classification";
import { checkSameLength, EvaluationInputError, type Labels, type MetricSet, take, takeRows } from "./common";
import { type Comparison, compareMetrics } from "./compare";
import { calibrationCurve, type CalibrationCurve, MAX_PLOT_POINTS, type PlotCurve, prPoints, rocPoints } from "./curves";
import { fairness, type FairnessOptions, type FairnessReport } from "./fairness";
import { evaluateRegression, residualHistogram, type ResidualHistogram } from "./regression";
import { type GroupColumn, sliceMetrics, type SliceReport } from "./slices";

/**
 * The stored evaluation report: one JSON-serializable object (no typed arrays, no NaN, no
 * Infinity, so JSON.parse(JSON.stringify(r)) deep-equals r) holding everything a UI needs to
 * draw it without recomputing: metric values, downsampled curves, the confusion matrix, slices,
 * fairness and the comparison with the champion.
 */

export const REPORT_SCHEMA_VERSION = 1;

export interface EvaluationSetRef {
  /** Identifies the rows evaluated (a dataset version or content hash), so two reports can be checked to be comparable. */
  id: string | null;
}

interface ReportBase {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  evaluationSet: EvaluationSetRef;
  rowCount: number;
  /** Metric name → value (see METRIC_DIRECTIONS for names); null when undefined for this data. */
  metrics: Record<string, number | null>;
  /** Metric name → why it is null. */
  undefinedMetrics: Record<string, string>;
  /** One entry per requested slice column. */
  slices: SliceReport[];
  /** Null when no champion was given. */
  comparison: Comparison | null;
}

export interface ClassificationReport extends ReportBase {
  kind: "classification";
  task: "binary" | "multiclass";
  classNames: string[];
  /** The decision threshold behind the hard-prediction metrics (binary); null for multiclass (argmax). */
  threshold: number | null;
  /** Rows = true class, columns = predicted class, labelled with classNames. */
  confusionMatrix: ConfusionMatrix;
  /** Multiclass: per-class precision/recall/F1 and supports. Null for binary (the metrics are the positive class's). */
  perClass: PerClassMetrics[] | null;
  /**
   * Binary only (null for multiclass). roc/pr are null when the data lacks a class; points are
   * {x, y, threshold} with at most maxCurvePoints each, endpoints kept.
   */
  curves: { roc: PlotCurve | null; pr: PlotCurve | null; calibration: CalibrationCurve } | null;
  /** Binary only; null when not requested. */
  fairness: FairnessReport | null;
}

export interface RegressionReport extends ReportBase {
  kind: "regression";
  residuals: ResidualHistogram;
}

export type EvaluationReport = ClassificationReport | RegressionReport;

/** A classifier's output on the evaluation set. */
export type ClassifierPredictions =
  | { kind: "binary"; /** P(class 1) per row. */ scores: Float64Array }
  | { kind: "multiclass"; /** Row-major [n × classes]. */ proba: Float64Array; classes: number };

export interface SliceRequest {
  column: string;
  values: GroupColumn;
  expectedValues?: ReadonlyArray<string | null>;
}

export interface CommonOptions {
  evaluationSetId?: string;
  slices?: SliceRequest[];
  /** Slices (and fairness groups) with fewer rows are marked belowMinCount. @default 30 */
  minCount?: number;
}

export interface EvaluateClassifierOptions extends CommonOptions {
  /** @default 0.5 */
  threshold?: number;
  /** @default 10 */
  calibrationBins?: number;
  /** @default 200 */
  maxCurvePoints?: number;
  classNames?: string[];
  fairness?: SliceRequest & Pick<FairnessOptions, "undefinedRates">;
  /**
   * The current champion's predictions on the same rows. Taking predictions rather than a stored
   * report guarantees the same evaluation set and the same metric settings on both sides.
   */
  champion?: { id: string | null; predictions: ClassifierPredictions };
}

export interface EvaluateRegressorOptions extends CommonOptions {
  residualBins?: number;
  champion?: { id: string | null; yPred: Float64Array };
}

function fairnessMetrics(f: FairnessReport | null): Record<string, number | null> {
  if (f === null) return {};
  return {
    demographic_parity_difference: f.demographicParityDifference,
    demographic_parity_ratio: f.demographicParityRatio,
    equalized_odds_difference: f.equalizedOddsDifference,
  };
}

/** Metrics, slice metrics, hard predictions for one set of predictions. */
function classifierCore(yTrue: Labels, p: ClassifierPredictions, options: EvaluateClassifierOptions) {
  if (p.kind === "binary") {
    const threshold = options.threshold ?? 0.5;
    const names = options.classNames ?? ["0", "1"];
    if (names.length !== 2) throw new EvaluationInputError(`a binary classifier has 2 class names, got ${names.length}`);
    const ev = evaluateBinary(yTrue, p.scores, { threshold, classNames: [names[0], names[1]] });
    const perSlice = (idx: Int32Array): MetricSet => evaluateBinary(take(yTrue, idx), take(p.scores, idx), { threshold }).metrics;
    return { ev, perSlice, yPred: ev.yPred, names };
  }
  const ev = evaluateMulticlass(yTrue, p.proba, p.classes, options.classNames);
  const perSlice = (idx: Int32Array): MetricSet =>
    evaluateMulticlass(take(yTrue, idx), takeRows(p.proba, p.classes, idx), p.classes).metrics;
  return { ev, perSlice, yPred: ev.yPred, names: ev.confusionMatrix.labels };
}

function slicesFor(n: number, compute: (idx: Int32Array) => MetricSet, options: CommonOptions): SliceReport[] {
  return (options.slices ?? []).map((s) =>
    sliceMetrics(s.column, s.values, n, compute, { minCount: options.minCount, expectedValues: s.expectedValues }),
  );
}

export function evaluateClassifier(
  yTrue: Labels,
  predictions: ClassifierPredictions,
  options: EvaluateClassifierOptions = {},
): ClassificationReport {
  const n = yTrue.length;
  const core = classifierCore(yTrue, predictions, options);
  const binary = predictions.kind === "binary";
  if (options.fairness && !binary) throw new EvaluationInputError("fairness metrics are defined for binary classifiers only");

  const fairnessOf = (yPred: Int32Array): FairnessReport | null =>
    options.fairness
      ? fairness(options.fairness.column, yTrue, yPred, options.fairness.values, {
          expectedValues: options.fairness.expectedValues,
          minCount: options.minCount,
          undefinedRates: options.fairness.undefinedRates,
        })
      : null;
  const fair = fairnessOf(core.yPred);

  let comparison: Comparison | null = null;
  if (options.champion) {
    const cp = options.champion.predictions;
    if (
      cp.kind !== predictions.kind ||
      (cp.kind === "multiclass" && predictions.kind === "multiclass" && cp.classes !== predictions.classes)
    ) {
      throw new EvaluationInputError("the champion's predictions are not of the same kind as the candidate's");
    }
    // classifierCore checks the champion's lengths against yTrue: same rows, same evaluation set.
    const champ = classifierCore(yTrue, cp, options);
    comparison = compareMetrics(
      { ...core.ev.metrics.values, ...fairnessMetrics(fair) },
      { ...champ.ev.metrics.values, ...(binary ? fairnessMetrics(fairnessOf(champ.yPred)) : {}) },
      options.champion.id,
    );
  }

  let curves: ClassificationReport["curves"] = null;
  if (predictions.kind === "binary" && "curve" in core.ev) {
    const max = options.maxCurvePoints ?? MAX_PLOT_POINTS;
    curves = {
      roc: rocPoints(core.ev.curve, max),
      pr: prPoints(core.ev.curve, max),
      calibration: calibrationCurve(yTrue, predictions.scores, options.calibrationBins ?? 10),
    };
  }

  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: "classification",
    task: predictions.kind,
    evaluationSet: { id: options.evaluationSetId ?? null },
    rowCount: n,
    classNames: core.names,
    threshold: binary ? (options.threshold ?? 0.5) : null,
    metrics: core.ev.metrics.values,
    undefinedMetrics: core.ev.metrics.undefinedReasons,
    confusionMatrix: core.ev.confusionMatrix,
    perClass: "perClass" in core.ev ? core.ev.perClass : null,
    curves,
    slices: slicesFor(n, core.perSlice, options),
    fairness: fair,
    comparison,
  };
}

export function evaluateRegressor(yTrue: Labels, yPred: Float64Array, options: EvaluateRegressorOptions = {}): RegressionReport {
  const n = yTrue.length;
  const metrics = evaluateRegression(yTrue, yPred);
  let comparison: Comparison | null = null;
  if (options.champion) {
    checkSameLength("champion yPred", n, options.champion.yPred.length);
    comparison = compareMetrics(metrics.values, evaluateRegression(yTrue, options.champion.yPred).values, options.champion.id);
  }
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: "regression",
    evaluationSet: { id: options.evaluationSetId ?? null },
    rowCount: n,
    metrics: metrics.values,
    undefinedMetrics: metrics.undefinedReasons,
    residuals: residualHistogram(yTrue, yPred, options.residualBins ?? 20),
    slices: slicesFor(n, (idx) => evaluateRegression(take(yTrue, idx), take(yPred, idx)), options),
    comparison,
  };
}
