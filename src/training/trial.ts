/**
 * One training trial on an already split and preprocessed data set: fit the algorithm with one set
 * of hyperparameters, predict the validation rows and score them. The `train` operator runs one
 * trial (no search) or many (a search, possibly in worker threads — see search-pool.ts); either
 * way the trial's model is what gets exported, and its predictions are what the ONNX graph must
 * reproduce. No I/O, no export here.
 */
import { finiteMetrics, evaluateBinary, evaluateMulticlass, evaluateRegression } from "../evaluation";
import { trainValidationSplit } from "./data";
import type { ExpectedPredictions } from "./export-linear";
import { predictProba as gbtPredictProba, predictRaw as gbtPredictRaw, trainGbt, type GbtModel, type GbtParams } from "./gbt/boost";
import { isClassifier, type TrainAlgorithm } from "./hyperparameters";
import {
  predictLinear,
  predictProba as linearPredictProba,
  trainLinearRegression,
  trainLogisticRegression,
  type LinearRegressionModel,
  type LogisticRegressionModel,
} from "./linear";

/** Share of the training rows held out inside the GBT trainer when early stopping is asked for. */
const EARLY_STOPPING_FRACTION = 0.1;

/**
 * What every trial of a stage shares: preprocessed row-major features (float32, as `transform`
 * gives them), targets, and what the task is. Plain typed arrays so they can sit in
 * SharedArrayBuffers seen by several worker threads at once.
 */
export interface TrialData {
  algorithm: TrainAlgorithm;
  /** Class names for classifiers (K = length), absent for regressors. */
  classes?: string[];
  cols: number;
  featureNames: string[];
  Xtr: Float32Array;
  ytr: Float64Array;
  Xva: Float32Array;
  yva: Float64Array;
  /** The stage's seed; GBT early stopping splits its inner validation rows with seed + 1. */
  seed: number;
}

export type TrainedModel = LinearRegressionModel | LogisticRegressionModel | GbtModel;

export interface TrialResult {
  model: TrainedModel;
  /** The trainer's validation predictions. */
  expected: ExpectedPredictions;
  /** Validation metrics (finite values only). */
  metrics: Record<string, number>;
  /** Trainer facts worth keeping (iterations, convergence, trees). */
  details: Record<string, unknown>;
}

/** Fits `hyperparameters` (already checked against the algorithm) on `data` and scores the validation rows. */
export function runTrial(data: TrialData, hyperparameters: Record<string, unknown>): TrialResult {
  const { model, details } = fitModel(data, hyperparameters);
  const expected = predictValidation(data, model);
  return { model, expected, metrics: validationMetrics(data, expected), details };
}

/** Fits the algorithm on the training rows. */
export function fitModel(
  data: TrialData,
  hyperparameters: Record<string, unknown>,
): { model: TrainedModel; details: Record<string, unknown> } {
  const { algorithm, cols } = data;
  const K = data.classes?.length ?? 0;
  const Xtr = { matrix: data.Xtr, cols };
  const nTrain = data.ytr.length;
  if (algorithm === "logistic_regression") {
    const opts = hyperparameters as { l2?: number; maxIter?: number; tol?: number; fitIntercept?: boolean };
    const m = trainLogisticRegression(Xtr, data.ytr, { ...opts, classes: K });
    return { model: m, details: { iterations: m.iterations, converged: m.converged } };
  }
  if (algorithm === "linear_regression") {
    const opts = hyperparameters as { l2?: number; fitIntercept?: boolean };
    // Ridge by default (sklearn Ridge's alpha = 1): a full one-hot encoding plus the intercept is collinear.
    return { model: trainLinearRegression(Xtr, data.ytr, { l2: opts.l2 ?? 1, fitIntercept: opts.fitIntercept }), details: {} };
  }
  const params = hyperparameters as GbtParams;
  const classification = algorithm === "gbt_classifier";
  // Early stopping scores a slice of the training rows, never the validation rows the metrics come from.
  const inner = params.earlyStopping ? trainValidationSplit(nTrain, EARLY_STOPPING_FRACTION, data.seed + 1) : null;
  const m = trainGbt({
    task: classification ? (K === 2 ? "binary" : "multiclass") : "regression",
    X: Float64Array.from(data.Xtr),
    rows: nTrain,
    cols,
    featureNames: data.featureNames,
    y: data.ytr,
    nClasses: classification ? K : undefined,
    trainRows: inner?.train,
    validRows: inner?.validation,
    params,
  });
  return { model: m, details: { trees: m.trees.length, iterations: m.nIterRun } };
}

/** The trainer's predictions for the validation rows: what the metrics score and the ONNX graph must reproduce. */
export function predictValidation(data: TrialData, model: TrainedModel): ExpectedPredictions {
  const nVal = data.yva.length;
  const X = { matrix: data.Xva, cols: data.cols };
  if ("format" in model) {
    const Xv = Float64Array.from(data.Xva);
    return model.task === "regression"
      ? { kind: "regression", values: gbtPredictRaw(model, Xv, nVal) }
      : { kind: "classification", classes: data.classes!.length, probabilities: gbtPredictProba(model, Xv, nVal) };
  }
  if (model.kind === "logistic_regression")
    return { kind: "classification", classes: data.classes!.length, probabilities: linearPredictProba(model, X) };
  return { kind: "regression", values: predictLinear(model, X) };
}

/** The validation metrics of a trial's predictions: see docs/training.md's list by task. */
export function validationMetrics(data: TrialData, expected: ExpectedPredictions): Record<string, number> {
  if (expected.kind === "classification") {
    if (!isClassifier(data.algorithm) || !data.classes) throw new Error("classification predictions from a regressor");
    const classes = data.classes;
    const K = classes.length;
    const proba = Float64Array.from(expected.probabilities);
    const yTrue = Int32Array.from(data.yva);
    if (K === 2) {
      const scores = new Float64Array(yTrue.length);
      for (let r = 0; r < scores.length; r++) scores[r] = proba[2 * r + 1]!;
      return finiteMetrics(evaluateBinary(yTrue, scores, { classNames: [classes[0]!, classes[1]!] }).metrics.values);
    }
    return finiteMetrics(evaluateMulticlass(yTrue, proba, K, classes).metrics.values);
  }
  const all = finiteMetrics(evaluateRegression(data.yva, Float64Array.from(expected.values)).values);
  return Object.fromEntries(Object.entries(all).filter(([k]) => ["rmse", "mae", "r2"].includes(k)));
}
