/**
 * ONNX export of a linear model together with its preprocessing, as one graph, and the check that
 * the exported graph — run by onnxruntime, as serving will run it — predicts what the trainer
 * predicted.
 *
 * Outputs: a regressor gives `variable` float [N, 1]; a classifier gives `label` int64 [N] (class
 * indices 0..C-1) and `probabilities` float [N, C] — or, when its class names are given, `label`
 * string [N] (the names, as skl2onnx answers), `probabilities` and `label_index` int64 [N]
 * (onnx/class-labels.ts).
 *
 * Binary classification writes LinearClassifier with ONE coefficient row (the log-odds of class
 * 1), classlabels [0, 1] and post_transform LOGISTIC: onnxruntime then returns two columns
 * [1 - p, p], which is what we want. Checked against onnxruntime 1.x: with two coefficient rows
 * and LOGISTIC it applies an independent sigmoid per column (rows do not sum to 1), and with one
 * row and NONE it returns [1 - score, score] — neither is a probability, so neither is used.
 * Multinomial writes C rows with post_transform SOFTMAX.
 */
import { InvalidInputError } from "../kernel/errors";
import * as ort from "onnxruntime-node";
import { onnx } from "onnx-proto";
import type { Table } from "./data";
import type { LinearRegressionModel, LogisticRegressionModel } from "./linear";
import { argmaxRows } from "./linear";
import { ML_DOMAIN, valueInfo, GraphBuilder } from "./onnx/builder";
import { LABEL_INDEX_OUTPUT, addClassLabels, classLabelsMetadata } from "./onnx/class-labels";
import { columnFeed, exportPreprocessor, inputSignature, type FittedPreprocessor, type TensorSignature } from "./preprocess";

export interface ModelSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

export interface ExportedModel {
  bytes: Uint8Array;
  signature: ModelSignature;
}

/** `classes`: a classifier's class names in index order, exported as the `label` output (the index as `label_index`). */
export function exportLinearModel(
  fitted: FittedPreprocessor,
  model: LinearRegressionModel | LogisticRegressionModel,
  classes?: readonly string[],
): ExportedModel {
  if (model.features !== fitted.cols)
    throw new Error(`the model has ${model.features} features, the preprocessing produces ${fitted.cols}`);
  const g = new GraphBuilder();
  const { inputs, output: features } = exportPreprocessor(fitted, g);
  let outputs: TensorSignature[];
  if (model.kind === "linear_regression") {
    outputs = [{ name: "variable", type: "float", shape: [null, 1] }];
    g.node(
      "LinearRegressor",
      [features],
      ["variable"],
      { coefficients: { floats: Array.from(model.coefficients) }, intercepts: { floats: [model.intercept] }, targets: { int: 1 } },
      ML_DOMAIN,
    );
  } else {
    const C = model.classes;
    if (classes && classes.length !== C) throw new Error(`${classes.length} class names for a model of ${C} classes`);
    // With class names the node's index output is `label_index`, and `label` their names.
    const index = classes ? LABEL_INDEX_OUTPUT : "label";
    outputs = [
      { name: index, type: "int64", shape: [null] },
      { name: "probabilities", type: "float", shape: [null, C] },
    ];
    g.node(
      "LinearClassifier",
      [features],
      [index, "probabilities"],
      {
        coefficients: { floats: Array.from(model.coefficients) },
        intercepts: { floats: Array.from(model.intercepts) },
        classlabels_ints: { ints: Array.from({ length: C }, (_, i) => i) },
        post_transform: { string: model.intercepts.length === 1 ? "LOGISTIC" : "SOFTMAX" },
        multi_class: { int: 0 },
      },
      ML_DOMAIN,
    );
    // skl2onnx's order: label (the names) then probabilities; the index last.
    if (classes) outputs = [addClassLabels(g, index, classes), outputs[1]!, outputs[0]!];
  }
  checkNames(g, fitted, outputs);
  const bytes = g.build({
    inputs,
    outputs: outputs.map((o) => valueInfo(o.name, o.type, o.shape)),
    graphName: model.kind,
    docString: `sluice ${model.kind}; features: ${fitted.featureNames.join(", ")}`,
    metadata: model.kind === "linear_regression" ? {} : classLabelsMetadata(classes),
    requireTypes: true,
  });
  return { bytes, signature: { inputs: inputSignature(fitted), outputs } };
}

