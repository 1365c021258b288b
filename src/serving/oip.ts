/**
 * The Open Inference Protocol v2 (KServe) REST codec: inference requests checked against a model's
 * signature and turned into onnxruntime tensors, and onnxruntime outputs turned into inference
 * responses — plus the records form `{"instances": [{column: value, …}]}` mapped onto one input
 * per column, the way Sluice's own trainers export (one `[N, 1]` input per raw feature column).
 *
 * Pure: no I/O. Every refusal is an `InvalidInputError` whose problems name the input (or the
 * instance) and what is wrong, which the routes answer as OIP's `{"error": "…"}` with 400.
 *
 * Spec followed: kserve/open-inference-protocol `specification/protocol/inference_rest.md` —
 * tensor `data` is row-major, either flattened or nested in the tensor's shape; `shape` gives
 * the whole batch; `outputs` (optional) selects what is returned; the response echoes `id`.
 */
import * as ort from "onnxruntime-node";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import type { ModelSignature, TensorSpec } from "../registry";

/** OIP tensor data types. */
export type OipDatatype =
  "BOOL" | "UINT8" | "UINT16" | "UINT32" | "UINT64" | "INT8" | "INT16" | "INT32" | "INT64" | "FP16" | "FP32" | "FP64" | "BYTES";

/** How each OIP type is held by onnxruntime, and which ONNX element type (as in a signature) it matches. */
const TYPES: Record<OipDatatype, { ort: ort.Tensor.Type; onnx: string }> = {
  BOOL: { ort: "bool", onnx: "bool" },
  UINT8: { ort: "uint8", onnx: "uint8" },
  UINT16: { ort: "uint16", onnx: "uint16" },
  UINT32: { ort: "uint32", onnx: "uint32" },
  UINT64: { ort: "uint64", onnx: "uint64" },
  INT8: { ort: "int8", onnx: "int8" },
  INT16: { ort: "int16", onnx: "int16" },
  INT32: { ort: "int32", onnx: "int32" },
  INT64: { ort: "int64", onnx: "int64" },
  FP16: { ort: "float16", onnx: "float16" },
  FP32: { ort: "float32", onnx: "float" },
  FP64: { ort: "float64", onnx: "double" },
  BYTES: { ort: "string", onnx: "string" },
};

const DATATYPES = Object.keys(TYPES) as OipDatatype[];

/** The OIP datatype of an ONNX element type from a signature (`float` → FP32); undefined for non-tensors. */
export function datatypeOfOnnx(onnxType: string): OipDatatype | undefined {
  return DATATYPES.find((d) => TYPES[d].onnx === onnxType);
}

/** The OIP datatype of an onnxruntime tensor type (`float32` → FP32). */
export function datatypeOfOrt(type: string): OipDatatype | undefined {
  return DATATYPES.find((d) => TYPES[d].ort === type);
}

/** A signature's tensor in OIP metadata form: variable dimensions are -1. */
export interface OipTensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export function tensorMetadata(spec: TensorSpec): OipTensorMetadata {
  return {
    name: spec.name,
    // A non-tensor output (ZipMap's sequence of maps) has no OIP datatype; say what it is.
    datatype: datatypeOfOnnx(spec.type) ?? spec.type.toUpperCase(),
    shape: (spec.shape ?? [-1]).map((d) => (d === null ? -1 : d)),
  };
}

/** A checked request, ready for `session.run`. */
export interface DecodedRequest {
  id: string | undefined;
  parameters: Record<string, unknown> | undefined;
  /** One tensor per model input. */
  feeds: Record<string, ort.Tensor>;
  /** Output names to fetch (tensor outputs only). */
  outputs: string[];
  /** The records form was used: the response is one prediction object per instance. */
  records: boolean;
  /** Rows in the batch (instances in the records form; the first dimension otherwise, when all inputs agree). */
  rows: number | undefined;
}

/** An output onnxruntime-node can return: a tensor. ZipMap's sequence of maps is not one. */
export function isTensorOutput(spec: TensorSpec): boolean {
  return datatypeOfOnnx(spec.type) !== undefined;
}

