/**
 * Columnar training data for the built-in trainers: one typed array (or string array) per column,
 * never an object per row, so a few million rows stay a few flat buffers that slice cheaply and
 * can be shared with worker threads.
 */
import { InvalidInputError } from "../kernel/errors";

/**
 * A numeric column holds a `Float64Array` where `NaN` means missing; a categorical column holds
 * strings where `null` (and `""`, which is how ONNX string tensors carry a missing value) means
 * missing.
 */
export type Column =
  { name: string; kind: "numeric"; values: Float64Array } | { name: string; kind: "categorical"; values: ReadonlyArray<string | null> };

export interface Table {
  rows: number;
  columns: Column[];
}

export function numericColumn(name: string, values: ArrayLike<number>): Column {
  return { name, kind: "numeric", values: Float64Array.from(values) };
}

export function categoricalColumn(name: string, values: ReadonlyArray<string | null>): Column {
  return { name, kind: "categorical", values };
}

/** Checks that every column has `rows` values and that names are unique; returns the table. */
export function table(columns: Column[]): Table {
  const rows = columns[0]?.values.length ?? 0;
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) throw new Error(`duplicate column "${c.name}"`);
    seen.add(c.name);
    if (c.values.length !== rows) throw new Error(`column "${c.name}" has ${c.values.length} values, expected ${rows}`);
  }
  return { rows, columns };
}

export function getColumn(t: Table, name: string): Column {
  const c = t.columns.find((col) => col.name === name);
  if (!c) {
    const known = t.columns.map((col) => col.name).join(", ");
    throw new InvalidInputError([{ field: name, message: `no column "${name}" in the table (columns: ${known})` }]);
  }
  return c;
}

/** A categorical value counts as missing when null or empty, in training and in the ONNX graph alike. */
export function isMissingCategory(v: string | null | undefined): v is null | undefined | "" {
  return v === null || v === undefined || v === "";
}

/**
 * mulberry32: a 32-bit-state PRNG returning floats in [0, 1). Chosen because it is tiny, fast,
 * passes the usual statistical batteries well enough for shuffling and synthetic data, and gives
 * the same stream on every platform for a seed — which is what "deterministic for a seed" needs.
 * Not cryptographic.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform stream (Box–Muller; the second draw is kept for the next call). */
export function normalSampler(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    // 1 - u avoids log(0): uniform() may return 0 but never 1.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/**
 * Splits row indices 0..rows-1 into training and validation sets: a seeded Fisher–Yates shuffle,
 * the first `round(rows * fraction)` rows going to validation. Both index lists come back sorted
 * ascending so later passes read the columns in memory order.
 */
export function trainValidationSplit(rows: number, fraction: number, seed: number): { train: Uint32Array; validation: Uint32Array } {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`validation fraction must be in [0, 1], got ${fraction}`);
  const idx = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) idx[i] = i;
  const rand = mulberry32(seed);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const nVal = Math.round(rows * fraction);
  return { validation: idx.slice(0, nVal).sort(), train: idx.slice(nVal).sort() };
}

/** All row indices 0..rows-1, for callers that transform or predict a whole table. */
export function allRows(rows: number): Uint32Array {
  const idx = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) idx[i] = i;
  return idx;
}
