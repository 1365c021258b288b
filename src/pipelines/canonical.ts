import { createHash } from "node:crypto";
import { validatePipelineSpec } from "./validate";

/**
 * Canonical JSON: one text per value, so equal data hashes equal. Object keys sorted (by UTF-16
 * code units, as `Array.prototype.sort` does), no whitespace, arrays in order, keys whose value is
 * `undefined` dropped, numbers and strings written as `JSON.stringify` writes them (which is what
 * RFC 8785 prescribes for both). Pure.
 *
 * @throws TypeError for what JSON cannot hold: functions, symbols, bigints, NaN or ±Infinity,
 *   `undefined` inside an array, and circular data. A `toJSON` method (Date) is honoured, as in
 *   JSON.stringify.
 */
export function canonicalJson(value: unknown): string {
  // Keys of the objects being written, to name where a refused value is; rendered only then.
  const path: Array<string | number> = [];
  const open = new Set<object>();
  const where = () => (path.length === 0 ? "the top" : path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join(""));
  const write = (value: unknown): string => {
    switch (typeof value) {
      case "string":
      case "boolean":
        return JSON.stringify(value);
      case "number":
        if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} at ${where()} is not JSON`);
        return JSON.stringify(value);
      case "object":
        break;
      default:
        throw new TypeError(`canonicalJson: ${value === undefined ? "undefined" : `a ${typeof value}`} at ${where()} is not JSON`);
    }
    if (value === null) return "null";
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return write((toJSON as () => unknown).call(value));
    if (open.has(value)) throw new TypeError(`canonicalJson: circular data at ${where()}`);
    open.add(value);
    let out: string;
    if (Array.isArray(value)) {
      out = "[";
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        out += (i === 0 ? "" : ",") + write(value[i]);
        path.pop();
      }
      out += "]";
    } else {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      out = "{";
      let first = true;
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        path.push(key);
        out += (first ? "" : ",") + JSON.stringify(key) + ":" + write(item);
        path.pop();
        first = false;
      }
      out += "}";
    }
    open.delete(value);
    return out;
  };
  return write(value);
}

/** `sha256:<64 hex>` of a value's canonical JSON. @throws TypeError as {@link canonicalJson} */
export function canonicalHash(value: unknown): string {
  return `sha256:${createHash("sha256").update(canonicalJson(value)).digest("hex")}`;
}

/**
 * The content hash of a pipeline spec: `sha256:<hex>` of the canonical JSON of the normalized spec,
 * so specs that differ only in key order or in omitted defaults hash equal, and any other change —
 * a stage, its order, a parameter, a description — gives a new hash.
 *
 * @throws InvalidInputError when `spec` is not a valid spec (it is validated to be normalized).
 */
export function specHash(spec: unknown): string {
  return canonicalHash(validatePipelineSpec(spec));
}