function bad(problems: InputProblem[]): InvalidInputError {
  return new InvalidInputError(problems);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Decodes a request body: the OIP form (`inputs`) or the records form (`instances`).
 *
 * @throws InvalidInputError naming each problem: missing input, unknown input, wrong datatype,
 *   wrong shape (rank, a fixed dimension, or shape × data length), a value of the wrong kind
 */
export function decodeRequest(body: unknown, signature: ModelSignature): DecodedRequest {
  if (!isObject(body)) throw bad([{ field: "body", message: 'must be a JSON object with "inputs" (or "instances")' }]);
  if (body.instances !== undefined && body.inputs === undefined) return decodeRecords(body, signature);
  const id = body.id;
  if (id !== undefined && typeof id !== "string") throw bad([{ field: "id", message: "must be a string" }]);
  if (body.parameters !== undefined && !isObject(body.parameters)) throw bad([{ field: "parameters", message: "must be an object" }]);
  if (!Array.isArray(body.inputs))
    throw bad([{ field: "inputs", message: 'is required: a list of {"name", "shape", "datatype", "data"}' }]);

  const byName = new Map(signature.inputs.map((s) => [s.name, s]));
  const problems: InputProblem[] = [];
  const feeds: Record<string, ort.Tensor> = {};
  const given = new Set<string>();
  body.inputs.forEach((raw, i) => {
    if (!isObject(raw) || typeof raw.name !== "string") {
      problems.push({ field: `inputs[${i}]`, message: 'must be an object with a "name"' });
      return;
    }
    const spec = byName.get(raw.name);
    if (!spec) {
      problems.push({
        field: `inputs[${i}]`,
        message: `unknown input "${raw.name}"; the model's inputs are ${signature.inputs.map((s) => s.name).join(", ")}`,
      });
      return;
    }
    if (given.has(raw.name)) {
      problems.push({ field: `inputs[${i}]`, message: `input "${raw.name}" is given twice` });
      return;
    }
    given.add(raw.name);
    try {
      feeds[raw.name] = decodeTensor(raw, spec);
    } catch (err) {
      if (err instanceof InvalidInputError) problems.push(...err.problems);
      else throw err;
    }
  });
  for (const spec of signature.inputs) {
    if (!given.has(spec.name)) {
      problems.push({ field: "inputs", message: `missing input "${spec.name}" (${describeSpec(spec)})` });
    }
  }
  const outputs = requestedOutputs(body.outputs, signature, problems);
  if (problems.length > 0) throw bad(problems);
  const firstDims = Object.values(feeds).map((t) => Number(t.dims[0] ?? 1));
  const rows = firstDims.every((d) => d === firstDims[0]) ? firstDims[0] : undefined;
  return { id, parameters: body.parameters as Record<string, unknown> | undefined, feeds, outputs, records: false, rows };
}

function describeSpec(spec: TensorSpec): string {
  return `${datatypeOfOnnx(spec.type) ?? spec.type} ${spec.shape ? `[${spec.shape.map((d) => (d === null ? -1 : d)).join(", ")}]` : "of any shape"}`;
}

/** The tensor outputs to fetch: those requested, or every tensor output. */
function requestedOutputs(raw: unknown, signature: ModelSignature, problems: InputProblem[]): string[] {
  const tensors = signature.outputs.filter(isTensorOutput);
  if (raw === undefined || raw === null) return tensors.map((o) => o.name);
  if (!Array.isArray(raw)) {
    problems.push({ field: "outputs", message: 'must be a list of {"name"}' });
    return [];
  }
  const names: string[] = [];
  raw.forEach((o, i) => {
    const name = isObject(o) ? o.name : undefined;
    const spec = signature.outputs.find((s) => s.name === name);
    if (typeof name !== "string" || !spec) {
      problems.push({
        field: `outputs[${i}]`,
        message: `unknown output ${JSON.stringify(name)}; the model's outputs are ${signature.outputs.map((s) => s.name).join(", ")}`,
      });
    } else if (!isTensorOutput(spec)) {
      problems.push({
        field: `outputs[${i}]`,
        message: `output "${name}" is a ${spec.type} (e.g. ZipMap's list of class → probability maps), which onnxruntime-node cannot return; request a tensor output (${tensors.map((t) => t.name).join(", ") || "none"}) or export the classifier without ZipMap`,
      });
    } else if (!names.includes(name)) names.push(name);
  });
  return names;
}

/** Flattens nested `data` in row-major order; returns the nested shape it had (or null when ragged). */
function flatten(data: unknown[]): { flat: unknown[]; nestedShape: number[] | null } {
  if (!data.some(Array.isArray)) return { flat: data, nestedShape: [data.length] };
  const flat: unknown[] = [];
  let shape: number[] | null = [];
  const walk = (node: unknown, depth: number): void => {
    if (!Array.isArray(node)) {
      if (shape && depth !== shape.length) shape = null;
      flat.push(node);
      return;
    }
    if (shape) {
      if (depth === shape.length) shape.push(node.length);
      else if (shape[depth] !== node.length) shape = null;
    }
    for (const child of node) walk(child, depth + 1);
  };
  walk(data, 0);
  return { flat, nestedShape: shape };
}

/** One OIP input as a tensor, checked against its signature entry. */
export function decodeTensor(raw: Record<string, unknown>, spec: TensorSpec): ort.Tensor {
  const field = `inputs.${spec.name}`;
  const datatype = raw.datatype;
  if (typeof datatype !== "string" || !(datatype in TYPES)) {
    throw bad([{ field, message: `datatype ${JSON.stringify(datatype)} is not an OIP datatype (${DATATYPES.join(", ")})` }]);
  }
  const dt = datatype as OipDatatype;
  const expected = datatypeOfOnnx(spec.type);
  if (expected !== dt) {
    throw bad([{ field, message: `datatype ${dt} does not match the model, whose input "${spec.name}" is ${expected ?? spec.type}` }]);
  }
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw bad([{ field, message: "shape must be a list of non-negative integers" }]);
  }
  const dims = shape as number[];
  if (spec.shape) {
    if (dims.length !== spec.shape.length) {
      throw bad([
        { field, message: `shape [${dims.join(", ")}] has rank ${dims.length}; the model's input "${spec.name}" is ${describeSpec(spec)}` },
      ]);
    }
    spec.shape.forEach((d, k) => {
      if (d !== null && dims[k] !== d) {
        throw bad([
          {
            field,
            message: `shape [${dims.join(", ")}] has ${dims[k]} at dimension ${k}; the model's input "${spec.name}" is ${describeSpec(spec)}`,
          },
        ]);
      }
    });
  }
  if (!Array.isArray(raw.data)) throw bad([{ field, message: "data must be a list (flattened or nested, row-major)" }]);
  const { flat, nestedShape } = flatten(raw.data);
  const count = dims.reduce((a, b) => a * b, 1);
  if (flat.length !== count) {
    throw bad([{ field, message: `shape [${dims.join(", ")}] holds ${count} elements but data has ${flat.length}` }]);
  }
  if (nestedShape && nestedShape.length > 1 && nestedShape.join(",") !== dims.join(",")) {
    throw bad([{ field, message: `nested data is [${nestedShape.join(", ")}] but shape says [${dims.join(", ")}]` }]);
  }
  if (!nestedShape) throw bad([{ field, message: "nested data is ragged: every list at one depth must have the same length" }]);
  return new ort.Tensor(TYPES[dt].ort, typedData(dt, flat, field), dims);
}

