import type { ModelSignature, TensorSpec } from "../../registry";
import type { FeatureKind } from "../drift";

/** Which output value per row is "the prediction" for prediction drift and live performance. */
export interface PredictionColumn {
  output: string;
  /** Which of the output's values per row (a classifier's `probabilities[1]`: the positive class). */
  index: number;
  /** Values per row of the output. */
  width: number;
  kind: FeatureKind;
  /** Its name in the reference summary and the metrics: `probabilities[1]`, `variable`, `label`. */
  label: string;
}

function widthOf(spec: TensorSpec): number {
  const shape = spec.shape;
  return shape && shape.length === 2 && typeof shape[1] === "number" ? shape[1] : 1;
}

const NUMERIC_TYPES = new Set(["float", "double", "float16"]);

/**
 * The prediction column of a model: a binary classifier's probability of the positive class (the
 * last column of `probabilities`) when it has one, since a score drifts visibly long before the
 * labels do; else a regressor's `variable`; else `label`; else the first tensor output.
 */
export function predictionColumnOf(sig: ModelSignature): PredictionColumn | null {
  const tensors = sig.outputs.filter((o) => o.type !== "sequence" && o.type !== "map" && o.type !== "unknown");
  const pick =
    tensors.find((o) => o.name === "probabilities" && widthOf(o) >= 2) ??
    tensors.find((o) => o.name === "variable") ??
    tensors.find((o) => o.name === "label") ??
    tensors[0];
  if (!pick) return null;
  const width = widthOf(pick);
  const index = width - 1;
  const kind: FeatureKind = NUMERIC_TYPES.has(pick.type) ? "numeric" : "categorical";
  return { output: pick.name, index, width, kind, label: width > 1 ? `${pick.name}[${index}]` : pick.name };
}

/** The logged value of the prediction column in one row's outputs (a scalar, or the row's list). */
export function predictionValue(outputs: Record<string, unknown>, output: string, index: number): unknown {
  const v = outputs[output];
  if (Array.isArray(v)) {
    const flat = v.flat(2) as unknown[];
    return flat.length === 1 ? flat[0] : flat[index];
  }
  return v;
}

/** The feature kind an input's element type gives. */
export function inputKind(spec: TensorSpec): FeatureKind {
  return spec.type === "string" || spec.type === "bool" ? "categorical" : "numeric";
}
