/**
 * Preprocessing declared in a training stage — impute, scale, one-hot, bucketize — fitted on the
 * training rows only, applied in JS for training, and exported as the front of the ONNX graph so
 * serving computes exactly what training saw.
 *
 * Contract shared by every trainer (linear models here, tree ensembles elsewhere):
 *
 *   const fitted = fitPreprocessor(table, trainRows, steps);   // statistics from trainRows only
 *   const { matrix, cols } = transform(fitted, table, rows);   // row-major Float32Array
 *   const { inputs, output } = exportPreprocessor(fitted, g);  // graph inputs + float [N, cols] tensor name
 *   const feeds = onnxFeeds(fitted, table, rows);              // what to feed those inputs
 *
 * The matrix is float32 because the ONNX operators (Imputer, Scaler, OneHotEncoder) compute in
 * float: `transform` rounds after every arithmetic operation exactly where the graph does, so the
 * features a model is trained on are bit-for-bit the features it is served with.
 *
 * Semantics (JS and ONNX alike):
 * - Features are exactly the declared steps, in declaration order; undeclared columns are ignored.
 *   A column may appear in several steps (e.g. raw and bucketized); it is still one graph input.
 * - Numeric: optional impute (NaN → value), then either scale (`(x - offset) * scale`) or bucketize.
 *   Without impute, NaN flows through to the model.
 * - Categorical: always one-hot (declaring `oneHot` only sets options). Missing is null or "".
 *   Categories are learned from the imputed training values; categories unseen in training, those
 *   dropped by `maxCategories`, and missing values without impute all give an all-zero row — the
 *   behaviour of ai.onnx.ml OneHotEncoder with zeros=1.
 * - Bucketize: boundaries b0 < b1 < … give k+1 one-hot buckets (-inf, b0), [b0, b1), …, [bk-1, +inf);
 *   a value equal to a boundary goes to the bucket above; NaN gives an all-zero row.
 */
import type { onnx } from "onnx-proto";
import { InvalidInputError } from "../kernel/errors";
import { getColumn, isMissingCategory, type Table } from "./data";
import { ML_DOMAIN, valueInfo, type ElemType, type GraphBuilder } from "./onnx/builder";

export type ImputeStrategy = "mean" | "median" | "most_frequent" | { constant: number | string };

/** One declared preprocessing step; see the module comment for what each option means. */
export interface PreprocessStep {
  column: string;
  impute?: ImputeStrategy;
  scale?: "standard" | "minmax";
  /** Categorical only. `maxCategories` keeps the most frequent ones (ties by name); others encode as zeros. */
  oneHot?: { maxCategories?: number };
  /** Numeric only; boundaries must be finite and strictly increasing (as float32). */
  bucketize?: { boundaries: number[] };
}

/** A fitted step; every number is already float32-representable, as the graph stores it. */
export type FittedStep =
  | { kind: "numeric"; column: string; impute: number | null; offset: number | null; scale: number | null; features: string[] }
  | { kind: "bucketize"; column: string; impute: number | null; boundaries: number[]; features: string[] }
  | { kind: "onehot"; column: string; impute: string | null; categories: string[]; features: string[] };

export interface FittedPreprocessor {
  steps: FittedStep[];
  /** One graph input per distinct source column, in first-use order. */
  inputs: Array<{ name: string; kind: "numeric" | "categorical" }>;
  featureNames: string[];
  cols: number;
}

/** A graph input's or output's stored signature; `null` dimensions are dynamic (the batch). */
export interface TensorSignature {
  name: string;
  type: ElemType;
  shape: Array<number | null>;
}

const f32 = Math.fround;

/** A refused column: the problem's `field` is the column's name. */
function columnError(column: string, message: string): InvalidInputError {
  return new InvalidInputError([{ field: column, message }]);
}

