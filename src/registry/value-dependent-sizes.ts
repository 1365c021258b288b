/**
 * Finds operators whose output size comes from the values a request sends — a `Range` whose limit
 * is an input, an `Expand` whose shape is computed from one — which a measurement on synthetic
 * zeros cannot bound: one request could make such a model allocate any amount. (Sizes computed
 * from an input's shape, through `Shape` or `Size`, follow the rows and are measured.)
 *
 * A taint walk over the graph: the graph's inputs are request values; `Shape`/`Size` outputs and
 * constants are not; any other node's outputs are request values when one of its inputs is. Inside
 * subgraphs (If, Loop, Scan) every value not defined as a constant there counts as a request value.
 */
import type { onnx } from "onnx-proto";

/** Per operator (default domain), the inputs that set its output size or its trip count. */
const SIZE_INPUTS: Record<string, number[]> = {
  Range: [0, 1, 2],
  ConstantOfShape: [0],
  Expand: [1],
  Tile: [1],
  OneHot: [1],
  Resize: [2, 3],
  Upsample: [1],
  Pad: [1],
  CenterCropPad: [1],
  Col2Im: [1, 2],
  MaxUnpool: [2],
  Loop: [0, 1],
};

/** Outputs that depend on an input's shape only, never on its values. */
const SHAPE_ONLY = new Set(["Shape", "Size"]);

export interface ValueDependentSize {
  node: string;
  op: string;
  input: string;
}

function walk(graph: onnx.IGraphProto, tainted: (name: string) => boolean, found: ValueDependentSize[]): void {
  const clean = new Set<string>((graph.initializer ?? []).map((i) => i.name ?? ""));
  const dirty = new Set<string>();
  const isDirty = (name: string): boolean => name !== "" && !clean.has(name) && (dirty.has(name) || tainted(name));
  for (const node of graph.node ?? []) {
    const op = node.opType ?? "";
    const domain = node.domain ?? "";
    const inputs = node.input ?? [];
    if (domain === "" || domain === "ai.onnx") {
      for (const k of SIZE_INPUTS[op] ?? []) {
        const name = inputs[k];
        if (name && isDirty(name)) found.push({ node: node.name || `${op} #${found.length + 1}`, op, input: name });
      }
    }
    for (const attr of node.attribute ?? []) {
      // Subgraphs see outer values by name: conservatively, everything not constant inside them is a request value.
      for (const sub of [attr.g, ...(attr.graphs ?? [])]) if (sub) walk(sub, () => true, found);
    }
    const out = op === "Constant" || SHAPE_ONLY.has(op) ? clean : inputs.some(isDirty) ? dirty : clean;
    for (const o of node.output ?? []) out.add(o);
  }
}

/** The operators of `model` whose output size a request's values set; empty when there are none. */
export function valueDependentSizes(model: onnx.IModelProto): ValueDependentSize[] {
  const found: ValueDependentSize[] = [];
  if (model.graph) walk(model.graph, () => true, found);
  return found;
}
