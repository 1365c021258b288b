/**
 * Histogram gradient boosting (in the manner of scikit-learn's HistGradientBoosting* and LightGBM) on a
 * numeric row-major matrix. Pure: no I/O, no randomness — the train/validation split is an input, so
 * a run is a function of its arguments and the model JSON is reproducible bit for bit.
 */
import { InvalidInputError } from "../../kernel/errors";
import { applyBins, fitBins, type BinMapper } from "./binning";
import { growTree, leafOfBinned, TreeWorkspace, type Tree } from "./tree";

export type GbtTask = "regression" | "binary" | "multiclass";

export interface GbtParams {
  learningRate?: number;
  /** Boosting iterations (each adds one tree, or one per class for multiclass). */
  maxIter?: number;
  /** Leaf-wise growth bound. Default 31 (sklearn's) unless maxDepth is given, which then alone bounds the tree. */
  maxLeafNodes?: number;
  maxDepth?: number;
  minSamplesLeaf?: number;
  /** Minimum hessian sum per child (sklearn's min_hessian_to_split, LightGBM's min_sum_hessian_in_leaf). */
  minHessianLeaf?: number;
  /** L2 regularisation of leaf values (lambda). */
  l2?: number;
  minGainToSplit?: number;
  maxBins?: number;
  /** Early stopping: stop after this many iterations without validation-loss improvement > tol. */
  nIterNoChange?: number;
  tol?: number;
  /** Defaults to true when validation rows are given. */
  earlyStopping?: boolean;
}

export interface GbtInput {
  task: GbtTask;
  /** Row-major rows × cols; NaN is missing. */
  X: Float64Array;
  rows: number;
  cols: number;
  featureNames: string[];
  /** Regression targets, or class indices 0 … nClasses-1. */
  y: ArrayLike<number>;
  /** Class count for classification (default max(y)+1). */
  nClasses?: number;
  /** Rows to fit on (default: all rows not in validRows). */
  trainRows?: ArrayLike<number>;
  /** Rows scored for early stopping. */
  validRows?: ArrayLike<number>;
  params?: GbtParams;
  /**
   * Threads building histograms (default: SLUICE_TRAIN_THREADS, else the cores). Not a parameter of
   * the model: threads split features, never rows, so the model is the same for any count.
   */
  threads?: number;
}

export interface GbtModel {
  format: "sluice-gbt/1";
  task: GbtTask;
  featureNames: string[];
  nFeatures: number;
  /** 1 for regression, 2 for binary, K for multiclass. */
  nClasses: number;
  /** Trees per iteration: 1, or K for multiclass (tree i scores class i % treesPerIteration). */
  treesPerIteration: number;
  /** Initial raw score per output: mean, prior log-odds, or log class priors. */
  baseline: number[];
  trees: Tree[];
  /** Iterations kept (the best one when early stopping), and iterations actually run. */
  nIter: number;
  nIterRun: number;
  /** Per iteration, index 0 = baseline only. */
  trainLoss: number[];
  validLoss: number[];
  params: Required<Omit<GbtParams, "maxLeafNodes" | "maxDepth">> & { maxLeafNodes: number | null; maxDepth: number | null };
  /** Bin thresholds, kept so the binning (and so the splits) can be audited against the ONNX export. */
  binThresholds: number[][];
}

