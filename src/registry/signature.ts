import { onnx } from "onnx-proto";
import { InvalidInputError } from "../kernel/errors";

/** One input or output of a model: what a caller sends or gets. */
export interface TensorSpec {
  name: string;
  /** ONNX element type, lowercase: `float`, `double`, `int64`, `string`, `bool`… */
  type: string;
  /** Dimensions; null for a dynamic one (the batch). Null shape when the model does not say. */
  shape: Array<number | null> | null;
}

/** What a model takes and gives, read from its ONNX graph. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Opsets the model imports, e.g. `{ "": 17, "ai.onnx.ml": 3 }`. */
  opsets: Record<string, number>;
  producer: string;
  /**
   * Output bytes per row, measured when the version was registered (see output-check.ts); what
   * serving multiplies by a request's rows. Absent on versions registered before it was measured
   * (serving measures those when it loads them) and on signatures read straight from a file.
   */
  outputBytesPerRow?: number;
  /**
   * A classifier's class names in index order: what its class-index output's values stand for.
   * Read from the file's `metadata_props` (`sluice.class_labels`, which Sluice's trainers write),
   * else, for a run's output, from the artifact's `classes`. Absent for regressors and for
   * classifiers whose names nobody recorded.
   */
  classLabels?: string[];
}

/** The `metadata_props` key a model's class names are read from (written by src/training/onnx/class-labels.ts). */
export const CLASS_LABELS_METADATA = "sluice.class_labels";

function spec(info: onnx.IValueInfoProto): TensorSpec {
  const t = info.type;
  if (t?.tensorType) {
    const elem = t.tensorType.elemType ?? 0;
    const dims = t.tensorType.shape?.dim;
    return {
      name: info.name ?? "",
      type: (onnx.TensorProto.DataType[elem] ?? "UNDEFINED").toLowerCase(),
      shape: dims
        ? dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : null))
        : null,
    };
  }
  if (t?.sequenceType) return { name: info.name ?? "", type: "sequence", shape: null };
  if (t?.mapType) return { name: info.name ?? "", type: "map", shape: null };
  return { name: info.name ?? "", type: "unknown", shape: null };
}

/**
 * Decodes an ONNX model (a graph with outputs).
 *
 * @throws InvalidInputError when the bytes are not an ONNX model
 */
export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InvalidInputError([{ field: "model", message: `is not an ONNX model: ${(err as Error).message}` }]);
  }
  if (!model.graph || (model.graph.output ?? []).length === 0) {
    throw new InvalidInputError([{ field: "model", message: "is not an ONNX model: it has no graph outputs" }]);
  }
  return model;
}

/**
 * The signature of a decoded model: its graph inputs (less initializers, which older exporters
 * list as inputs) and outputs, with element types and shapes.
 */
export function signatureOf(model: onnx.ModelProto): ModelSignature {
  const graph = model.graph!;
  const initializers = new Set((graph.initializer ?? []).map((i) => i.name));
  const signature: ModelSignature = {
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name)).map(spec),
    outputs: (graph.output ?? []).map(spec),
    opsets: Object.fromEntries((model.opsetImport ?? []).map((o) => [o.domain ?? "", Number(o.version ?? 0)])),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(" "),
  };
  const recorded = (model.metadataProps ?? []).find((p) => p.key === CLASS_LABELS_METADATA);
  if (recorded) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(recorded.value ?? "");
    } catch {
      parsed = undefined;
    }
    return withClassLabels(signature, parsed, "model");
  }
  return signature;
}

/**
 * `signature` with `classes` as its class labels, after checking them: distinct strings, as many
 * as the `probabilities` output has columns when it says.
 *
 * @throws InvalidInputError naming `field` when they are not
 */
export function withClassLabels(signature: ModelSignature, classes: unknown, field: string): ModelSignature {
  const what = `its class labels (metadata_props "${CLASS_LABELS_METADATA}")`;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === "string"))
    throw new InvalidInputError([{ field, message: `is refused: ${what} must be a JSON array of strings` }]);
  if (new Set(classes).size !== classes.length) throw new InvalidInputError([{ field, message: `is refused: ${what} name a class twice` }]);
  const width = signature.outputs.find((o) => o.name === "probabilities")?.shape?.[1];
  if (typeof width === "number" && width !== classes.length)
    throw new InvalidInputError([
      { field, message: `is refused: ${what} name ${classes.length} classes, its probabilities output has ${width}` },
    ]);
  return { ...signature, classLabels: classes as string[] };
}

/**
 * Reads the signature of an ONNX model.
 *
 * @throws InvalidInputError when the bytes are not an ONNX model
 */
export function readSignature(bytes: Uint8Array): ModelSignature {
  return signatureOf(decodeModel(bytes));
}
