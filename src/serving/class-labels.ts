/**
 * Class names in answers. A classifier's version records its class names (`signature.classLabels`,
 * registry). Models exported by the built-in trainers compute the names themselves, as the
 * `class_label` output of their graph (so any ONNX tool gets them); for a version whose file only
 * records them — trained before that output existed, or uploaded with `metadata_props` alone —
 * serving adds the same output after the run, mapping each class index of `label` to its name.
 * Either way the answer holds `label` (the index, kept for existing clients and monitoring) and
 * `class_label` (BYTES), and the model metadata lists both.
 *
 * Pure: no I/O.
 */
import * as ort from "onnxruntime-node";
import type { ModelSignature, TensorSpec } from "../registry";

/** The output holding each row's class name (the same name the trainers' graphs use). */
export const CLASS_LABEL_OUTPUT = "class_label";
/** The class-index output the names are mapped from. */
const INDEX_OUTPUT = "label";

/** Whether serving computes `class_label` for this signature (the graph does not, and its index output can be mapped). */
export function mapsClassLabels(signature: ModelSignature): boolean {
  if (!signature.classLabels || signature.outputs.some((o) => o.name === CLASS_LABEL_OUTPUT)) return false;
  const index = signature.outputs.find((o) => o.name === INDEX_OUTPUT);
  return index !== undefined && /^u?int(8|16|32|64)$/.test(index.type);
}

/** The signature clients see: the model's own, plus `class_label` when serving maps it. */
export function servedSignature(signature: ModelSignature): ModelSignature {
  if (!mapsClassLabels(signature)) return signature;
  const index = signature.outputs.find((o) => o.name === INDEX_OUTPUT)!;
  const names: TensorSpec = { name: CLASS_LABEL_OUTPUT, type: "string", shape: index.shape };
  return { ...signature, outputs: [...signature.outputs, names] };
}

/** What to fetch from onnxruntime for the `requested` outputs: `class_label` comes from `label` when serving maps it. */
export function fetchesFor(signature: ModelSignature, requested: string[]): string[] {
  if (!mapsClassLabels(signature) || !requested.includes(CLASS_LABEL_OUTPUT)) return requested;
  const fetches = requested.filter((n) => n !== CLASS_LABEL_OUTPUT);
  return fetches.includes(INDEX_OUTPUT) ? fetches : [...fetches, INDEX_OUTPUT];
}

/**
 * Adds `class_label` to `outputs` (fetched with `fetchesFor`) when serving maps it. An index
 * outside the recorded classes (a file whose metadata does not match its graph) gives "".
 */
export function withClassLabels(
  signature: ModelSignature,
  requested: string[],
  outputs: Record<string, ort.OnnxValue>,
): Record<string, ort.OnnxValue> {
  if (!mapsClassLabels(signature) || !requested.includes(CLASS_LABEL_OUTPUT)) return outputs;
  const classes = signature.classLabels!;
  const index = outputs[INDEX_OUTPUT] as ort.Tensor;
  const names = Array.from(index.data as ArrayLike<number | bigint>, (i) => classes[Number(i)] ?? "");
  return { ...outputs, [CLASS_LABEL_OUTPUT]: new ort.Tensor("string", names, index.dims) };
}