function resolveParams(p: GbtParams, hasValid: boolean): GbtModel["params"] {
  const maxDepth = p.maxDepth ?? null;
  const maxLeafNodes = p.maxLeafNodes ?? (maxDepth === null ? 31 : null);
  const r = {
    learningRate: p.learningRate ?? 0.1,
    maxIter: p.maxIter ?? 100,
    maxLeafNodes,
    maxDepth,
    minSamplesLeaf: p.minSamplesLeaf ?? 20,
    minHessianLeaf: p.minHessianLeaf ?? 1e-3,
    l2: p.l2 ?? 0,
    minGainToSplit: p.minGainToSplit ?? 0,
    maxBins: p.maxBins ?? 255,
    nIterNoChange: p.nIterNoChange ?? 10,
    tol: p.tol ?? 1e-7,
    earlyStopping: p.earlyStopping ?? hasValid,
  };
  if (!(r.learningRate > 0)) throw new InvalidInputError([{ field: "learningRate", message: "must be > 0" }]);
  if (!Number.isInteger(r.maxIter) || r.maxIter < 0)
    throw new InvalidInputError([{ field: "maxIter", message: "must be a non-negative integer" }]);
  if (maxLeafNodes !== null && (!Number.isInteger(maxLeafNodes) || maxLeafNodes < 2))
    throw new InvalidInputError([{ field: "maxLeafNodes", message: "must be an integer ≥ 2" }]);
  if (maxDepth !== null && (!Number.isInteger(maxDepth) || maxDepth < 1))
    throw new InvalidInputError([{ field: "maxDepth", message: "must be an integer ≥ 1" }]);
  if (!(r.minSamplesLeaf >= 1)) throw new InvalidInputError([{ field: "minSamplesLeaf", message: "must be ≥ 1" }]);
  if (!(r.l2 >= 0)) throw new InvalidInputError([{ field: "l2", message: "must be ≥ 0" }]);
  if (r.earlyStopping && !hasValid) throw new InvalidInputError([{ field: "earlyStopping", message: "needs validRows" }]);
  return r;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** log(1 + e^x) without overflow. */
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** Mean loss of raw scores (row-major n × K): half squared error, binary or multiclass log loss. */
export function meanLoss(task: GbtTask, raw: Float64Array, y: ArrayLike<number>, K: number): number {
  const n = y.length;
  if (n === 0) return NaN;
  let s = 0;
  if (task === "regression") for (let i = 0; i < n; i++) s += 0.5 * (y[i]! - raw[i]!) ** 2;
  else if (task === "binary") for (let i = 0; i < n; i++) s += softplus(raw[i]!) - y[i]! * raw[i]!;
  else {
    for (let i = 0; i < n; i++) {
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, raw[i * K + k]!);
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(raw[i * K + k]! - m);
      s += m + Math.log(z) - raw[i * K + y[i]!]!;
    }
  }
  return s / n;
}

function validateInput(inp: GbtInput): number {
  const { X, rows, cols, y, task } = inp;
  if (X.length !== rows * cols)
    throw new InvalidInputError([{ field: "X", message: `has ${X.length} values, expected rows × cols = ${rows * cols}` }]);
  if (y.length !== rows) throw new InvalidInputError([{ field: "y", message: `has ${y.length} values, expected ${rows}` }]);
  if (inp.featureNames.length !== cols)
    throw new InvalidInputError([{ field: "featureNames", message: `has ${inp.featureNames.length} names, expected ${cols}` }]);
  if (task === "regression") {
    for (let i = 0; i < rows; i++)
      if (!Number.isFinite(y[i]!)) throw new InvalidInputError([{ field: "y", message: `y[${i}] is not finite` }]);
    return 1;
  }
  let maxY = -1;
  for (let i = 0; i < rows; i++) {
    const c = y[i]!;
    if (!Number.isInteger(c) || c < 0) throw new InvalidInputError([{ field: "y", message: `y[${i}] = ${c} is not a class index` }]);
    maxY = Math.max(maxY, c);
  }
  const K = inp.nClasses ?? maxY + 1;
  if (maxY >= K) throw new InvalidInputError([{ field: "nClasses", message: `class index ${maxY} ≥ nClasses ${K}` }]);
  if (task === "binary" && K !== 2) throw new InvalidInputError([{ field: "task", message: `binary task needs 2 classes, got ${K}` }]);
  if (task === "multiclass" && K < 3)
    throw new InvalidInputError([{ field: "task", message: `multiclass task needs ≥ 3 classes, got ${K} (use binary)` }]);
  return K;
}