export function fitPreprocessor(table: Table, trainRows: Uint32Array, steps: PreprocessStep[]): FittedPreprocessor {
  if (steps.length === 0)
    throw new InvalidInputError([{ field: "preprocessing", message: "needs at least one step (the features are the declared steps)" }]);
  const fitted: FittedStep[] = [];
  const inputs: FittedPreprocessor["inputs"] = [];
  for (const step of steps) {
    const col = getColumn(table, step.column);
    if (!inputs.some((i) => i.name === col.name)) inputs.push({ name: col.name, kind: col.kind });
    if (col.kind === "numeric") {
      if (step.oneHot) throw columnError(col.name, "the column is numeric: oneHot applies to categorical columns (bucketize numeric ones)");
      if (step.scale && step.bucketize) throw columnError(col.name, "scale and bucketize are exclusive in one step");
      const raw = new Float64Array(trainRows.length);
      for (let i = 0; i < trainRows.length; i++) raw[i] = f32(col.values[trainRows[i]!]!);
      const impute = step.impute === undefined ? null : numericImpute(col.name, raw, step.impute);
      const vals = impute === null ? raw : raw.map((v) => (Number.isNaN(v) ? impute : v));
      if (step.bucketize) {
        const boundaries = step.bucketize.boundaries.map(f32);
        for (let j = 0; j < boundaries.length; j++) {
          if (!Number.isFinite(boundaries[j]!)) throw columnError(col.name, "bucket boundaries must be finite");
          if (j > 0 && !(boundaries[j]! > boundaries[j - 1]!))
            throw columnError(col.name, "bucket boundaries must be strictly increasing (as float32)");
        }
        if (boundaries.length === 0) throw columnError(col.name, "bucketize needs at least one boundary");
        const features = [`${col.name}<${boundaries[0]}`];
        for (let j = 1; j < boundaries.length; j++) features.push(`${col.name}[${boundaries[j - 1]},${boundaries[j]})`);
        features.push(`${col.name}>=${boundaries[boundaries.length - 1]}`);
        fitted.push({ kind: "bucketize", column: col.name, impute, boundaries, features });
      } else {
        let offset: number | null = null;
        let scale: number | null = null;
        if (step.scale) [offset, scale] = scaleStats(col.name, vals, step.scale);
        fitted.push({ kind: "numeric", column: col.name, impute, offset, scale, features: [col.name] });
      }
    } else {
      if (step.scale || step.bucketize) throw columnError(col.name, "the column is categorical: only impute and oneHot apply");
      const values: Array<string | null> = [];
      for (let i = 0; i < trainRows.length; i++) {
        const v = col.values[trainRows[i]!];
        values.push(isMissingCategory(v) ? null : v);
      }
      let impute: string | null = null;
      if (step.impute !== undefined) {
        if (step.impute === "most_frequent") impute = mostFrequent(values.filter((v): v is string => v !== null))[0] ?? null;
        else if (typeof step.impute === "object") impute = String(step.impute.constant);
        else
          throw columnError(col.name, `the column is categorical: impute "${step.impute}" needs numbers (use most_frequent or constant)`);
        if (impute === null) throw columnError(col.name, "every training value is missing, nothing to impute from");
        if (impute === "") throw columnError(col.name, '"" means missing and cannot be the imputed category');
      }
      const present = values.map((v) => v ?? impute).filter((v): v is string => v !== null);
      let categories = mostFrequent(present);
      const max = step.oneHot?.maxCategories;
      if (max !== undefined) {
        if (!(Number.isInteger(max) && max >= 1)) throw columnError(col.name, "maxCategories must be a positive integer");
        categories = categories.slice(0, max);
      }
      if (categories.length === 0) throw columnError(col.name, "no category in the training rows");
      // Sorted so the encoding does not depend on frequency order, which shifts between datasets.
      categories.sort(compareStrings);
      fitted.push({ kind: "onehot", column: col.name, impute, categories, features: categories.map((c) => `${col.name}=${c}`) });
    }
  }
  const featureNames = fitted.flatMap((s) => s.features);
  return { steps: fitted, inputs, featureNames, cols: featureNames.length };
}

function compareStrings(a: string, b: string): number {
  // Code-unit order, not localeCompare: the same on every machine.
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Distinct values by decreasing count, ties broken by name. */
function mostFrequent(values: string[]): string[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || compareStrings(a, b));
}

