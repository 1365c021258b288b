import * as ort from "onnxruntime-node";
import { finiteMetrics } from "../common";
import type { StageContext, StageInput, StageOutputResult } from "../../../runners/local/stage";
import { InvalidInputError } from "../../kernel/errors";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "../../datasets/columnar";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { type ModelSignature, readSignature, type TensorSpec } from "../../registry";
import { EvaluationInputError } from "../common";
import { type ClassifierPredictions, type EvaluationReport, evaluateClassifier, evaluateRegressor, type SliceRequest } from "../report";

/** Parameters of the `evaluate` operator. */
export interface EvaluateParams {
  /** The label column. */
  target: string;
  /** @default from the model: a `probabilities` output means classification (binary with 2 classes), else regression */
  task?: "binary" | "multiclass" | "regression";
  /** Decision threshold for binary hard predictions. @default 0.5 */
  threshold?: number;
  /** Categorical columns to report metrics per value of. */
  slices?: string[];
  /** A column whose groups get fairness metrics (binary classification). */
  sensitive?: string;
  /** Binary: the target value that is class 1 (every other value is class 0). */
  positiveLabel?: string | number | boolean;
  /** Evaluate at most this many rows (the first ones). */
  maxRows?: number;
  /** Slices and fairness groups with fewer rows are marked belowMinCount. @default 30 */
  minCount?: number;
}

type Task = "binary" | "multiclass" | "regression";
type Row = Record<string, unknown>;

const BATCH = 50_000;

function bad(field: string, message: string): InvalidInputError {
  return new InvalidInputError([{ field, message }]);
}

/** The column's values as strings (null kept): slice and fairness groups. */
function groupsOf(rows: Row[], column: string): Array<string | null> {
  return rows.map((r) => {
    const v = r[column];
    return v === null || v === undefined ? null : typeof v === "object" ? JSON.stringify(v) : String(v);
  });
}

/** The number of classes a model's `probabilities` output declares, when its shape says. */
function declaredClasses(sig: ModelSignature): number | null {
  const p = sig.outputs.find((o) => o.name === "probabilities");
  const k = p?.shape?.[1];
  return typeof k === "number" ? k : null;
}

/** One feed tensor for a signature input, from the same-named column of `rows`. */
function feedFor(spec: TensorSpec, rows: Row[], field: string): ort.Tensor {
  const n = rows.length;
  const width = spec.shape && spec.shape.length >= 2 && typeof spec.shape[1] === "number" ? spec.shape[1] : 1;
  const dims = spec.shape && spec.shape.length === 1 ? [n] : [n, width];
  const cell = (r: Row): unknown[] => {
    const v = r[spec.name];
    if (width === 1) return [Array.isArray(v) && v.length === 1 ? v[0] : v];
    if (!Array.isArray(v) || v.length !== width)
      throw bad(field, `input ${spec.name} takes ${width} values per row: column ${spec.name} must be a list of ${width}`);
    return v;
  };
  const flat: unknown[] = [];
  for (const r of rows) for (const v of cell(r)) flat.push(v);
  const num = (v: unknown): number => (v === null || v === undefined ? NaN : typeof v === "boolean" ? Number(v) : Number(v));
  switch (spec.type) {
    case "float":
      return new ort.Tensor("float32", Float32Array.from(flat, num), dims);
    case "double":
      return new ort.Tensor("float64", Float64Array.from(flat, num), dims);
    case "int64":
      return new ort.Tensor(
        "int64",
        BigInt64Array.from(flat, (v) => BigInt(Math.trunc(num(v) || 0))),
        dims,
      );
    case "int32":
      return new ort.Tensor(
        "int32",
        Int32Array.from(flat, (v) => Math.trunc(num(v) || 0)),
        dims,
      );
    case "bool":
      return new ort.Tensor(
        "bool",
        Uint8Array.from(flat, (v) => (v ? 1 : 0)),
        dims,
      );
    case "string":
      return new ort.Tensor(
        "string",
        flat.map((v) => (v === null || v === undefined ? "" : String(v))),
        dims,
      );
    default:
      throw bad(field, `input ${spec.name} has element type ${spec.type}, which the evaluate operator cannot feed`);
  }
}

interface ModelRun {
  /** Regression: one value per row. Classification: row-major [n × classes]. */
  values: Float64Array;
  classes: number;
}