/** Trains a model. Deterministic: same inputs, same model JSON. */
export function trainGbt(inp: GbtInput): GbtModel {
  const { task, X, rows, cols } = inp;
  const nClasses = validateInput(inp);
  const K = task === "multiclass" ? nClasses : 1;
  const validRows = inp.validRows ? Uint32Array.from(inp.validRows) : new Uint32Array(0);
  let trainRows: Uint32Array;
  if (inp.trainRows) trainRows = Uint32Array.from(inp.trainRows);
  else {
    const inValid = new Uint8Array(rows);
    for (const r of validRows) inValid[r] = 1;
    trainRows = new Uint32Array(rows - validRows.length);
    let j = 0;
    for (let r = 0; r < rows; r++) if (!inValid[r]) trainRows[j++] = r;
    trainRows = trainRows.subarray(0, j);
  }
  if (trainRows.length === 0) throw new InvalidInputError([{ field: "trainRows", message: "no training rows" }]);
  const p = resolveParams(inp.params ?? {}, validRows.length > 0);

  const mapper: BinMapper = fitBins(X, rows, cols, { maxBins: p.maxBins, rowIndices: trainRows });
  const binned = applyBins(mapper, X, rows, cols, trainRows);
  const vbinned = applyBins(mapper, X, rows, cols, validRows);
  const n = trainRows.length;
  const nv = validRows.length;
  const yt = new Float64Array(n);
  for (let i = 0; i < n; i++) yt[i] = inp.y[trainRows[i]!]!;
  const yv = new Float64Array(nv);
  for (let i = 0; i < nv; i++) yv[i] = inp.y[validRows[i]!]!;

  const baseline = baselineOf(task, yt, nClasses);
  const raw = new Float64Array(n * K);
  const vraw = new Float64Array(nv * K);
  for (let i = 0; i < n * K; i++) raw[i] = baseline[i % K]!;
  for (let i = 0; i < nv * K; i++) vraw[i] = baseline[i % K]!;

  const grow = {
    maxDepth: p.maxDepth ?? undefined,
    maxLeafNodes: p.maxLeafNodes ?? undefined,
    minSamplesLeaf: p.minSamplesLeaf,
    minHessianLeaf: p.minHessianLeaf,
    l2: p.l2,
    learningRate: p.learningRate,
    minGainToSplit: p.minGainToSplit,
  };
  const ws = new TreeWorkspace(binned, inp.threads);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const prob = task === "multiclass" ? new Float64Array(n * K) : null;
  const trees: Tree[] = [];
  // Binary log loss comes out of the gradient pass (one exp per row serves both); the others here.
  const fused = task === "binary";
  const trainLoss = fused ? [] : [meanLoss(task, raw, yt, K)];
  const validLoss = nv > 0 ? [meanLoss(task, vraw, yv, K)] : [];
  let best = 0;
  let bestLoss = validLoss[0] ?? Infinity;
  let sinceBest = 0;
  let it = 0;
  try {
    while (it < p.maxIter) {
      if (prob) softmaxRows(raw, prob, n, K);
      for (let k = 0; k < K; k++) {
        if (fused) trainLoss.push(binaryGradientsAndLoss(raw, yt, grad, hess));
        else gradients(task, raw, prob, yt, k, K, grad, hess);
        const { tree, leaves } = growTree(binned, mapper, grad, hess, grow, ws);
        trees.push(tree);
        for (const leaf of leaves) {
          const v = tree.value[leaf.node]!;
          for (let i = leaf.start; i < leaf.end; i++) raw[ws.order[i]! * K + k] += v;
        }
        for (let i = 0; i < nv; i++) vraw[i * K + k] += tree.value[leafOfBinned(tree, vbinned, i)]!;
      }
      it++;
      if (!fused) trainLoss.push(meanLoss(task, raw, yt, K));
      if (nv > 0) {
        const l = meanLoss(task, vraw, yv, K);
        validLoss.push(l);
        if (l < bestLoss - p.tol) {
          bestLoss = l;
          best = it;
          sinceBest = 0;
        } else sinceBest++;
        if (p.earlyStopping && sinceBest >= p.nIterNoChange) break;
      }
    }
  } finally {
    ws.close();
  }
  if (fused) trainLoss.push(meanLoss(task, raw, yt, K));
  // Keep the best validation iteration (LightGBM's best_iteration) rather than the last one run.
  const nIter = p.earlyStopping ? best : it;
  return {
    format: "sluice-gbt/1",
    task,
    featureNames: [...inp.featureNames],
    nFeatures: cols,
    nClasses: task === "regression" ? 1 : nClasses,
    treesPerIteration: K,
    baseline,
    trees: trees.slice(0, nIter * K),
    nIter,
    nIterRun: it,
    trainLoss,
    validLoss,
    params: p,
    binThresholds: mapper.thresholds.map((t) => Array.from(t)),
  };
}

function baselineOf(task: GbtTask, y: Float64Array, nClasses: number): number[] {
  const n = y.length;
  if (task === "regression") {
    let s = 0;
    for (let i = 0; i < n; i++) s += y[i]!;
    return [s / n];
  }
  const counts = new Float64Array(nClasses);
  for (let i = 0; i < n; i++) counts[y[i]!]++;
  // clipped so an absent class gets a very negative, not infinite, score
  const prior = (k: number) => Math.min(Math.max(counts[k]! / n, 1e-15), 1 - 1e-15);
  if (task === "binary") return [Math.log(prior(1) / (1 - prior(1)))];
  return Array.from(counts, (_, k) => Math.log(prior(k)));
}