const INT_RANGE: Partial<Record<OipDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
};

/**
 * The element values as onnxruntime's typed array for `dt`. JSON null is a missing value: NaN
 * for FP types and "" for BYTES, which is what Sluice's exported preprocessing imputes.
 * INT64/UINT64 take safe integers or decimal strings (for values past 2^53).
 */
function typedData(dt: OipDatatype, flat: unknown[], field: string): ort.Tensor.DataType {
  const wrong = (i: number, what: string): InvalidInputError =>
    bad([{ field, message: `data[${i}] is ${JSON.stringify(flat[i])}; ${dt} takes ${what}` }]);
  switch (dt) {
    case "FP32":
    case "FP64":
    case "FP16": {
      const out = dt === "FP64" ? new Float64Array(flat.length) : new Float32Array(flat.length);
      flat.forEach((v, i) => {
        if (v === null) out[i] = NaN;
        else if (typeof v === "number") out[i] = v;
        else throw wrong(i, "numbers (null for a missing value)");
      });
      return dt === "FP16" ? toFloat16Bits(out as Float32Array) : out;
    }
    case "BOOL": {
      const out = new Uint8Array(flat.length);
      flat.forEach((v, i) => {
        if (typeof v === "boolean") out[i] = v ? 1 : 0;
        else throw wrong(i, "true or false");
      });
      return out;
    }
    case "BYTES":
      return flat.map((v, i) => {
        if (v === null) return "";
        if (typeof v === "string") return v;
        throw wrong(i, "strings (null for a missing value)");
      });
    case "INT64":
    case "UINT64": {
      const out = dt === "INT64" ? new BigInt64Array(flat.length) : new BigUint64Array(flat.length);
      flat.forEach((v, i) => {
        let b: bigint;
        if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
        else if (typeof v === "string" && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
        else throw wrong(i, "integers (as decimal strings past 2^53)");
        const min = dt === "INT64" ? -(1n << 63n) : 0n;
        const max = dt === "INT64" ? (1n << 63n) - 1n : (1n << 64n) - 1n;
        if (b < min || b > max) throw wrong(i, `integers from ${min} to ${max}`);
        out[i] = b;
      });
      return out;
    }
    default: {
      const [min, max] = INT_RANGE[dt]!;
      const Ctor = { UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array }[
        dt as "UINT8"
      ];
      const out = new Ctor(flat.length);
      flat.forEach((v, i) => {
        if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw wrong(i, `integers from ${min} to ${max}`);
        out[i] = v;
      });
      return out;
    }
  }
}

/** IEEE 754 half-precision bits of each value (round to nearest even), as onnxruntime-node takes float16. */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    let e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
    e = half;
    out[i] = sign | e;
  }
  return out;
}

