/**
 * Feature binning for histogram gradient boosting.
 *
 * Bins are *defined* by float32 thresholds: a value v falls in bin b when b is the first index with
 * `fround(v) <= thresholds[b]` (or the last bin if none). A split "bin <= b" is therefore exactly the
 * comparison `fround(v) <= thresholds[b]`, which is what an ONNX TreeEnsemble with BRANCH_LEQ does on a
 * float32 input. Defining bins this way (rather than binning doubles and hoping a threshold lands
 * between them after rounding) makes the exported tree route every value as the trainer did, by
 * construction, not by luck.
 */

import { InvalidInputError } from "../../kernel/errors";

/** Bin index reserved for missing values (NaN); value bins are 0 … maxBins-1, so maxBins ≤ 255. */
export const MISSING_BIN = 255;
/** Histogram width per feature: every possible Uint8 bin. */
export const HIST_BINS = 256;

export interface BinMapper {
  /** Per feature, ascending float32 thresholds (length = number of value bins − 1). */
  thresholds: Float32Array[];
  /** Per feature: whether any training row was missing (decides whether split search tries both directions). */
  hasMissing: boolean[];
}

export interface BinnedMatrix {
  rows: number;
  cols: number;
  /** Column-major: bins[f * rows + r]; column-major keeps the per-feature histogram loop sequential in memory. */
  bins: Uint8Array;
}

/**
 * A float32 threshold t with a <= t < b, for float32 values a < b. The midpoint is preferred (like
 * sklearn's midpoints between bin edges) so unseen values in the gap split evenly, but it may round up
 * to b when a and b are adjacent float32s; then a itself is the only float32 that separates them.
 */
export function thresholdBetween(a: number, b: number): number {
  // halves first: no overflow between ±1e38 values, and ±Infinity yields a comparable threshold, not NaN
  const t = Math.fround(a / 2 + b / 2);
  return t >= b || !(t >= a) ? a : t;
}

/**
 * Quantile thresholds per feature from the given training rows (all rows when `rowIndices` is omitted).
 * Features with at most `maxBins` distinct (float32) values get one bin per value; others get bins of
 * roughly equal counts, each boundary placed between two distinct values.
 */
export function fitBins(
  X: Float64Array,
  rows: number,
  cols: number,
  opts: { maxBins?: number; rowIndices?: ArrayLike<number> } = {},
): BinMapper {
  const maxBins = opts.maxBins ?? 255;
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > 255)
    throw new InvalidInputError([{ field: "maxBins", message: `must be an integer in [2, 255], got ${maxBins}` }]);
  const idx = opts.rowIndices;
  const n = idx ? idx.length : rows;
  const thresholds: Float32Array[] = [];
  const hasMissing: boolean[] = [];
  const values = new Float32Array(n);
  for (let f = 0; f < cols; f++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const r = idx ? idx[i]! : i;
      const v = X[r * cols + f]!;
      if (Number.isNaN(v)) continue;
      values[m++] = v;
    }
    hasMissing.push(m < n);
    const sorted = sortFloat32(values.subarray(0, m));
    const distinct = new Float32Array(m);
    const counts = new Uint32Array(m);
    let nd = 0;
    for (let i = 0; i < m; i++) {
      const v = sorted[i]!;
      if (nd > 0 && distinct[nd - 1] === v) counts[nd - 1]!++;
      else {
        distinct[nd] = v;
        counts[nd++] = 1;
      }
    }
    const t: number[] = [];
    if (nd <= maxBins) {
      for (let i = 0; i + 1 < nd; i++) t.push(thresholdBetween(distinct[i]!, distinct[i + 1]!));
    } else {
      // Cut after the distinct value where the cumulative count first reaches k·m/maxBins; walking
      // distinct values means heavy ties collapse cuts instead of producing empty bins.
      let cum = 0;
      let k = 1;
      for (let i = 0; i + 1 < nd && k < maxBins; i++) {
        cum += counts[i]!;
        if (cum >= (k * m) / maxBins) {
          t.push(thresholdBetween(distinct[i]!, distinct[i + 1]!));
          while (k < maxBins && cum >= (k * m) / maxBins) k++;
        }
      }
    }
    thresholds.push(Float32Array.from(t));
  }
  return { thresholds, hasMissing };
}

/**
 * Sorts non-NaN float32 values ascending with an LSD radix sort on their bit patterns (mapped so
 * unsigned order is numeric order); several times faster than TypedArray#sort on large columns.
 */
export function sortFloat32(values: Float32Array): Float32Array {
  const n = values.length;
  let keys = new Uint32Array(values.buffer, values.byteOffset, n).slice();
  for (let i = 0; i < n; i++) {
    const u = keys[i]!;
    keys[i] = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
  }
  let tmp = new Uint32Array(n);
  const count = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(keys[i]! >>> shift) & 255]!++;
    let sum = 0;
    for (let b = 0; b < 256; b++) {
      const c = count[b]!;
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      tmp[count[(k >>> shift) & 255]!++] = k;
    }
    [keys, tmp] = [tmp, keys];
  }
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    keys[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
  return new Float32Array(keys.buffer, 0, n);
}

/** The bin of one raw value for a feature's thresholds (binary search on the float32 value). */
export function binOf(thresholds: Float32Array, v: number): number {
  if (Number.isNaN(v)) return MISSING_BIN;
  const x = Math.fround(v);
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= thresholds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Bins the given rows (all rows when `rowIndices` is omitted) into a column-major Uint8 matrix. */
export function applyBins(mapper: BinMapper, X: Float64Array, rows: number, cols: number, rowIndices?: ArrayLike<number>): BinnedMatrix {
  if (mapper.thresholds.length !== cols) throw new Error(`bin mapper has ${mapper.thresholds.length} features, matrix has ${cols}`);
  const n = rowIndices ? rowIndices.length : rows;
  const bins = new Uint8Array(n * cols);
  for (let f = 0; f < cols; f++) {
    const t = mapper.thresholds[f]!;
    const base = f * n;
    for (let i = 0; i < n; i++) {
      const r = rowIndices ? rowIndices[i]! : i;
      bins[base + i] = binOf(t, X[r * cols + f]!);
    }
  }
  return { rows: n, cols, bins };
}
