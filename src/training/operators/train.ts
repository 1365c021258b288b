import fs from "node:fs/promises";
import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { SluiceError } from "../../kernel/errors";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import type { Table } from "../data";
import { trainValidationSplit } from "../data";
import { exportGbtModel } from "../export-gbt";
import { ExportMismatchError, exportLinearModel, verifyExport, type ExportedModel } from "../export-linear";
import { hyperparametersOf, isClassifier, type TrainAlgorithm, type TrainTask } from "../hyperparameters";
import { loadTable, LoadColumnsError } from "../load-table";
import { fitPreprocessor, transform, type FittedPreprocessor, type PreprocessStep } from "../preprocess";
import { searchConfigurations, searchDirection, searchSpecProblems, type SearchProblem, type SearchSpec } from "../search";
import { runTrials, type TrialRecord } from "../search-pool";
import { predictValidation, runTrial, type TrainedModel, type TrialData } from "../trial";

export type { TrainAlgorithm } from "../hyperparameters";

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
  /** Hyperparameter search: each configuration of `search.space` (laid over `hyperparameters`) is a trial; the best one's model is the output. */
  search?: SearchSpec & { workers?: number };
}

/**
 * A mistake in the stage's parameters or data: fails the same way on every attempt. When `cause`
 * is a typed input error (a trainer's or the preprocessing's), its `code` and `problems` go along
 * into the stage failure's details.
 */
function bad(message: string, cause?: unknown): Error {
  const typed = cause instanceof SluiceError ? { code: cause.code, details: cause.details } : {};
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { nonRetryable: true, ...typed });
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

function checkHyperparameters(h: Record<string, unknown>, algorithm: TrainAlgorithm): Record<string, unknown> {
  const allowed = hyperparametersOf(algorithm);
  for (const k of Object.keys(h)) {
    if (!allowed.includes(k)) throw bad(`train: hyperparameter "${k}" does not apply to ${algorithm} (known: ${allowed.join(", ")})`);
  }
  return h;
}

/** A refused search spec, every problem named by its field under params. */
function badSearch(problems: SearchProblem[]): Error {
  return bad(`train: invalid search: ${problems.map((p) => `params.${p.path.join(".")}: ${p.message}`).join("; ")}`);
}

/**
 * Worker threads for a search's trials. By default none: the trials run one after another in the
 * stage's own worker thread. On the 2-core machines Sluice is measured on, the local runner already
 * keeps one core for the server, and two trial threads did not finish sooner (docs/training.md, "Hyperparameter
 * search"; bench/training-search.ts); `search.workers` asks for threads where there are cores to spare.
 */
function searchWorkers(requested: number | undefined): number {
  return requested ?? 0;
}

function takeY(y: ArrayLike<number>, rows: Uint32Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = y[rows[i]!]!;
  return out;
}

/**
 * `train`: fits one of the built-in trainers on the `data` input (a Dataset, or a FeatureSet such as
 * a `features.trainingSet` output), exports preprocessing and model as ONE ONNX graph taking the raw
 * feature columns, checks with onnxruntime that the graph reproduces the trainer's validation
 * predictions, and writes it as the `model` output. The output's metadata holds the signature, the
 * validation metrics and the class names, ready for `createModelVersion`. With `search`, every
 * configuration is a trial on the same split and preprocessing; the best trial's model is the one
 * exported, and all trials go into the metadata's `search`.
 */