/** The value of each IEEE 754 half-precision bit pattern. */
export function fromFloat16Bits(bits: Uint16Array): number[] {
  return Array.from(bits, (h) => {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) return sign * mant * 2 ** -24;
    if (exp === 0x1f) return mant ? NaN : sign * Infinity;
    return sign * (1 + mant / 1024) * 2 ** (exp - 15);
  });
}

// -- the records form

/**
 * `{"instances": [{column: value, …}, …]}`: each model input is one column, `[N, 1]` (or `[N]`)
 * with a scalar per instance, or `[N, k]` with a list of k per instance. Numbers feed float
 * inputs (null: missing), strings feed string inputs (numbers and booleans are turned into
 * text, null into ""). A column the model does not take is refused, to catch misspellings.
 */
function decodeRecords(body: Record<string, unknown>, signature: ModelSignature): DecodedRequest {
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length === 0) {
    throw bad([{ field: "instances", message: "must be a non-empty list of objects, one per row: {column: value}" }]);
  }
  const problems: InputProblem[] = [];
  const known = new Set(signature.inputs.map((s) => s.name));
  instances.forEach((inst, r) => {
    if (!isObject(inst)) {
      problems.push({ field: `instances[${r}]`, message: "must be an object {column: value}" });
      return;
    }
    for (const k of Object.keys(inst)) {
      if (!known.has(k)) {
        problems.push({ field: `instances[${r}].${k}`, message: `unknown column "${k}"; the model's inputs are ${[...known].join(", ")}` });
      }
    }
    for (const spec of signature.inputs) {
      if (!(spec.name in inst)) problems.push({ field: `instances[${r}]`, message: `missing column "${spec.name}"` });
    }
  });
  if (problems.length > 0) throw bad(problems.slice(0, 20));
  const n = instances.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of signature.inputs) {
    const dt = datatypeOfOnnx(spec.type);
    if (!dt) throw bad([{ field: `inputs.${spec.name}`, message: `has type ${spec.type}, which the records form cannot feed` }]);
    const rank = spec.shape?.length ?? 2;
    const width = rank >= 2 && typeof spec.shape?.[1] === "number" ? spec.shape[1] : 1;
    if (rank > 2 || (spec.shape && spec.shape[0] !== null)) {
      throw bad([
        {
          field: `inputs.${spec.name}`,
          message: `is ${describeSpec(spec)}; the records form feeds [N], [N, 1] or [N, k] inputs only: use the "inputs" form`,
        },
      ]);
    }
    const flat: unknown[] = [];
    for (let r = 0; r < n; r++) {
      let v = (instances[r] as Record<string, unknown>)[spec.name];
      if (width === 1 && Array.isArray(v) && v.length === 1) v = v[0];
      if (width === 1) flat.push(coerce(v, dt));
      else if (Array.isArray(v) && v.length === width) for (const x of v) flat.push(coerce(x, dt));
      else {
        problems.push({
          field: `instances[${r}].${spec.name}`,
          message: `must be a list of ${width} values (the input is ${describeSpec(spec)})`,
        });
      }
    }
    if (problems.length > 0) throw bad(problems.slice(0, 20));
    const dims = rank === 1 ? [n] : [n, width];
    try {
      feeds[spec.name] = new ort.Tensor(TYPES[dt].ort, typedData(dt, flat, `inputs.${spec.name}`), dims);
    } catch (err) {
      // Name the instance rather than the flattened position.
      if (err instanceof InvalidInputError) {
        const m = /^data\[(\d+)\] is (.*)$/.exec(err.problems[0]!.message);
        if (m) throw bad([{ field: `instances[${Math.floor(Number(m[1]) / width)}].${spec.name}`, message: `is ${m[2]}` }]);
      }
      throw err;
    }
  }
  const outputs = requestedOutputs(undefined, signature, problems);
  return { id: typeof body.id === "string" ? body.id : undefined, parameters: undefined, feeds, outputs, records: true, rows: n };
}

