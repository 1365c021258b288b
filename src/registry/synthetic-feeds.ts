import * as ort from "onnxruntime-node";
import type { ModelSignature } from "./signature";

/** Rows of the registration check's synthetic batches: 1 and 2 give the bytes per row; 8 shows outputs that grow faster than the rows. */
export const CHECK_ROWS = [1, 2, 8] as const;

/**
 * Synthetic feeds of `rows` rows for a model: the first dimension `rows` when it is dynamic,
 * every other dynamic dimension 1; zeros, "" and false. Serving warms a model with one row;
 * registration measures its outputs on a few.
 */
export function syntheticFeeds(signature: ModelSignature, rows: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of signature.inputs) {
    const dims = (spec.shape ?? [null, 1]).map((d, k) => (d === null ? (k === 0 ? rows : 1) : d));
    const n = dims.reduce((a, b) => a * b, 1);
    switch (spec.type) {
      case "string":
        feeds[spec.name] = new ort.Tensor("string", new Array<string>(n).fill(""), dims);
        break;
      case "bool":
        feeds[spec.name] = new ort.Tensor("bool", new Uint8Array(n), dims);
        break;
      case "int64":
        feeds[spec.name] = new ort.Tensor("int64", new BigInt64Array(n), dims);
        break;
      case "uint64":
        feeds[spec.name] = new ort.Tensor("uint64", new BigUint64Array(n), dims);
        break;
      case "double":
        feeds[spec.name] = new ort.Tensor("float64", new Float64Array(n), dims);
        break;
      case "float16":
        feeds[spec.name] = new ort.Tensor("float16", new Uint16Array(n), dims);
        break;
      case "int32":
        feeds[spec.name] = new ort.Tensor("int32", new Int32Array(n), dims);
        break;
      case "int16":
        feeds[spec.name] = new ort.Tensor("int16", new Int16Array(n), dims);
        break;
      case "int8":
        feeds[spec.name] = new ort.Tensor("int8", new Int8Array(n), dims);
        break;
      case "uint32":
        feeds[spec.name] = new ort.Tensor("uint32", new Uint32Array(n), dims);
        break;
      case "uint16":
        feeds[spec.name] = new ort.Tensor("uint16", new Uint16Array(n), dims);
        break;
      case "uint8":
        feeds[spec.name] = new ort.Tensor("uint8", new Uint8Array(n), dims);
        break;
      default:
        feeds[spec.name] = new ort.Tensor("float32", new Float32Array(n), dims);
    }
  }
  return feeds;
}
