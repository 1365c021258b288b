/** Seeded synthetic data sets for the gradient-boosting tests and timing. */

/** mulberry32: a small, fast, seedable PRNG, enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface Synthetic {
  X: Float64Array;
  rows: number;
  cols: number;
  featureNames: string[];
  y: Float64Array;
  trainRows: Uint32Array;
  validRows: Uint32Array;
}

function split(rows: number, validFraction: number): { trainRows: Uint32Array; validRows: Uint32Array } {
  const nv = Math.round(rows * validFraction);
  return {
    trainRows: Uint32Array.from({ length: rows - nv }, (_, i) => i),
    validRows: Uint32Array.from({ length: nv }, (_, i) => rows - nv + i),
  };
}

/** y = sin(x0) + x1² + 0.1·noise, x ~ U(-2, 2); extra cols are pure noise features. */
export function regressionData(rows: number, seed = 1, cols = 3, missingRate = 0): Synthetic {
  const rand = prng(seed);
  const noise = gaussian(rand);
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) X[r * cols + c] = rand() * 4 - 2;
    y[r] = Math.sin(X[r * cols]!) + X[r * cols + 1]! ** 2 + 0.1 * noise();
    for (let c = 0; c < cols; c++) if (rand() < missingRate) X[r * cols + c] = NaN;
  }
  return { X, rows, cols, featureNames: Array.from({ length: cols }, (_, c) => `x${c}`), y, ...split(rows, 0.2) };
}

/**
 * Classes from a noisy nonlinear score: binary when nClasses = 2, else class = which of the
 * nClasses angular sectors (x0, x1) lies in. Label noise flips `flip` of the labels.
 */
export function classificationData(rows: number, nClasses: number, seed = 2, cols = 4, missingRate = 0, flip = 0.02): Synthetic {
  const rand = prng(seed);
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) X[r * cols + c] = rand() * 4 - 2;
    const x0 = X[r * cols]!;
    const x1 = X[r * cols + 1]!;
    let cls: number;
    if (nClasses === 2) cls = x0 * x0 + x1 > 1 ? 1 : 0;
    else cls = Math.min(nClasses - 1, Math.floor(((Math.atan2(x1, x0) + Math.PI) / (2 * Math.PI)) * nClasses));
    if (rand() < flip) cls = Math.floor(rand() * nClasses);
    y[r] = cls;
    for (let c = 0; c < cols; c++) if (rand() < missingRate) X[r * cols + c] = NaN;
  }
  return { X, rows, cols, featureNames: Array.from({ length: cols }, (_, c) => `f${c}`), y, ...split(rows, 0.2) };
}

/** Rows `idx` of a row-major matrix. */
export function takeRows(X: Float64Array, cols: number, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length * cols);
  for (let i = 0; i < idx.length; i++) out.set(X.subarray(idx[i]! * cols, (idx[i]! + 1) * cols), i * cols);
  return out;
}
