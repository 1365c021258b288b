import type { DuckDBDataChunk } from "@duckdb/node-api";
import * as ort from "onnxruntime-node";
import { InvalidInputError } from "../kernel/errors";
import type { ModelSignature, TensorSpec } from "../registry";
import { isValid, readDoubles } from "./vectors";

/**
 * How a model's tensors map to table columns for batch scoring: each input is fed from the
 * same-named column (one value per row: Sluice's trainers export one input per raw feature), and
 * each output becomes one column per value per row.
 */

/** One prediction column: value `index` of every row of output tensor `output`. */
export interface OutputColumn {
  output: string;
  column: string;
  /** Values per row in the output tensor. */
  width: number;
  index: number;
  sqlType: "DOUBLE" | "BIGINT" | "VARCHAR" | "BOOLEAN";
}

const SQL_TYPES: Record<string, OutputColumn["sqlType"]> = {
  float: "DOUBLE",
  double: "DOUBLE",
  float16: "DOUBLE",
  int64: "BIGINT",
  int32: "BIGINT",
  int16: "BIGINT",
  int8: "BIGINT",
  uint8: "BIGINT",
  uint16: "BIGINT",
  uint32: "BIGINT",
  string: "VARCHAR",
  bool: "BOOLEAN",
};

function bad(field: string, message: string): InvalidInputError {
  return new InvalidInputError([{ field, message }]);
}

/** Values per row of a tensor `[batch]` or `[batch, k]`; anything else cannot be a column. */
function widthOf(spec: TensorSpec, side: "input" | "output"): number {
  const shape = spec.shape;
  if (shape === null || shape.length === 1) return 1;
  if (shape.length === 2 && typeof shape[1] === "number") return shape[1];
  throw bad(
    "inputs.model",
    `${side} ${spec.name} has shape [${shape.map((d) => d ?? "?").join(", ")}]; scoring needs [batch] or [batch, k]`,
  );
}

/**
 * The prediction columns of a model's outputs (the outputs serving answers: `answerSignature`).
 * The usual names read better in a table: a classifier's `label` and a regressor's `variable`
 * become `prediction` (a classifier with class names: the name), its `label_index`
 * `prediction_index`, and the columns of `probabilities` `probability_0`, `probability_1`…
 */
export function outputColumnsOf(sig: ModelSignature): OutputColumn[] {
  const columns: OutputColumn[] = [];
  const single = sig.outputs.filter((o) => o.name === "label" || o.name === "variable").length === 1;
  const names = new Set(sig.outputs.map((o) => o.name));
  for (const spec of sig.outputs) {
    const sqlType = SQL_TYPES[spec.type];
    if (!sqlType)
      throw bad("inputs.model", `output ${spec.name} is a ${spec.type}; scoring writes tensors of numbers, strings or booleans`);
    const width = widthOf(spec, "output");
    const base =
      spec.name === "probabilities"
        ? "probability"
        : single && (spec.name === "label" || spec.name === "variable")
          ? "prediction"
          : single && names.has("label") && spec.name === "label_index"
            ? "prediction_index"
            : spec.name;
    for (let index = 0; index < width; index++) {
      columns.push({ output: spec.name, column: width === 1 ? base : `${base}_${index}`, width, index, sqlType });
    }
  }
  return columns;
}

/**
 * A preallocated chunk of one input's values, filled from DuckDB data chunks whose numeric
 * columns are DOUBLE (the scoring query casts them) and string columns VARCHAR.
 */
export interface InputBuffer {
  spec: TensorSpec;
  /** Copies `count` values of column `column` of `chunk` from row `from` into rows `at`…. */
  fill(chunk: DuckDBDataChunk, column: number, from: number, at: number, count: number): void;
  /** The same from JS values (null or undefined for missing), for callers that hold a table in memory. */
  fillValues(values: ArrayLike<unknown>, from: number, at: number, count: number): void;
  tensor(rows: number): ort.Tensor;
}

function numericBuffer<A extends Float32Array | Float64Array>(
  spec: TensorSpec,
  data: A,
  type: "float32" | "float64",
  dims: (n: number) => number[],
): InputBuffer {
  return {
    spec,
    fill(chunk, column, from, at, count) {
      const { values, validity } = readDoubles(chunk, column, from + count);
      if (validity === null) {
        for (let i = 0; i < count; i++) data[at + i] = values[from + i]!;
      } else {
        for (let i = 0; i < count; i++) data[at + i] = isValid(validity, from + i) ? values[from + i]! : NaN;
      }
    },
    fillValues(values, from, at, count) {
      for (let i = 0; i < count; i++) {
        const v = values[from + i];
        data[at + i] = v === null || v === undefined ? NaN : Number(v);
      }
    },
    tensor: (rows) => new ort.Tensor(type, data.subarray(0, rows), dims(rows)),
  };
}

/** One buffer per model input, for chunks of `chunkRows` rows. */
export function scoreColumnsOf(sig: ModelSignature, chunkRows: number): InputBuffer[] {
  return sig.inputs.map((spec) => {
    if (widthOf(spec, "input") !== 1) {
      throw bad("inputs.model", `input ${spec.name} takes several values per row; scoring feeds one column per input`);
    }
    const dims = (n: number) => (spec.shape && spec.shape.length === 1 ? [n] : [n, 1]);
    switch (spec.type) {
      case "float":
        return numericBuffer(spec, new Float32Array(chunkRows), "float32", dims);
      case "double":
        return numericBuffer(spec, new Float64Array(chunkRows), "float64", dims);
      case "int64": {
        const data = new BigInt64Array(chunkRows);
        return {
          spec,
          fill(chunk, column, from, at, count) {
            const { values, validity } = readDoubles(chunk, column, from + count);
            for (let i = 0; i < count; i++) data[at + i] = isValid(validity, from + i) ? BigInt(Math.trunc(values[from + i]!)) : 0n;
          },
          fillValues(values, from, at, count) {
            for (let i = 0; i < count; i++) data[at + i] = BigInt(Math.trunc(Number(values[from + i] ?? 0)));
          },
          tensor: (rows) => new ort.Tensor("int64", data.subarray(0, rows), dims(rows)),
        };
      }
      case "string": {
        const data = new Array<string>(chunkRows).fill("");
        return {
          spec,
          fill(chunk, column, from, at, count) {
            const vector = chunk.getColumnVector(column);
            for (let i = 0; i < count; i++) {
              const v = vector.getItem(from + i);
              data[at + i] = v === null || v === undefined ? "" : String(v);
            }
          },
          fillValues(values, from, at, count) {
            for (let i = 0; i < count; i++) {
              const v = values[from + i];
              data[at + i] = v === null || v === undefined ? "" : String(v);
            }
          },
          tensor: (rows) => new ort.Tensor("string", rows === chunkRows ? data : data.slice(0, rows), dims(rows)),
        };
      }
      default:
        throw bad("inputs.model", `input ${spec.name} has element type ${spec.type}, which scoring cannot feed from a column`);
    }
  });
}

/** The feeds of one chunk of `rows` rows. */
export function feedsFor(sig: ModelSignature, buffers: InputBuffer[], rows: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  sig.inputs.forEach((spec, i) => (feeds[spec.name] = buffers[i]!.tensor(rows)));
  return feeds;
}
