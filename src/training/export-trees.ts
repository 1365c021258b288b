/**
 * ONNX export of gradient-boosted tree models as ai.onnx.ml TreeEnsembleRegressor/Classifier, and the
 * round-trip check that an export predicts what the trainer predicts.
 *
 * Splits are written as BRANCH_LEQ on the trainer's float32 thresholds with the learned NaN direction
 * in nodes_missing_value_tracks_true, so onnxruntime routes each float32 input row through the same
 * leaves as the trainer (see gbt/binning.ts). Scores are summed in float32 by onnxruntime, hence the
 * tolerance in verification.
 */
import * as ort from "onnxruntime-node";
import type { GbtModel } from "./gbt/boost";
import { GraphBuilder, ML_DOMAIN, valueInfo, type AttributeValue } from "./onnx/builder";

export interface TensorSignature {
  name: string;
  type: "float" | "int64";
  /** null = dynamic (batch) dimension. */
  shape: Array<number | null>;
}

export interface TreeExportSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

export interface TreeEnsembleOutputs {
  /** Classifier: predicted class (int64 [N]) and probabilities (float [N, nClasses]); regressor: "variable" (float [N, 1]). */
  label?: string;
  probabilities?: string;
  variable?: string;
  signature: TreeExportSignature;
}

function nodeAttributes(model: GbtModel): {
  nodes: Record<string, AttributeValue>;
  leaves: { treeIds: number[]; nodeIds: number[]; ids: number[]; weights: number[] };
} {
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const featureIds: number[] = [];
  const values: number[] = [];
  const modes: string[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const missingTrue: number[] = [];
  const leaves = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  const K = model.treesPerIteration;
  model.trees.forEach((tree, t) => {
    for (let i = 0; i < tree.feature.length; i++) {
      const leaf = tree.feature[i]! < 0;
      treeIds.push(t);
      nodeIds.push(i);
      featureIds.push(leaf ? 0 : tree.feature[i]!);
      values.push(leaf ? 0 : tree.threshold[i]!);
      modes.push(leaf ? "LEAF" : "BRANCH_LEQ");
      trueIds.push(leaf ? 0 : tree.left[i]!);
      falseIds.push(leaf ? 0 : tree.right[i]!);
      missingTrue.push(!leaf && tree.missingLeft[i] ? 1 : 0);
      if (leaf) {
        leaves.treeIds.push(t);
        leaves.nodeIds.push(i);
        leaves.ids.push(t % K);
        leaves.weights.push(tree.value[i]!);
      }
    }
  });
  return {
    nodes: {
      nodes_treeids: { ints: treeIds },
      nodes_nodeids: { ints: nodeIds },
      nodes_featureids: { ints: featureIds },
      nodes_values: { floats: values },
      nodes_modes: { strings: modes },
      nodes_truenodeids: { ints: trueIds },
      nodes_falsenodeids: { ints: falseIds },
      nodes_missing_value_tracks_true: { ints: missingTrue },
    },
    leaves,
  };
}

/**
 * Appends the model's TreeEnsemble node to a graph, reading float [N, nFeatures] from `input` (e.g.
 * the output of a preprocessing graph). Output names default to "label"/"probabilities" or "variable".
 */
export function addTreeEnsemble(
  g: GraphBuilder,
  model: GbtModel,
  input: string,
  names: { label?: string; probabilities?: string; variable?: string } = {},
): TreeEnsembleOutputs {
  if (model.format !== "sluice-gbt/1") throw new Error(`unsupported model format ${String(model.format)}`);
  const { nodes, leaves } = nodeAttributes(model);
  const inSig: TensorSignature = { name: input, type: "float", shape: [null, model.nFeatures] };
  if (model.task === "regression") {
    const variable = names.variable ?? "variable";
    g.node(
      "TreeEnsembleRegressor",
      [input],
      [variable],
      {
        ...nodes,
        n_targets: { int: 1 },
        target_treeids: { ints: leaves.treeIds },
        target_nodeids: { ints: leaves.nodeIds },
        target_ids: { ints: leaves.ids },
        target_weights: { floats: leaves.weights },
        base_values: { floats: model.baseline },
        aggregate_function: { string: "SUM" },
        post_transform: { string: "NONE" },
      },
      ML_DOMAIN,
    );
    return { variable, signature: { inputs: [inSig], outputs: [{ name: variable, type: "float", shape: [null, 1] }] } };
  }
  const label = names.label ?? "label";
  const probabilities = names.probabilities ?? "probabilities";
  const C = model.nClasses;
  // Binary: one score per tree (class id 0) and one base value; onnxruntime then emits
  // [sigmoid(-s), sigmoid(s)] as two columns (checked in test/training/gbt-export.test.ts).
  g.node(
    "TreeEnsembleClassifier",
    [input],
    [label, probabilities],
    {
      ...nodes,
      class_treeids: { ints: leaves.treeIds },
      class_nodeids: { ints: leaves.nodeIds },
      class_ids: { ints: leaves.ids },
      class_weights: { floats: leaves.weights },
      base_values: { floats: model.baseline },
      classlabels_int64s: { ints: Array.from({ length: C }, (_, k) => k) },
      post_transform: { string: model.task === "binary" ? "LOGISTIC" : "SOFTMAX" },
    },
    ML_DOMAIN,
  );
  return {
    label,
    probabilities,
    signature: {
      inputs: [inSig],
      outputs: [
        { name: label, type: "int64", shape: [null] },
        { name: probabilities, type: "float", shape: [null, C] },
      ],
    },
  };
}

/** A standalone model: input `inputName` (default "X") float [N, nFeatures]. */
export function exportTreesOnnx(model: GbtModel, opts: { inputName?: string } = {}): { bytes: Uint8Array; signature: TreeExportSignature } {
  const g = new GraphBuilder();
  const out = addTreeEnsemble(g, model, opts.inputName ?? "X");
  const sig = out.signature;
  const bytes = g.build({
    inputs: sig.inputs.map((s) => valueInfo(s.name, s.type, s.shape)),
    outputs: sig.outputs.map((s) => valueInfo(s.name, s.type, s.shape)),
    graphName: `gbt_${model.task}`,
    docString: `sluice gradient-boosted trees (${model.task}, ${model.trees.length} trees, features: ${model.featureNames.join(", ")})`,
    requireTypes: true,
  });
  return { bytes, signature: sig };
}

export interface TreeVerification {
  rows: number;
  maxAbsDiff: number;
  output: string;
}

export class TreeExportMismatchError extends Error {
  constructor(
    message: string,
    readonly row: number,
    readonly column: number,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(message);
    this.name = "TreeExportMismatchError";
  }
}

/**
 * Loads an export with onnxruntime, runs it on X (row-major float64, fed as float32) and compares its
 * probabilities (classifier) or values (regressor) with the trainer's `expected`. A value passes when
 * |actual − expected| ≤ tolerance · max(1, |expected|): absolute for probabilities and unit-scale
 * targets, relative for large regression targets, where float32 summation alone exceeds 1e-5.
 */
export async function verifyTreeExport(
  bytes: Uint8Array,
  X: Float64Array,
  rows: number,
  expected: ArrayLike<number>,
  opts: { tolerance?: number; inputName?: string } = {},
): Promise<TreeVerification> {
  const tol = opts.tolerance ?? 1e-5;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const inputName = opts.inputName ?? session.inputNames[0]!;
    if (rows === 0) return { rows: 0, maxAbsDiff: 0, output: "" };
    const cols = X.length / rows;
    if (!Number.isInteger(cols)) throw new Error(`X has ${X.length} values, not a multiple of ${rows} rows`);
    const result = await session.run({ [inputName]: new ort.Tensor("float32", Float32Array.from(X), [rows, cols]) });
    const output = session.outputNames.includes("probabilities")
      ? "probabilities"
      : (session.outputNames.find((n) => n !== "label") ?? session.outputNames[0]!);
    const t = result[output]!;
    const actual = t.data as Float32Array;
    if (actual.length !== expected.length) {
      throw new Error(`ONNX output "${output}" has ${actual.length} values (dims ${t.dims.join("×")}), trainer gave ${expected.length}`);
    }
    const width = actual.length / rows;
    let maxAbsDiff = 0;
    for (let i = 0; i < actual.length; i++) {
      const e = expected[i]!;
      const a = actual[i]!;
      const d = Math.abs(a - e);
      if (!(d <= tol * Math.max(1, Math.abs(e)))) {
        const row = Math.floor(i / width);
        throw new TreeExportMismatchError(
          `ONNX export disagrees with the trainer at row ${row}, column ${i % width} of "${output}": ` +
            `expected ${e}, onnxruntime gave ${a} (|diff| ${d} > tolerance ${tol})`,
          row,
          i % width,
          e,
          a,
        );
      }
      maxAbsDiff = Math.max(maxAbsDiff, d);
    }
    return { rows, maxAbsDiff, output };
  } finally {
    await session.release();
  }
}