/** A records-form value for an input of type `dt`: text for BYTES, unchanged otherwise (checked later). */
function coerce(v: unknown, dt: OipDatatype): unknown {
  if (dt === "BYTES" && (typeof v === "number" || typeof v === "boolean")) return String(v);
  if (v === undefined) return null;
  return v;
}

// -- responses

/** One output tensor in OIP form. */
export interface OipResponseOutput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

/**
 * An onnxruntime output as a flattened, row-major OIP output. INT64/UINT64 values are numbers
 * when every one is a safe integer, else decimal strings (JSON numbers past 2^53 lose digits).
 */
export function encodeTensor(name: string, value: ort.OnnxValue): OipResponseOutput {
  const t = value as ort.Tensor;
  if (!t || typeof t !== "object" || !("dims" in t) || !("type" in t)) {
    throw new Error(`output "${name}" is not a tensor; onnxruntime-node returns tensors only`);
  }
  const datatype = datatypeOfOrt(t.type) ?? t.type.toUpperCase();
  let data: unknown[];
  if (t.type === "int64" || t.type === "uint64") {
    const src = t.data as BigInt64Array | BigUint64Array;
    const safe = src.every((b) => b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER));
    data = safe ? Array.from(src, Number) : Array.from(src, String);
  } else if (t.type === "bool") data = Array.from(t.data as Uint8Array, (b) => b !== 0);
  else if (t.type === "float16") data = fromFloat16Bits(t.data as Uint16Array);
  else if (t.type === "string") data = [...(t.data as string[])];
  else data = Array.from(t.data as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : null));
  return { name, shape: t.dims.map(Number), datatype, data };
}

/** The OIP inference response. */
export interface OipResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, unknown>;
  outputs: OipResponseOutput[];
}

export function encodeResponse(
  model: { name: string; version: string },
  request: Pick<DecodedRequest, "id">,
  outputs: Record<string, ort.OnnxValue>,
  order: string[],
): OipResponse {
  return {
    model_name: model.name,
    model_version: model.version,
    id: request.id ?? "",
    outputs: order.map((name) => encodeTensor(name, outputs[name]!)),
  };
}

/**
 * The records-form answer: one object per instance, `{output: value}`. An output whose rows hold
 * one element ([N] or [N, 1]) gives that element; wider rows give a list.
 */
export function encodePredictions(outputs: OipResponseOutput[], rows: number): Array<Record<string, unknown>> {
  const predictions: Array<Record<string, unknown>> = Array.from({ length: rows }, () => ({}));
  for (const o of outputs) {
    if (o.shape[0] !== rows) {
      throw new Error(`output "${o.name}" has ${o.shape[0]} rows for ${rows} instances; use the "inputs" form for this model`);
    }
    const per = rows === 0 ? 0 : o.data.length / rows;
    for (let r = 0; r < rows; r++) predictions[r]![o.name] = per === 1 ? o.data[r] : o.data.slice(r * per, (r + 1) * per);
  }
  return predictions;
}