export async function train(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as TrainParams;
  const data = required(ctx.inputs, "data", "input", "train");
  const modelOut = required(ctx.outputs, "model", "output", "train");
  return withInputErrorsFinal(async () => {
    const classification = isClassifier(p.algorithm);
    const h = checkHyperparameters(p.hyperparameters ?? {}, p.algorithm);
    if (p.search !== undefined) {
      // The contract checks this at apply; run-time parameter overrides are checked only here.
      const problems = searchSpecProblems(p.search, p.algorithm, h);
      if (problems.length > 0) throw badSearch(problems);
    }
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
      throw bad(`train: preprocessing: ${(err as Error).message}`, err);
    }
    const task: TrainTask = !classification ? "regression" : classes!.length === 2 ? "binary" : "multiclass";
    if (p.search !== undefined) {
      const problems = searchSpecProblems(p.search, p.algorithm, h, task);
      if (problems.length > 0) throw badSearch(problems);
    }
    const trialData: TrialData = {
      algorithm: p.algorithm,
      classes,
      cols: fitted.cols,
      featureNames: fitted.featureNames,
      Xtr: transform(fitted, table, split.train).matrix,
      ytr: takeY(y, split.train),
      Xva: transform(fitted, table, split.validation).matrix,
      yva: takeY(y, split.validation),
      seed,
    };

    // 3. Train — one trial, or a search's trials on the same split and preprocessing — keeping the
    // model to export and its validation predictions, which the graph must reproduce.
    let model: TrainedModel;
    let metrics: Record<string, number>;
    let details: Record<string, unknown>;
    let hyperparameters = h;
    let search: Record<string, unknown> | undefined;
    if (p.search === undefined) {
      try {
        const trial = runTrial(trialData, h);
        ({ model, metrics, details } = trial);
      } catch (err) {
        throw bad(`train: ${p.algorithm}: ${(err as Error).message}`, err);
      }
      if ("converged" in model && !model.converged) ctx.log(`logistic regression did not converge in ${model.iterations} iterations`);
    } else {
      const spec = p.search;
      const direction = searchDirection(spec);
      const configs = searchConfigurations(spec, seed).map((c) => ({ ...h, ...c }));
      const workers = searchWorkers(spec.workers);
      ctx.log(
        `${spec.strategy} search: ${configs.length} trials by ${spec.metric} (${direction}), ${workers === 0 ? "in this thread" : `${workers} worker threads`}`,
      );
      const started = Date.now();
      const outcome = await runTrials(trialData, configs, {
        metric: spec.metric,
        direction,
        workers,
        signal: ctx.signal,
        onTrial(index, trial) {
          const value = trial.metrics[spec.metric];
          if (value !== undefined) ctx.metric(`trial.${spec.metric}`, value, index);
          ctx.log(
            `trial ${index} ${JSON.stringify(trial.params)}: ${trial.error ? `failed: ${trial.error}` : `${spec.metric}=${value ?? "undefined"}`} (${trial.durationMs} ms)`,
          );
        },
      });
      if (outcome.best === null || outcome.bestModel === null) {
        const errors = outcome.trials.filter((t) => t.error).map((t) => t.error);
        throw bad(
          `train: no trial of the search produced the metric "${spec.metric}"` +
            (errors.length ? ` (${errors.length} failed; first: ${errors[0]})` : ""),
        );
      }
      const best: TrialRecord = outcome.trials[outcome.best]!;
      ctx.log(`search done in ${Date.now() - started} ms: trial ${outcome.best} is best, ${spec.metric}=${best.metrics[spec.metric]}`);
      model = outcome.bestModel;
      metrics = best.metrics;
      details = best.training ?? {};
      hyperparameters = best.params;
      search = {
        strategy: spec.strategy,
        metric: spec.metric,
        direction,
        ...(spec.strategy === "random" && { seed: spec.seed ?? seed }),
        best: outcome.best,
        trials: outcome.trials,
      };
    }

    // 4. Export the model (the search's winner only), and check that the graph, run by onnxruntime
    // as serving will run it, agrees with the trainer.
    const expected = predictValidation(trialData, model);
    let exported: ExportedModel;
    try {
      exported = "format" in model ? exportGbtModel(fitted, model, classes) : exportLinearModel(fitted, model, classes);
    } catch (err) {
      throw bad(`train: ${p.algorithm}: ${(err as Error).message}`, err);
    }
    await modelOut.writeBuffer(exported.bytes);
    let maxAbsDiff: number;
    try {
      maxAbsDiff = (await verifyExport(exported.bytes, table, split.validation, expected, 1e-5)).maxAbsDiff;
    } catch (err) {
      if (err instanceof ExportMismatchError) throw Object.assign(err, { nonRetryable: true });
      throw err;
    }
    ctx.log(`ONNX export verified on ${split.validation.length} validation rows (max abs diff ${maxAbsDiff})`);

    // 5. Validation metrics (the winner's, for a search).
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
          hyperparameters,
          training: details,
          // The server records each trial as a child tracking run of one run for the search.
          ...(search && { search, register: { type: "searchTrials" } }),
        },
      },
    };
  });
}