function softmaxRows(raw: Float64Array, out: Float64Array, n: number, K: number): void {
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, raw[i * K + k]!);
    let z = 0;
    for (let k = 0; k < K; k++) z += out[i * K + k] = Math.exp(raw[i * K + k]! - m);
    for (let k = 0; k < K; k++) out[i * K + k] /= z;
  }
}

/**
 * Binary log-loss gradients and hessians of `raw`, returning its mean loss — the same numbers as
 * `gradients` and `meanLoss` (bit for bit: same expressions, same summation order), but the
 * exp(−x) of a positive score serves both the sigmoid and the softplus.
 */
function binaryGradientsAndLoss(raw: Float64Array, y: Float64Array, grad: Float64Array, hess: Float64Array): number {
  const n = y.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const x = raw[i]!;
    const yi = y[i]!;
    const e = Math.exp(-x);
    const q = 1 / (1 + e);
    grad[i] = q - yi;
    hess[i] = q * (1 - q);
    s += (x > 0 ? x + Math.log1p(e) : Math.log1p(Math.exp(x))) - yi * x;
  }
  return n === 0 ? NaN : s / n;
}

function gradients(
  task: GbtTask,
  raw: Float64Array,
  prob: Float64Array | null,
  y: Float64Array,
  k: number,
  K: number,
  grad: Float64Array,
  hess: Float64Array,
): void {
  const n = y.length;
  if (task === "regression") {
    for (let i = 0; i < n; i++) {
      grad[i] = raw[i]! - y[i]!;
      hess[i] = 1;
    }
  } else if (task === "binary") {
    for (let i = 0; i < n; i++) {
      const q = sigmoid(raw[i]!);
      grad[i] = q - y[i]!;
      hess[i] = q * (1 - q);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const q = prob![i * K + k]!;
      grad[i] = q - (y[i] === k ? 1 : 0);
      hess[i] = q * (1 - q);
    }
  }
}

/** Raw scores (rows × treesPerIteration) for a row-major float matrix. */
export function predictRaw(model: GbtModel, X: Float64Array, rows: number): Float64Array {
  const cols = model.nFeatures;
  if (X.length !== rows * cols) throw new Error(`X has ${X.length} values, expected ${rows} × ${cols}`);
  const K = model.treesPerIteration;
  const out = new Float64Array(rows * K);
  for (let i = 0; i < rows * K; i++) out[i] = model.baseline[i % K]!;
  // Flattened typed copies: traversing the JSON arrays (mixed booleans/numbers) is several times slower.
  for (let t = 0; t < model.trees.length; t++) {
    const tree = model.trees[t]!;
    const feature = Int32Array.from(tree.feature);
    const threshold = Float64Array.from(tree.threshold);
    const missingLeft = Uint8Array.from(tree.missingLeft, (b) => (b ? 1 : 0));
    const left = Int32Array.from(tree.left);
    const right = Int32Array.from(tree.right);
    const value = Float64Array.from(tree.value);
    const k = t % K;
    for (let r = 0; r < rows; r++) {
      let node = 0;
      const base = r * cols;
      while (feature[node]! >= 0) {
        const v = X[base + feature[node]!]!;
        const goLeft = v === v ? Math.fround(v) <= threshold[node]! : missingLeft[node] === 1;
        node = goLeft ? left[node]! : right[node]!;
      }
      out[r * K + k] += value[node]!;
    }
  }
  return out;
}

/** Class probabilities (rows × nClasses); binary gives [1 − p, p]. */
export function predictProba(model: GbtModel, X: Float64Array, rows: number): Float64Array {
  if (model.task === "regression") throw new Error("predictProba needs a classification model");
  const raw = predictRaw(model, X, rows);
  if (model.task === "binary") {
    const out = new Float64Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      const q = sigmoid(raw[r]!);
      out[2 * r] = 1 - q;
      out[2 * r + 1] = q;
    }
    return out;
  }
  const out = new Float64Array(rows * model.nClasses);
  softmaxRows(raw, out, rows, model.nClasses);
  return out;
}

/** Regression values, or class indices (argmax of probabilities, lowest index on ties). */
export function predict(model: GbtModel, X: Float64Array, rows: number): Float64Array | Int32Array {
  if (model.task === "regression") return predictRaw(model, X, rows);
  const proba = predictProba(model, X, rows);
  const K = model.nClasses;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let b = 0;
    for (let k = 1; k < K; k++) if (proba[r * K + k]! > proba[r * K + b]!) b = k;
    out[r] = b;
  }
  return out;
}