/** Column names become graph input names, so they must not clash with internal or output names. */
function checkNames(g: GraphBuilder, fitted: FittedPreprocessor, outputs: TensorSignature[]): void {
  const internal = new Set<string>([...g.initializers.map((t) => t.name ?? ""), ...g.nodes.flatMap((n) => n.output ?? [])]);
  for (const o of outputs) internal.add(o.name);
  for (const i of fitted.inputs) {
    if (internal.has(i.name))
      throw new InvalidInputError([
        { field: i.name, message: "the column name clashes with a name inside the exported graph: rename the column" },
      ]);
  }
}

export type ExpectedPredictions =
  { kind: "regression"; values: ArrayLike<number> } | { kind: "classification"; classes: number; probabilities: ArrayLike<number> };

export interface VerifyResult {
  rows: number;
  maxAbsDiff: number;
  /** Rows whose ONNX label differs from the trainer's only because their top probabilities tie within tolerance. */
  tiedLabels: number;
}

export class ExportMismatchError extends Error {
  constructor(
    message: string,
    readonly maxAbsDiff: number,
  ) {
    super(message);
    this.name = "ExportMismatchError";
  }
}

/**
 * Runs the exported model on `rows` of `table` with onnxruntime and compares with the trainer's
 * predictions. Passes when every value is within `tolerance · max(1, |expected|)` — absolute for
 * probabilities and small values, relative for large regression targets, where float32's own
 * rounding exceeds 1e-5 — and every label agrees unless the trainer's top probabilities tie within
 * the tolerance. Throws ExportMismatchError naming the first offending row otherwise.
 */
export async function verifyExport(
  bytes: Uint8Array,
  table: Table,
  rows: Uint32Array,
  expected: ExpectedPredictions,
  tolerance = 1e-5,
): Promise<VerifyResult> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const feed = columnFeed(table, name, rows);
      feeds[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
    }
    const out = await session.run(feeds);
    const n = rows.length;
    let maxAbsDiff = 0;
    let firstBad: string | null = null;
    const compare = (output: string, got: ArrayLike<number>, want: ArrayLike<number>, width: number) => {
      if (got.length !== want.length)
        throw new ExportMismatchError(`output "${output}" has ${got.length} values, expected ${want.length}`, Infinity);
      for (let i = 0; i < want.length; i++) {
        const diff = Math.abs(got[i]! - want[i]!);
        // NaN on either side (and not both) is a mismatch; the comparison below is false for NaN.
        const ok = diff <= tolerance * Math.max(1, Math.abs(want[i]!)) || (Number.isNaN(got[i]!) && Number.isNaN(want[i]!));
        if (!Number.isNaN(diff)) maxAbsDiff = Math.max(maxAbsDiff, diff);
        else if (!ok) maxAbsDiff = Infinity;
        if (!ok && firstBad === null) {
          const row = Math.floor(i / width);
          firstBad = `output "${output}" row ${rows[row]} (position ${row}) column ${i % width}: onnxruntime ${got[i]}, trainer ${want[i]}`;
        }
      }
    };
    let tiedLabels = 0;
    if (expected.kind === "regression") {
      compare("variable", out.variable!.data as Float32Array, expected.values, 1);
    } else {
      const C = expected.classes;
      compare("probabilities", out.probabilities!.data as Float32Array, expected.probabilities, C);
      const want = argmaxRows(expected.probabilities, C);
      // The index output: `label_index` when the graph names the classes, else `label`.
      const got = (out[LABEL_INDEX_OUTPUT] ?? out.label)!.data as BigInt64Array;
      for (let r = 0; r < n && firstBad === null; r++) {
        const g = Number(got[r]);
        if (g === want[r]) continue;
        const p = expected.probabilities;
        const tied = g >= 0 && g < C && Math.abs(p[r * C + g]! - p[r * C + want[r]!]!) <= tolerance;
        if (tied) tiedLabels++;
        else firstBad = `output "label" row ${rows[r]} (position ${r}): onnxruntime ${g}, trainer ${want[r]}`;
      }
    }
    if (firstBad !== null)
      throw new ExportMismatchError(
        `the exported model does not reproduce the trainer (tolerance ${tolerance}, max abs diff ${maxAbsDiff}): ${firstBad}`,
        maxAbsDiff,
      );
    return { rows: n, maxAbsDiff, tiedLabels };
  } finally {
    await session.release();
  }
}

/** Decodes a model for inspection (and, in tests, deliberate corruption). */
export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