/** Runs the model over `rows` in batches; returns its probabilities (classification) or predictions (regression). */
async function runModel(bytes: Uint8Array, sig: ModelSignature, rows: Row[], task: Task, field: string): Promise<ModelRun> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (err) {
    throw bad(field, `onnxruntime cannot load it: ${(err as Error).message.split("\n")[0]}`);
  }
  try {
    const classification = task !== "regression";
    const outName = classification
      ? (sig.outputs.find((o) => o.name === "probabilities") ?? sig.outputs[1])?.name
      : (sig.outputs.find((o) => o.name === "variable") ?? sig.outputs[0])?.name;
    if (!outName) throw bad(field, `has no ${classification ? "probabilities" : "prediction"} output`);
    const parts: Float64Array[] = [];
    let classes = classification ? 0 : 1;
    for (let start = 0; start < Math.max(rows.length, 1); start += BATCH) {
      const batch = rows.slice(start, start + BATCH);
      if (batch.length === 0) break;
      const feeds: Record<string, ort.Tensor> = {};
      for (const spec of sig.inputs) feeds[spec.name] = feedFor(spec, batch, field);
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run(feeds, [outName]);
      } catch (err) {
        throw bad(field, `onnxruntime failed to run it: ${(err as Error).message.split("\n")[0]}`);
      }
      const t = out[outName] as ort.Tensor | undefined;
      if (!t || !("data" in t) || typeof t.data === "string" || Array.isArray(t.data)) {
        throw bad(field, `output ${outName} is not a numeric tensor (export classifiers without ZipMap)`);
      }
      if (classification) {
        const k = t.dims.length === 2 ? Number(t.dims[1]) : 0;
        if (k < 2) throw bad(field, `output ${outName} has shape [${t.dims.join(", ")}]; a classifier's probabilities are [N, classes]`);
        classes = k;
      }
      parts.push(Float64Array.from(t.data as ArrayLike<number>, Number));
    }
    const values = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) {
      values.set(p, at);
      at += p.length;
    }
    if (!classification && values.length !== rows.length)
      throw bad(field, `gives ${values.length} predictions for ${rows.length} rows; a regressor's output is [N] or [N, 1]`);
    return { values, classes: classification ? classes || declaredClasses(sig) || 2 : 1 };
  } finally {
    await session.release();
  }
}

/** Maps target values to class indices 0..K−1, consistently with the model's class order. */
function encodeTarget(
  values: unknown[],
  classes: number,
  modelClasses: unknown[] | null,
  positiveLabel: EvaluateParams["positiveLabel"],
): { y: Int32Array; names: string[] } {
  const y = new Int32Array(values.length);
  if (positiveLabel !== undefined) {
    if (classes !== 2) throw bad("params.positiveLabel", "applies to binary classification only");
    const pos = String(positiveLabel);
    values.forEach((v, i) => (y[i] = String(v) === pos ? 1 : 0));
    return { y, names: [`not ${pos}`, pos] };
  }
  if (modelClasses) {
    const names = modelClasses.map(String);
    if (names.length !== classes) throw bad("inputs.model", `its metadata lists ${names.length} classes but it outputs ${classes}`);
    const index = new Map(names.map((c, i) => [c, i]));
    values.forEach((v, i) => {
      const k = index.get(typeof v === "boolean" ? String(v) : String(v));
      if (k === undefined) throw bad("params.target", `value ${JSON.stringify(v)} is not one of the model's classes (${names.join(", ")})`);
      y[i] = k;
    });
    return { y, names };
  }
  values.forEach((v, i) => {
    const k = typeof v === "boolean" ? Number(v) : Number(v);
    if (!Number.isInteger(k) || k < 0 || k >= classes) {
      throw bad(
        "params.target",
        `value ${JSON.stringify(v)} is not a class index 0..${classes - 1}; give positiveLabel, or train with a model that records its classes`,
      );
    }
    y[i] = k;
  });
  return { y, names: Array.from({ length: classes }, (_, i) => String(i)) };
}

/** Reads the columns the evaluation needs, dropping rows without a target. */
async function loadRows(file: string, columns: string[], target: string, maxRows?: number): Promise<{ rows: Row[]; dropped: number }> {
  return withDuckDb(async (conn) => {
    const src = `read_parquet(${sqlString(file)})`;
    const present = new Set((await queryJson(conn, `DESCRIBE SELECT * FROM ${src}`)).map((r) => String(r.column_name)));
    const missing = columns.filter((c) => !present.has(c));
    if (missing.length > 0) throw bad("inputs.data", `has no column ${missing.join(", ")} (needed by the model or the params)`);
    const limit = maxRows !== undefined ? ` LIMIT ${Math.max(0, Math.trunc(maxRows))}` : "";
    const base = `(SELECT * FROM ${src}${limit})`;
    const rows = await queryJson(conn, `SELECT ${columns.map(sqlIdent).join(", ")} FROM ${base} WHERE ${sqlIdent(target)} IS NOT NULL`);
    const [{ n }] = (await queryJson(conn, `SELECT count(*) AS n FROM ${base}`)) as Array<{ n: number }>;
    return { rows, dropped: Number(n) - rows.length };
  });
}

/** The report's flat, finite metrics: what a model version's `metrics` can take. */
export function flatMetrics(report: EvaluationReport): Record<string, number> {
  const f = report.kind === "classification" ? report.fairness : undefined;
  return finiteMetrics({
    ...report.metrics,
    ...(f
      ? {
          demographic_parity_difference: f.demographicParityDifference,
          demographic_parity_ratio: f.demographicParityRatio,
          equalized_odds_difference: f.equalizedOddsDifference,
        }
      : {}),
  });
}

function classesOf(input: StageInput): unknown[] | null {
  const c = input.metadata?.classes;
  return Array.isArray(c) && c.length >= 2 ? c : null;
}

