import fs from "node:fs/promises";
import { finiteMetrics } from "../../evaluation/common";
import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { evaluateBinary, evaluateMulticlass, evaluateRegression } from "../../evaluation";
import { required, withInputErrorsFinal } from "../../operators/errors";
import type { Table } from "../data";
import { trainValidationSplit } from "../data";
import { exportGbtModel } from "../export-gbt";
import { ExportMismatchError, exportLinearModel, verifyExport, type ExpectedPredictions, type ExportedModel } from "../export-linear";
import { predictProba as gbtPredictProba, predictRaw as gbtPredictRaw, trainGbt, type GbtParams } from "../gbt/boost";
import { predictLinear, predictProba as linearPredictProba, trainLinearRegression, trainLogisticRegression } from "../linear";
import { loadTable, LoadColumnsError } from "../load-table";
import { fitPreprocessor, transform, type FittedPreprocessor, type PreprocessStep } from "../preprocess";

export type TrainAlgorithm = "logistic_regression" | "linear_regression" | "gbt_classifier" | "gbt_regressor";

/** Parameters of the `train` operator. */
export interface TrainParams {
  algorithm: TrainAlgorithm;
  /** The label column: class labels for classifiers (any type), numbers for regressors. Rows where it is NULL are dropped. */
  target: string;
  /** The feature columns, numeric or categorical by their Parquet type (VARCHAR and BOOLEAN are categorical). */
  features: string[];
  /**
   * Steps replacing the default preprocessing of the columns they name (a column may have several);
   * features without a step get the default. Every step's column must be among `features`.
   */
  preprocessing?: PreprocessStep[];
  /** Trainer options: l2, maxIter, tol (linear); learningRate, maxIter, maxDepth, maxLeafNodes, minSamplesLeaf, … (GBT). */
  hyperparameters?: Record<string, unknown>;
  /** Share of rows held out for validation metrics and the export check. @default 0.2 */
  validationFraction?: number;
  /** Seeds the split (and the sample when `maxRows` applies). @default 42 */
  seed?: number;
  /** A seeded sample of at most this many rows is trained on. @default every row */
  maxRows?: number;
}

const CLASSIFIERS = new Set<TrainAlgorithm>(["logistic_regression", "gbt_classifier"]);
const LINEAR_HYPERPARAMETERS = ["l2", "maxIter", "tol", "fitIntercept"];
const GBT_HYPERPARAMETERS = [
  "learningRate",
  "maxIter",
  "maxLeafNodes",
  "maxDepth",
  "minSamplesLeaf",
  "minHessianLeaf",
  "l2",
  "minGainToSplit",
  "maxBins",
  "nIterNoChange",
  "tol",
  "earlyStopping",
];
/** Share of the training rows held out inside the GBT trainer when early stopping is asked for. */
const EARLY_STOPPING_FRACTION = 0.1;

/** A mistake in the stage's parameters or data: fails the same way on every attempt. */
function bad(message: string): Error {
  return Object.assign(new Error(message), { nonRetryable: true });
}

/** The preprocessing of `features`: declared steps first-come, the default for every other column. */
export function preprocessingFor(p: TrainParams, table: Table): PreprocessStep[] {
  const gbt = p.algorithm.startsWith("gbt_");
  const declared = p.preprocessing ?? [];
  for (const s of declared) {
    if (!p.features.includes(s.column)) throw bad(`preprocessing step for "${s.column}": the column is not among the features`);
  }
  const steps: PreprocessStep[] = [];
  for (const f of p.features) {
    const own = declared.filter((s) => s.column === f);
    if (own.length > 0) {
      steps.push(...own);
      continue;
    }
    const kind = table.columns.find((c) => c.name === f)!.kind;
    if (kind === "numeric") steps.push(gbt ? { column: f } : { column: f, impute: "mean", scale: "standard" });
    else steps.push(gbt ? { column: f, oneHot: {} } : { column: f, impute: "most_frequent", oneHot: {} });
  }
  return steps;
}

/** Class names sorted (numerically for a numeric target) and each row's class index. */
function encodeClasses(values: ReadonlyArray<string | null>, numeric: boolean): { classes: string[]; y: Int32Array } {
  const distinct = [...new Set(values.filter((v): v is string => v !== null))];
  distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = new Map(distinct.map((c, i) => [c, i]));
  const y = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) y[i] = index.get(values[i]!)!;
  return { classes: distinct, y };
}