function numericImpute(column: string, raw: Float64Array, strategy: ImputeStrategy): number {
  if (typeof strategy === "object") {
    if (typeof strategy.constant !== "number" || !Number.isFinite(strategy.constant))
      throw columnError(column, "the column is numeric: the imputed constant must be a finite number");
    return f32(strategy.constant);
  }
  const present = raw.filter((v) => !Number.isNaN(v));
  if (present.length === 0) throw columnError(column, "every training value is missing, nothing to impute from");
  if (strategy === "mean") {
    let s = 0;
    for (const v of present) s += v;
    return f32(s / present.length);
  }
  present.sort();
  if (strategy === "median") {
    const m = present.length >> 1;
    return f32(present.length % 2 ? present[m]! : (present[m - 1]! + present[m]!) / 2);
  }
  // most_frequent on sorted values: the longest run, the smallest value on ties.
  let best = present[0]!;
  let bestRun = 0;
  for (let i = 0; i < present.length;) {
    let j = i;
    while (j < present.length && present[j] === present[i]) j++;
    if (j - i > bestRun) [best, bestRun] = [present[i]!, j - i];
    i = j;
  }
  return best;
}

/** [offset, scale] as float32; a constant column gets scale 1 rather than a division by zero. */
function scaleStats(column: string, vals: Float64Array, kind: "standard" | "minmax"): [number, number] {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of vals) {
    if (Number.isNaN(v)) continue;
    // Welford: one pass without the cancellation of sum-of-squares.
    n++;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) throw columnError(column, "no value to compute scaling from");
  if (kind === "standard") {
    const std = Math.sqrt(m2 / n);
    return [f32(mean), f32(std > 0 ? 1 / std : 1)];
  }
  const range = max - min;
  return [f32(min), f32(range > 0 ? 1 / range : 1)];
}

/** The feature matrix for `rows`, row-major, float32; see the module comment for the semantics. */
export function transform(
  fitted: FittedPreprocessor,
  table: Table,
  rows: Uint32Array,
): { matrix: Float32Array; cols: number; featureNames: string[] } {
  const cols = fitted.cols;
  const n = rows.length;
  const matrix = new Float32Array(n * cols); // zero-filled: one-hot and bucket rows only set their 1
  let offset = 0;
  for (const step of fitted.steps) {
    const col = getColumn(table, step.column);
    if (step.kind === "onehot") {
      if (col.kind !== "categorical") throw columnError(col.name, "the column was categorical when fitted, it is numeric here");
      const index = new Map(step.categories.map((c, i) => [c, i]));
      for (let r = 0; r < n; r++) {
        const v = col.values[rows[r]!];
        const value = isMissingCategory(v) ? step.impute : v;
        const j = value === null ? undefined : index.get(value);
        if (j !== undefined) matrix[r * cols + offset + j] = 1;
      }
    } else {
      if (col.kind !== "numeric") throw columnError(col.name, "the column was numeric when fitted, it is categorical here");
      for (let r = 0; r < n; r++) {
        let x = f32(col.values[rows[r]!]!);
        if (Number.isNaN(x) && step.impute !== null) x = step.impute;
        if (step.kind === "numeric") {
          // Two roundings, as the Scaler computes (x - offset) * scale in float.
          if (step.offset !== null && step.scale !== null) x = f32(f32(x - step.offset) * step.scale);
          matrix[r * cols + offset] = x;
        } else if (!Number.isNaN(x)) {
          let b = 0;
          while (b < step.boundaries.length && x >= step.boundaries[b]!) b++;
          matrix[r * cols + offset + b] = 1;
        }
      }
    }
    offset += step.features.length;
  }
  return { matrix, cols, featureNames: fitted.featureNames };
}

/** The graph inputs' signature: numeric columns as float [N, 1], categorical as string [N, 1]. */
export function inputSignature(fitted: FittedPreprocessor): TensorSignature[] {
  return fitted.inputs.map((i) => ({ name: i.name, type: i.kind === "numeric" ? "float" : "string", shape: [null, 1] }));
}

/**
 * Adds the preprocessing to a graph: one input per source column (named after it) and a float
 * [N, cols] output whose columns are `fitted.featureNames`. Operators: Imputer, Scaler,
 * LabelEncoder (string imputation: a map that is the identity on known categories and sends ""
 * to the imputed one), OneHotEncoder (zeros=1) + Reshape, and for bucketize GreaterOrEqual
 * against [-inf, b0, …] → Cast → MatMul with a difference matrix, which turns "x ≥ each lower
 * bound" into a one-hot bucket using only exact 0/±1 float arithmetic and sends NaN (never ≥
 * anything) to all zeros — the alternatives (Less + Sum for an index, then OneHot) need more
 * nodes and give NaN a bucket. Concat joins the parts.
 */