/**
 * `evaluate`: scores the `model` input (an ONNX file) on the `data` input (Parquet) — and the
 * optional `champion` model on the same rows — and writes the plot-ready evaluation report
 * (metrics, curves, confusion matrix, slices, fairness, comparison) as the `report` output. At
 * the stage's completion the report is stored against the model artifact (and its registered
 * version, when it is or becomes one) and the data's dataset version.
 */
export async function evaluate(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as EvaluateParams;
  const modelIn = required(ctx.inputs, "model", "input", "evaluate");
  const data = required(ctx.inputs, "data", "input", "evaluate");
  const reportOut = required(ctx.outputs, "report", "output", "evaluate");
  const championIn = ctx.inputs.champion;
  return withInputErrorsFinal(async () => {
    const bytes = new Uint8Array(await modelIn.readBuffer());
    const sig = readSignature(bytes);
    const championBytes = championIn ? new Uint8Array(await championIn.readBuffer()) : null;
    const championSig = championBytes ? readSignature(championBytes) : null;

    const hasProba = sig.outputs.some((o) => o.name === "probabilities");
    const modelClasses = classesOf(modelIn);
    let task: Task =
      p.task ?? (hasProba ? ((modelClasses?.length ?? declaredClasses(sig) ?? 2) > 2 ? "multiclass" : "binary") : "regression");

    const slices = p.slices ?? [];
    const columns = [
      ...new Set([p.target, ...sig.inputs.map((i) => i.name), ...(championSig?.inputs.map((i) => i.name) ?? []), ...slices]),
    ];
    if (p.sensitive && !columns.includes(p.sensitive)) columns.push(p.sensitive);
    const { rows, dropped } = await loadRows(data.path, columns, p.target, p.maxRows);
    if (rows.length === 0) throw bad("inputs.data", `has no rows with a ${p.target} value to evaluate on`);
    ctx.log(`evaluating on ${rows.length} rows${dropped > 0 ? ` (${dropped} without ${p.target} skipped)` : ""}, task ${task}`);

    const candidate = await runModel(bytes, sig, rows, task, "inputs.model");
    const champion = championBytes && championSig ? await runModel(championBytes, championSig, rows, task, "inputs.champion") : null;
    if (task !== "regression") {
      // The model's output decides binary vs multiclass when the params do not.
      if (!p.task) task = candidate.classes > 2 ? "multiclass" : "binary";
      if (task === "binary" && candidate.classes !== 2)
        throw bad("params.task", `is binary but the model outputs ${candidate.classes} classes`);
      if (champion && champion.classes !== candidate.classes)
        throw bad("inputs.champion", `outputs ${champion.classes} classes, the model ${candidate.classes}`);
    }

    const sliceRequests: SliceRequest[] = slices.map((column) => ({ column, values: groupsOf(rows, column) }));
    const common = { evaluationSetId: data.hash, slices: sliceRequests, minCount: p.minCount };
    const targetValues = rows.map((r) => r[p.target]);
    let report: EvaluationReport;
    try {
      if (task === "regression") {
        const yTrue = Float64Array.from(targetValues, (v) => Number(v));
        if (yTrue.some((v) => !Number.isFinite(v))) throw bad("params.target", `column ${p.target} must be numeric for regression`);
        report = evaluateRegressor(yTrue, candidate.values, {
          ...common,
          champion: champion ? { id: championIn!.artifactId, yPred: champion.values } : undefined,
        });
      } else {
        const { y, names } = encodeTarget(targetValues, candidate.classes, modelClasses, p.positiveLabel);
        const predictions = (run: ModelRun): ClassifierPredictions =>
          task === "binary"
            ? { kind: "binary", scores: Float64Array.from({ length: rows.length }, (_, i) => run.values[i * 2 + 1]!) }
            : { kind: "multiclass", proba: run.values, classes: run.classes };
        if (p.sensitive && task !== "binary") throw bad("params.sensitive", "fairness metrics are defined for binary classifiers only");
        report = evaluateClassifier(y, predictions(candidate), {
          ...common,
          threshold: p.threshold,
          classNames: names,
          fairness: p.sensitive ? { column: p.sensitive, values: groupsOf(rows, p.sensitive) } : undefined,
          champion: champion ? { id: championIn!.artifactId, predictions: predictions(champion) } : undefined,
        });
      }
    } catch (err) {
      if (err instanceof EvaluationInputError) throw bad("inputs", err.message);
      throw err;
    }

    const metrics = flatMetrics(report);
    for (const [k, v] of Object.entries(metrics)) ctx.metric(k, v);
    if (report.comparison) {
      ctx.log(`against the champion: ${report.comparison.improvedCount} metrics improved, ${report.comparison.regressedCount} regressed`);
    }
    await reportOut.writeJson(report);
    return {
      report: {
        metadata: {
          task,
          rowCount: report.rowCount,
          metrics,
          register: {
            type: "evaluationReport",
            modelInput: "model",
            dataInput: "data",
            ...(championIn ? { championInput: "champion" } : {}),
            task,
            metrics,
            report,
          },
        },
      },
    };
  });
}
