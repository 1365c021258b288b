/**
 * The outputs a classifier answers with, whatever shape its graph has. A version with class names
 * (`signature.classLabels`) answers as scikit-learn/skl2onnx users expect: `label` is the class
 * itself (its name, a string tensor) and `label_index` its index (int64: value i is
 * `classLabels[i]`). Models exported by the built-in trainers now compute both in their graph
 * (src/training/onnx/class-labels.ts). Files stored before that, or uploaded, have other shapes,
 * mapped here after the run so that every version answers the same:
 *
 * - `legacy`: Sluice's earlier export, `label` the index and `class_label` the names;
 * - `mapped`: an integer `label` and names recorded only in `metadata_props`;
 * - `indexed`: a string `label` (a skl2onnx classifier trained on text classes) without an index.
 *
 * Serving, batch scoring and monitoring's references all run graphs through this, so an answer,
 * a prediction log row and a scored table hold the same `label`. Without class names, or with a
 * graph that already answers `label` + `label_index`, nothing is mapped.
 *
 * Pure: no I/O.
 */
import * as ort from "onnxruntime-node";
import type { ModelSignature, TensorSpec } from "./signature";

/** The output holding each row's class (its name when the version records names). */
export const LABEL_OUTPUT = "label";
/** The output holding each row's class index when `label` holds names. */
export const LABEL_INDEX_OUTPUT = "label_index";
/** The names output of graphs exported before `label` held the names: answered as `label`, never under its own name. */
export const LEGACY_CLASS_LABEL_OUTPUT = "class_label";

type Mapping = "legacy" | "mapped" | "indexed";

const INTEGER_TYPE = /^u?int(8|16|32|64)$/;

/** How the graph's outputs become `label` + `label_index`, or null when they are answered as they are. */
function mappingOf(signature: ModelSignature): Mapping | null {
  if (!signature.classLabels) return null;
  const outputs = new Map(signature.outputs.map((o) => [o.name, o]));
  const label = outputs.get(LABEL_OUTPUT);
  if (!label || outputs.has(LABEL_INDEX_OUTPUT)) return null;
  if (INTEGER_TYPE.test(label.type)) return outputs.get(LEGACY_CLASS_LABEL_OUTPUT)?.type === "string" ? "legacy" : "mapped";
  return label.type === "string" ? "indexed" : null;
}

/**
 * The signature clients see: the graph's own, with a mapped `label` as a string tensor, its index
 * appended as `label_index`, and a legacy `class_label` left out (its names are `label` now).
 */
export function answerSignature(signature: ModelSignature): ModelSignature {
  if (!mappingOf(signature)) return signature;
  const label = signature.outputs.find((o) => o.name === LABEL_OUTPUT)!;
  const index: TensorSpec = { name: LABEL_INDEX_OUTPUT, type: "int64", shape: label.shape };
  const outputs = signature.outputs
    .filter((o) => o.name !== LEGACY_CLASS_LABEL_OUTPUT)
    .map((o): TensorSpec => (o.name === LABEL_OUTPUT ? { ...o, type: "string" } : o));
  return { ...signature, outputs: [...outputs, index] };
}

/** The graph outputs to fetch from onnxruntime for the `requested` answer outputs. */
export function fetchesFor(signature: ModelSignature, requested: readonly string[]): string[] {
  const mapping = mappingOf(signature);
  if (!mapping) return [...requested];
  const fetches = new Set<string>();
  for (const name of requested) {
    if (name === LABEL_OUTPUT) fetches.add(mapping === "legacy" ? LEGACY_CLASS_LABEL_OUTPUT : LABEL_OUTPUT);
    else if (name === LABEL_INDEX_OUTPUT) fetches.add(LABEL_OUTPUT);
    else fetches.add(name);
  }
  return [...fetches];
}

/**
 * The `requested` answer outputs from the graph's `fetched` ones (fetched with `fetchesFor`). An
 * index outside the recorded classes (a file whose metadata does not match its graph) gives the
 * name ""; a name not among them gives the index -1.
 */
export function answerOutputs(
  signature: ModelSignature,
  requested: readonly string[],
  fetched: Record<string, ort.OnnxValue>,
): Record<string, ort.OnnxValue> {
  const mapping = mappingOf(signature);
  if (!mapping) return fetched;
  const classes = signature.classLabels!;
  const graphLabel = fetched[LABEL_OUTPUT] as ort.Tensor | undefined;
  const out: Record<string, ort.OnnxValue> = {};
  for (const name of requested) {
    if (name === LABEL_OUTPUT) {
      if (mapping === "legacy") out[name] = fetched[LEGACY_CLASS_LABEL_OUTPUT]!;
      else if (mapping === "indexed") out[name] = graphLabel!;
      else
        out[name] = new ort.Tensor(
          "string",
          Array.from(indicesOf(graphLabel!), (i) => classes[i] ?? ""),
          graphLabel!.dims,
        );
    } else if (name === LABEL_INDEX_OUTPUT) {
      const indices =
        mapping === "indexed"
          ? Array.from(graphLabel!.data as ArrayLike<string>, (s) => classes.indexOf(s))
          : Array.from(indicesOf(graphLabel!));
      out[name] = new ort.Tensor(
        "int64",
        BigInt64Array.from(indices, (i) => BigInt(i)),
        graphLabel!.dims,
      );
    } else out[name] = fetched[name]!;
  }
  return out;
}

function indicesOf(tensor: ort.Tensor): number[] {
  return Array.from(tensor.data as ArrayLike<number | bigint>, (i) => Number(i));
}
