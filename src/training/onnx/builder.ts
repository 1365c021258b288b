/**
 * Building ONNX models: a thin, typed layer over the generated protobuf classes of `onnx-proto`,
 * so exporters (linear models, tree ensembles, preprocessing) write nodes and attributes, not
 * protobuf plumbing. Opsets: the default domain at 17 and `ai.onnx.ml` at 3, which onnxruntime
 * 1.x runs (TreeEnsembleClassifier/Regressor, LinearClassifier/Regressor, Imputer, Scaler,
 * OneHotEncoder, Binarizer…).
 */
import { onnx } from "onnx-proto";

export const ML_DOMAIN = "ai.onnx.ml";
export const OPSET = 17;
export const ML_OPSET = 3;

export type ElemType = "float" | "double" | "int64" | "string" | "bool";

const ELEM: Record<ElemType, onnx.TensorProto.DataType> = {
  float: onnx.TensorProto.DataType.FLOAT,
  double: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  string: onnx.TensorProto.DataType.STRING,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** An attribute value; the kind is inferred, or given for empty lists and integer/float ambiguity. */
export type AttributeValue =
  | { ints: number[] }
  | { floats: number[] }
  | { strings: string[] }
  | { int: number }
  | { float: number }
  | { string: string }
  | { tensor: onnx.ITensorProto };

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("ints" in value) return { name, type: T.INTS, ints: value.ints };
  if ("floats" in value) return { name, type: T.FLOATS, floats: value.floats };
  if ("strings" in value) return { name, type: T.STRINGS, strings: value.strings.map((s) => Buffer.from(s, "utf8")) };
  if ("int" in value) return { name, type: T.INT, i: value.int };
  if ("float" in value) return { name, type: T.FLOAT, f: value.float };
  if ("string" in value) return { name, type: T.STRING, s: Buffer.from(value.string, "utf8") };
  return { name, type: T.TENSOR, t: value.tensor };
}

/** A tensor's type and shape (`null` for a dynamic dimension, e.g. the batch). */
export function valueInfo(name: string, elem: ElemType, shape: Array<number | null>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: shape.map((d) => (d === null ? { dimParam: "N" } : { dimValue: d })) },
      },
    },
  };
}

/** A constant tensor (an initializer or a Constant node's value). */
export function tensor(name: string, elem: "float" | "int64", dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  return elem === "float"
    ? { name, dataType: ELEM.float, dims, floatData: Array.from(values) }
    : { name, dataType: ELEM.int64, dims, int64Data: Array.from(values) };
}

/**
 * A graph under construction: nodes are added in topological order; names are made unique.
 *
 * Every intermediate value carries its type and shape (`value_info`): ONNX shape inference has no
 * inference function for several ai.onnx.ml operators (Imputer, Scaler, OneHotEncoder…), so
 * without it `onnx.checker.check_model(model, full_check=True)` — and strict tools that run it —
 * refuse the model. Intermediates are therefore named with `value()`, which records the type, and
 * `build({ requireTypes: true })` — what every exporter asks for — refuses a graph with an untyped
 * intermediate (a bug in an exporter). Hand-built graphs (tests, fixtures) may leave them out.
 */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  readonly valueInfos: onnx.IValueInfoProto[] = [];
  private counter = 0;

  /** A fresh value name with a readable prefix. */
  name(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** A fresh intermediate value name whose type and shape go into the graph's `value_info`. */
  value(prefix: string, elem: ElemType, shape: Array<number | null>): string {
    const n = this.name(prefix);
    this.valueInfos.push(valueInfo(n, elem, shape));
    return n;
  }

  /** Records the type and shape of an intermediate named elsewhere (e.g. a caller-chosen name). */
  typed(name: string, elem: ElemType, shape: Array<number | null>): string {
    this.valueInfos.push(valueInfo(name, elem, shape));
    return name;
  }

  /** Adds a node; returns its output names. */
  node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attributes: Record<string, AttributeValue> = {},
    domain: "" | typeof ML_DOMAIN = "",
  ): string[] {
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: this.name(opType),
      domain,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** Adds a constant (initializer) and returns its name. */
  constant(prefix: string, elem: "float" | "int64", dims: number[], values: ArrayLike<number>): string {
    const n = this.name(prefix);
    this.initializers.push(tensor(n, elem, dims, values));
    return n;
  }

  /**
   * The serialized model; `metadata` goes into the model's `metadata_props` (string key/value
   * pairs); `requireTypes` refuses a node output that is neither a graph output nor typed.
   */
  build(opts: {
    inputs: onnx.IValueInfoProto[];
    outputs: onnx.IValueInfoProto[];
    graphName?: string;
    docString?: string;
    metadata?: Record<string, string>;
    requireTypes?: boolean;
  }): Uint8Array {
    const outputNames = new Set(opts.outputs.map((o) => o.name));
    if (opts.requireTypes) {
      const typed = new Set(this.valueInfos.map((v) => v.name));
      const untyped = this.nodes.flatMap((n) => n.output ?? []).filter((o) => !outputNames.has(o) && !typed.has(o));
      if (untyped.length > 0) throw new Error(`graph values without a type (value_info): ${untyped.join(", ")}`);
    }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "sluice",
      producerVersion: "1",
      docString: opts.docString ?? "",
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
      opsetImport: [
        { domain: "", version: OPSET },
        { domain: ML_DOMAIN, version: ML_OPSET },
      ],
      graph: {
        name: opts.graphName ?? "model",
        node: this.nodes,
        initializer: this.initializers,
        input: opts.inputs,
        output: opts.outputs,
        // Graph outputs already carry their types; value_info is for intermediates only.
        valueInfo: this.valueInfos.filter((v) => !outputNames.has(v.name)),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