function pick(h: Record<string, unknown>, allowed: string[], algorithm: string): Record<string, unknown> {
  for (const k of Object.keys(h)) {
    if (!allowed.includes(k)) throw bad(`hyperparameter "${k}" does not apply to ${algorithm} (known: ${allowed.join(", ")})`);
  }
  return h;
}

function takeY(y: ArrayLike<number>, rows: Uint32Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = y[rows[i]!]!;
  return out;
}

/** Finite metric values only: an undefined metric (e.g. AUC with one class) stays out of the registry's metrics. */
/**
 * `train`: fits one of the built-in trainers on the `data` input (a Dataset, or a FeatureSet such as
 * a `features.trainingSet` output), exports preprocessing and model as ONE ONNX graph taking the raw
 * feature columns, checks with onnxruntime that the graph reproduces the trainer's validation
 * predictions, and writes it as the `model` output. The output's metadata holds the signature, the
 * validation metrics and the class names, ready for `createModelVersion`.
 */
export async function train(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as TrainParams;
  const data = required(ctx.inputs, "data", "input", "train");
  const modelOut = required(ctx.outputs, "model", "output", "train");
  return withInputErrorsFinal(async () => {
    const classification = CLASSIFIERS.has(p.algorithm);
    const gbt = p.algorithm.startsWith("gbt_");
    const seed = p.seed ?? 42;
    const fraction = p.validationFraction ?? 0.2;
    if (p.features.includes(p.target)) throw bad(`the target "${p.target}" cannot also be a feature`);
    if (new Set(p.features).size !== p.features.length) throw bad("features lists a column twice");

    // 1. Columns into typed arrays.
    let loaded;
    try {
      loaded = await loadTable(
        data.path,
        [...p.features.map((name) => ({ name, as: "auto" as const })), { name: p.target, as: classification ? "categorical" : "numeric" }],
        { notNull: [p.target], maxRows: p.maxRows, seed },
      );
    } catch (err) {
      if (err instanceof LoadColumnsError) throw bad(`train: ${err.message}`);
      throw err;
    }
    const targetCol = loaded.table.columns[loaded.table.columns.length - 1]!;
    const table: Table = { rows: loaded.table.rows, columns: loaded.table.columns.slice(0, -1) };
    ctx.log(`loaded ${table.rows} rows with a target (of ${loaded.fileRows}), ${p.features.length} features`);
    if (table.rows < 2) throw bad(`train: only ${table.rows} rows have a target "${p.target}"; nothing to train on`);

    let classes: string[] | undefined;
    let y: Float64Array | Int32Array;
    if (classification) {
      const numericTarget =
        /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL)/i.test(
          loaded.types[p.target]!,
        );
      const enc = encodeClasses(targetCol.values as ReadonlyArray<string | null>, numericTarget);
      if (enc.classes.length < 2)
        throw bad(`train: the target "${p.target}" has ${enc.classes.length} distinct value(s); a classifier needs 2 or more`);
      classes = enc.classes;
      y = enc.y;
    } else {
      y = targetCol.values as Float64Array;
      for (let i = 0; i < y.length; i++) if (!Number.isFinite(y[i]!)) throw bad(`train: target "${p.target}" has a non-finite value`);
    }

    // 2. Split, then preprocessing fitted on the training rows only.
    const split = trainValidationSplit(table.rows, fraction, seed);
    if (split.validation.length === 0) throw bad("train: the validation split is empty; raise validationFraction or provide more rows");
    if (split.train.length === 0) throw bad("train: no training rows left after the validation split");
    const steps = preprocessingFor(p, table);
    let fitted: FittedPreprocessor;
    try {
      fitted = fitPreprocessor(table, split.train, steps);
    } catch (err) {
      throw bad(`train: preprocessing: ${(err as Error).message}`);
    }
    const Xtr = transform(fitted, table, split.train);
    const Xva = transform(fitted, table, split.validation);
    const ytr = takeY(y, split.train);
    const yva = takeY(y, split.validation);
    const h = p.hyperparameters ?? {};
    const K = classes?.length ?? 0;

    // 3. Train and export; the trainer's validation predictions are what the graph must reproduce.
    let exported: ExportedModel;
    let expected: ExpectedPredictions;
    let details: Record<string, unknown> = {};
    try {
      if (!gbt) {
        const opts = pick(h, LINEAR_HYPERPARAMETERS, p.algorithm) as {
          l2?: number;
          maxIter?: number;
          tol?: number;
          fitIntercept?: boolean;
        };
        if (p.algorithm === "logistic_regression") {
          const model = trainLogisticRegression(Xtr, ytr, { ...opts, classes: K });
          exported = exportLinearModel(fitted, model);
          expected = { kind: "classification", classes: K, probabilities: linearPredictProba(model, Xva) };
          details = { iterations: model.iterations, converged: model.converged };
          if (!model.converged) ctx.log(`logistic regression did not converge in ${model.iterations} iterations`);
        } else {
          // Ridge by default (sklearn Ridge's alpha = 1): a full one-hot encoding plus the intercept is collinear.
          const model = trainLinearRegression(Xtr, ytr, { l2: opts.l2 ?? 1, fitIntercept: opts.fitIntercept });
          exported = exportLinearModel(fitted, model);
          expected = { kind: "regression", values: predictLinear(model, Xva) };
        }
      } else {
        const params = pick(h, GBT_HYPERPARAMETERS, p.algorithm) as GbtParams;
        const X = Float64Array.from(Xtr.matrix);
        // Early stopping scores a slice of the training rows, never the validation rows the metrics come from.
        const inner = params.earlyStopping ? trainValidationSplit(split.train.length, EARLY_STOPPING_FRACTION, seed + 1) : null;
        const model = trainGbt({
          task: classification ? (K === 2 ? "binary" : "multiclass") : "regression",
          X,
          rows: split.train.length,
          cols: fitted.cols,
          featureNames: fitted.featureNames,
          y: ytr,
          nClasses: classification ? K : undefined,
          trainRows: inner?.train,
          validRows: inner?.validation,
          params,
        });
        exported = exportGbtModel(fitted, model);
        const Xv = Float64Array.from(Xva.matrix);
        expected = classification
          ? { kind: "classification", classes: K, probabilities: gbtPredictProba(model, Xv, split.validation.length) }
          : { kind: "regression", values: gbtPredictRaw(model, Xv, split.validation.length) };
        details = { trees: model.trees.length, iterations: model.nIterRun };
      }
    } catch (err) {
      throw bad(`train: ${p.algorithm}: ${(err as Error).message}`);
    }

    // 4. The graph, run by onnxruntime as serving will run it, must agree with the trainer.
    await modelOut.writeBuffer(exported.bytes);
    let maxAbsDiff: number;
    try {
      maxAbsDiff = (await verifyExport(exported.bytes, table, split.validation, expected, 1e-5)).maxAbsDiff;
    } catch (err) {
      if (err instanceof ExportMismatchError) throw Object.assign(err, { nonRetryable: true });
      throw err;
    }
    ctx.log(`ONNX export verified on ${split.validation.length} validation rows (max abs diff ${maxAbsDiff})`);

    // 5. Validation metrics.
    let metrics: Record<string, number>;
    if (expected.kind === "classification") {
      const proba = Float64Array.from(expected.probabilities);
      const yTrue = Int32Array.from(yva);
      if (K === 2) {
        const scores = new Float64Array(yTrue.length);
        for (let r = 0; r < scores.length; r++) scores[r] = proba[2 * r + 1]!;
        metrics = finiteMetrics(evaluateBinary(yTrue, scores, { classNames: [classes![0]!, classes![1]!] }).metrics.values);
      } else metrics = finiteMetrics(evaluateMulticlass(yTrue, proba, K, classes).metrics.values);
    } else {
      const all = finiteMetrics(evaluateRegression(yva, Float64Array.from(expected.values)).values);
      metrics = Object.fromEntries(Object.entries(all).filter(([k]) => ["rmse", "mae", "r2"].includes(k)));
    }
    for (const [name, value] of Object.entries(metrics)) ctx.metric(name, value);
    ctx.log(
      `validation: ${Object.entries(metrics)
        .map(([k, v]) => `${k}=${v.toFixed(4)}`)
        .join(" ")}`,
    );
    const size = (await fs.stat(modelOut.path)).size;

    return {
      model: {
        metadata: {
          format: "onnx",
          algorithm: p.algorithm,
          signature: exported.signature,
          metrics,
          ...(classes ? { classes } : {}),
          features: p.features,
          featureNames: fitted.featureNames,
          target: p.target,
          trainRows: split.train.length,
          validationRows: split.validation.length,
          onnxMaxAbsDiff: maxAbsDiff,
          seed,
          validationFraction: fraction,
          sizeBytes: size,
          training: details,
        },
      },
    };
  });
}