export function exportPreprocessor(fitted: FittedPreprocessor, g: GraphBuilder): { inputs: onnx.IValueInfoProto[]; output: string } {
  const parts: string[] = [];
  for (const step of fitted.steps) {
    if (step.kind === "onehot") {
      let cur = step.column;
      if (step.impute !== null) {
        let sentinel = "\u0000unseen";
        while (step.categories.includes(sentinel)) sentinel += "\u0000";
        [cur] = g.node(
          "LabelEncoder",
          [cur],
          [g.value("pp_imputed", "string", [null, 1])],
          {
            keys_strings: { strings: [...step.categories, ""] },
            values_strings: { strings: [...step.categories, step.impute] },
            default_string: { string: sentinel },
          },
          ML_DOMAIN,
        );
      }
      const [oh] = g.node(
        "OneHotEncoder",
        [cur!],
        [g.value("pp_onehot3d", "float", [null, 1, step.categories.length])],
        { cats_strings: { strings: step.categories }, zeros: { int: 1 } },
        ML_DOMAIN,
      );
      const shape = g.constant("pp_shape", "int64", [2], [-1, step.categories.length]);
      parts.push(g.node("Reshape", [oh!, shape], [g.value("pp_onehot", "float", [null, step.categories.length])])[0]!);
      continue;
    }
    let cur = step.column;
    if (step.impute !== null) {
      [cur] = g.node(
        "Imputer",
        [cur],
        [g.value("pp_imputed", "float", [null, 1])],
        { imputed_value_floats: { floats: [step.impute] }, replaced_value_float: { float: NaN } },
        ML_DOMAIN,
      );
    }
    if (step.kind === "numeric") {
      if (step.offset !== null && step.scale !== null) {
        [cur] = g.node(
          "Scaler",
          [cur!],
          [g.value("pp_scaled", "float", [null, 1])],
          { offset: { floats: [step.offset] }, scale: { floats: [step.scale] } },
          ML_DOMAIN,
        );
      }
      parts.push(cur!);
      continue;
    }
    const k = step.boundaries.length + 1;
    const lower = g.constant("pp_lower", "float", [k], [-Infinity, ...step.boundaries]);
    const [ge] = g.node("GreaterOrEqual", [cur!, lower], [g.value("pp_ge", "bool", [null, k])]);
    const [gef] = g.node("Cast", [ge!], [g.value("pp_gef", "float", [null, k])], { to: { int: 1 /* FLOAT */ } });
    // bucket_j = ge_j - ge_{j+1}: column j of D has +1 at row j and -1 at row j+1.
    const d = new Float32Array(k * k);
    for (let j = 0; j < k; j++) {
      d[j * k + j] = 1;
      if (j + 1 < k) d[(j + 1) * k + j] = -1;
    }
    const diff = g.constant("pp_bucket_diff", "float", [k, k], d);
    parts.push(g.node("MatMul", [gef!, diff], [g.value("pp_buckets", "float", [null, k])])[0]!);
  }
  const output =
    parts.length === 1
      ? parts[0]!
      : g.node("Concat", parts, [g.value("pp_features", "float", [null, fitted.cols])], { axis: { int: 1 } })[0]!;
  return { inputs: inputSignature(fitted).map((s) => valueInfo(s.name, s.type, s.shape)), output };
}

export type ColumnFeed = { type: "float32"; data: Float32Array; dims: [number, 1] } | { type: "string"; data: string[]; dims: [number, 1] };

/** One column's values for `rows` as the graph input expects them: float32, or strings with missing as "". */
export function columnFeed(table: Table, name: string, rows: Uint32Array): ColumnFeed {
  const col = getColumn(table, name);
  if (col.kind === "numeric") {
    const data = new Float32Array(rows.length);
    for (let r = 0; r < rows.length; r++) data[r] = col.values[rows[r]!]!;
    return { type: "float32", data, dims: [rows.length, 1] };
  }
  const data: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) data[r] = col.values[rows[r]!] ?? "";
  return { type: "string", data, dims: [rows.length, 1] };
}

/** What to feed the exported graph for `rows`, keyed by input name (build ort.Tensors from these). */
export function onnxFeeds(fitted: FittedPreprocessor, table: Table, rows: Uint32Array): Record<string, ColumnFeed> {
  return Object.fromEntries(fitted.inputs.map((i) => [i.name, columnFeed(table, i.name, rows)]));
}
