/**
 * Linear trainers on a row-major feature matrix (the output of `transform`): ridge regression and
 * L2-regularized logistic regression, binary and multinomial. Pure and deterministic: no
 * randomness in the optimization, sums always taken in a fixed order in float64, so the same data
 * gives bit-identical coefficients on every run.
 *
 * Regularization follows scikit-learn so results can be cross-checked there: ridge minimizes
 * ||y - Xw - b||² + l2·||w||² (l2 = Ridge's alpha) and logistic regression minimizes
 * Σ log-loss + (l2/2)·||W||² (l2 = 1/C of LogisticRegression); intercepts are never penalized.
 *
 * Binary logistic regression's data pass runs over fixed row chunks whose partial sums are added
 * in chunk order, on worker threads for large inputs (logistic-chunks.ts): results stay
 * bit-identical whatever the thread count. Multinomial and ridge are single-threaded.
 */
import { InvalidInputError } from "../kernel/errors";
import { BinaryLogisticPass } from "./logistic-chunks";

/** A row-major matrix of `matrix.length / cols` rows, e.g. what `transform` returns. */
export interface FeatureMatrix {
  matrix: Float32Array | Float64Array;
  cols: number;
}

export interface LinearRegressionModel {
  kind: "linear_regression";
  features: number;
  coefficients: Float64Array;
  intercept: number;
}

export interface LogisticRegressionModel {
  kind: "logistic_regression";
  classes: number;
  features: number;
  /**
   * Row-major, one row per class for multinomial (classes ≥ 3) and a single row for binary, whose
   * score is the log-odds of class 1 — the layout ai.onnx.ml LinearClassifier expects.
   */
  coefficients: Float64Array;
  intercepts: Float64Array;
  iterations: number;
  converged: boolean;
  /** The objective (mean log-loss + penalty / n) at the solution. */
  loss: number;
}

function rowsOf(X: FeatureMatrix): number {
  if (!(X.cols > 0) || X.matrix.length % X.cols !== 0)
    throw new InvalidInputError([{ field: "X", message: `matrix of ${X.matrix.length} values is not a multiple of ${X.cols} columns` }]);
  return X.matrix.length / X.cols;
}

/**
 * Ridge (or ordinary least squares with l2 = 0) through the normal equations, solved by Cholesky
 * on centred data so the intercept stays unpenalized. Cholesky is exact and deterministic in
 * one pass; X'X costs n·d², which is fine for the tens to low thousands of features a linear
 * stage has. A singular system (collinear features, l2 = 0) is an error, not a silent pseudo-inverse.
 */
export function trainLinearRegression(
  X: FeatureMatrix,
  y: ArrayLike<number>,
  opts: { l2?: number; fitIntercept?: boolean } = {},
): LinearRegressionModel {
  const l2 = opts.l2 ?? 0;
  const fitIntercept = opts.fitIntercept ?? true;
  const n = rowsOf(X);
  const d = X.cols;
  const m = X.matrix;
  if (y.length !== n) throw new InvalidInputError([{ field: "y", message: `${y.length} targets for ${n} rows` }]);
  if (n === 0) throw new InvalidInputError([{ field: "X", message: "no training rows" }]);
  if (!(l2 >= 0)) throw new InvalidInputError([{ field: "l2", message: "must be ≥ 0" }]);
  const xMean = new Float64Array(d);
  let yMean = 0;
  if (fitIntercept) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) xMean[j]! += m[i * d + j]!;
      yMean += y[i]!;
    }
    for (let j = 0; j < d; j++) xMean[j]! /= n;
    yMean /= n;
  }
  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  const xc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) xc[j] = m[i * d + j]! - xMean[j]!;
    const yc = y[i]! - yMean;
    for (let j = 0; j < d; j++) {
      const v = xc[j]!;
      if (v === 0) continue; // one-hot columns are mostly zeros
      b[j]! += v * yc;
      for (let k = j; k < d; k++) A[j * d + k]! += v * xc[k]!;
    }
  }
  for (let j = 0; j < d; j++) {
    A[j * d + j]! += l2;
    for (let k = 0; k < j; k++) A[j * d + k] = A[k * d + j]!;
  }
  const w = choleskySolve(A, b, d);
  let intercept = yMean;
  for (let j = 0; j < d; j++) intercept -= xMean[j]! * w[j]!;
  return { kind: "linear_regression", features: d, coefficients: w, intercept: fitIntercept ? intercept : 0 };
}

/** Solves A x = b for symmetric positive definite A (d × d, row-major). */
export function choleskySolve(A: Float64Array, b: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) {
        // Relative threshold: a pivot lost to rounding means the system is singular in practice.
        if (!(s > 1e-12 * Math.max(1, Math.abs(A[i * d + i]!))))
          throw new InvalidInputError([
            { field: "l2", message: `the normal equations are singular at feature ${i} (collinear or constant features): use l2 > 0` },
          ]);
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * d + k]! * z[k]!;
    z[i] = s / L[i * d + i]!;
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= L[k * d + i]! * x[k]!;
    x[i] = s / L[i * d + i]!;
  }
  return x;
}

export interface LogisticOptions {
  classes: number;
  /** Default 1 (scikit-learn's C = 1). */
  l2?: number;
  /** L-BFGS iterations; default 200. */
  maxIter?: number;
  /** Stop when the largest gradient component of the mean objective is below tol; default 1e-6. */
  tol?: number;
  /**
   * Accepted for the uniform trainer interface; the optimizer starts at zero and is fully
   * deterministic, so the seed does not change the result.
   */
  seed?: number;
  fitIntercept?: boolean;
  /**
   * Threads for the binary objective's data pass (default: SLUICE_TRAIN_THREADS, else the cores).
   * The rows are summed in fixed chunks, so the coefficients do not depend on it.
   */
  threads?: number;
}

/**
 * Logistic regression by L-BFGS (memory 10, Armijo backtracking from step 1). L-BFGS rather than
 * Newton/IRLS because one optimizer then covers binary and multinomial, it costs one gradient
 * pass per iteration instead of forming and factoring a d² (or (C·d)²) Hessian, and the objective
 * is smooth and convex so it converges reliably; the loss is computed with log-sum-exp so large
 * scores never overflow. Binary (classes = 2) fits one weight vector (sigmoid); classes ≥ 3 fits
 * one per class (softmax), identifiable thanks to the L2 term.
 */
export function trainLogisticRegression(X: FeatureMatrix, y: ArrayLike<number>, opts: LogisticOptions): LogisticRegressionModel {
  const n = rowsOf(X);
  const d = X.cols;
  const C = opts.classes;
  const l2 = opts.l2 ?? 1;
  const fitIntercept = opts.fitIntercept ?? true;
  if (!(Number.isInteger(C) && C >= 2)) throw new InvalidInputError([{ field: "classes", message: `must be an integer ≥ 2, got ${C}` }]);
  if (y.length !== n) throw new InvalidInputError([{ field: "y", message: `${y.length} labels for ${n} rows` }]);
  if (n === 0) throw new InvalidInputError([{ field: "X", message: "no training rows" }]);
  if (!(l2 >= 0)) throw new InvalidInputError([{ field: "l2", message: "must be ≥ 0" }]);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = y[i]!;
    if (!(Number.isInteger(c) && c >= 0 && c < C))
      throw new InvalidInputError([{ field: "y", message: `label ${c} at row ${i} is not a class index in [0, ${C})` }]);
    labels[i] = c;
  }
  const R = C === 2 ? 1 : C; // rows of weights
  const pass = R === 1 ? new BinaryLogisticPass(X.matrix, d, labels, opts.threads) : null;
  let result: ReturnType<typeof lbfgs>;
  try {
    const evaluate = pass ? binaryObjective(X, labels, l2, fitIntercept, pass) : softmaxObjective(X, labels, C, l2, fitIntercept);
    result = lbfgs(evaluate, new Float64Array(R * (d + 1)), opts.maxIter ?? 200, opts.tol ?? 1e-6);
  } finally {
    pass?.close();
  }
  const coefficients = new Float64Array(R * d);
  const intercepts = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    coefficients.set(result.x.subarray(r * (d + 1), r * (d + 1) + d), r * d);
    intercepts[r] = result.x[r * (d + 1) + d]!;
  }
  return {
    kind: "logistic_regression",
    classes: C,
    features: d,
    coefficients,
    intercepts,
    iterations: result.iterations,
    converged: result.converged,
    loss: result.f,
  };
}

/** Returns f(θ) and writes ∇f(θ) into g; θ is laid out as per-class rows [w_0..w_{d-1}, b]. */
type Objective = (theta: Float64Array, g: Float64Array) => number;

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** The binary objective; its data pass runs over fixed row chunks, on worker threads for large inputs. */
function binaryObjective(X: FeatureMatrix, labels: Int32Array, l2: number, fitIntercept: boolean, pass: BinaryLogisticPass): Objective {
  const d = X.cols;
  const n = labels.length;
  return (theta, g) => {
    let f = pass.run(theta, g);
    for (let j = 0; j < d; j++) {
      f += 0.5 * l2 * theta[j]! * theta[j]!;
      g[j]! += l2 * theta[j]!;
    }
    if (!fitIntercept) g[d] = 0;
    // Mean scaling keeps the gradient tolerance meaningful for any n; the minimizer is unchanged.
    for (let j = 0; j <= d; j++) g[j]! /= n;
    return f / n;
  };
}

function softmaxObjective(X: FeatureMatrix, labels: Int32Array, C: number, l2: number, fitIntercept: boolean): Objective {
  const d = X.cols;
  const m = X.matrix;
  const n = labels.length;
  const stride = d + 1;
  const z = new Float64Array(C);
  return (theta, g) => {
    g.fill(0);
    let f = 0;
    for (let i = 0; i < n; i++) {
      const off = i * d;
      let zmax = -Infinity;
      for (let c = 0; c < C; c++) {
        const w = c * stride;
        let s = theta[w + d]!;
        for (let j = 0; j < d; j++) s += m[off + j]! * theta[w + j]!;
        z[c] = s;
        if (s > zmax) zmax = s;
      }
      let sum = 0;
      for (let c = 0; c < C; c++) {
        z[c] = Math.exp(z[c]! - zmax);
        sum += z[c]!;
      }
      const yi = labels[i]!;
      f += Math.log(sum) - Math.log(z[yi]!);
      for (let c = 0; c < C; c++) {
        const r = z[c]! / sum - (c === yi ? 1 : 0);
        const w = c * stride;
        for (let j = 0; j < d; j++) g[w + j]! += r * m[off + j]!;
        g[w + d]! += r;
      }
    }
    for (let c = 0; c < C; c++) {
      const w = c * stride;
      for (let j = 0; j < d; j++) {
        f += 0.5 * l2 * theta[w + j]! * theta[w + j]!;
        g[w + j]! += l2 * theta[w + j]!;
      }
      if (!fitIntercept) g[w + d] = 0;
    }
    for (let k = 0; k < g.length; k++) g[k]! /= n;
    return f / n;
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function maxAbs(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]!));
  return s;
}

/** Minimizes a smooth convex objective; stops on gradient tolerance, maxIter, or when no step decreases f. */
function lbfgs(
  fn: Objective,
  x0: Float64Array,
  maxIter: number,
  tol: number,
): { x: Float64Array; f: number; iterations: number; converged: boolean } {
  const M = 10;
  const p = x0.length;
  let x: Float64Array = x0;
  let g = new Float64Array(p);
  let f = fn(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(p);
  const alpha = new Float64Array(M);
  let xNew: Float64Array = new Float64Array(p);
  let gNew = new Float64Array(p);
  for (let iter = 0; iter < maxIter; iter++) {
    if (maxAbs(g) <= tol) return { x, f, iterations: iter, converged: true };
    // Two-loop recursion: dir = -H·g.
    for (let i = 0; i < p; i++) dir[i] = -g[i]!;
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k]! * dot(S[k]!, dir);
      for (let i = 0; i < p; i++) dir[i]! -= alpha[k]! * Y[k]![i]!;
    }
    const gamma =
      S.length > 0
        ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!)
        : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    for (let i = 0; i < p; i++) dir[i]! *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k]! * dot(Y[k]!, dir);
      for (let i = 0; i < p; i++) dir[i]! += (alpha[k]! - beta) * S[k]![i]!;
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Curvature pairs went stale (rounding): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < p; i++) dir[i] = -g[i]! / Math.max(1, Math.sqrt(dot(g, g)));
      slope = dot(g, dir);
    }
    let step = 1;
    let fNew = Infinity;
    let accepted = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < p; i++) xNew[i] = x[i]! + step * dir[i]!;
      fNew = fn(xNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) return { x, f, iterations: iter, converged: maxAbs(g) <= tol * 100 };
    const s = new Float64Array(p);
    const yv = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      s[i] = xNew[i]! - x[i]!;
      yv[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(yv, yv))) {
      if (S.length === M) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    const fPrev = f;
    f = fNew;
    // Relative stall: further iterations cannot move f at float64 precision.
    if (fPrev - f <= 1e-15 * Math.max(1, Math.abs(f))) return { x, f, iterations: iter + 1, converged: maxAbs(g) <= tol };
  }
  return { x, f, iterations: maxIter, converged: maxAbs(g) <= tol };
}

/** Predicted values, one per row. */
export function predictLinear(model: LinearRegressionModel, X: FeatureMatrix): Float64Array {
  const n = rowsOf(X);
  const d = checkCols(model.features, X);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = model.intercept;
    for (let j = 0; j < d; j++) s += X.matrix[i * d + j]! * model.coefficients[j]!;
    out[i] = s;
  }
  return out;
}

/** Class probabilities, row-major n × classes (binary included: [1 - p, p]). */
export function predictProba(model: LogisticRegressionModel, X: FeatureMatrix): Float64Array {
  const n = rowsOf(X);
  const d = checkCols(model.features, X);
  const C = model.classes;
  const R = model.intercepts.length;
  const out = new Float64Array(n * C);
  const z = new Float64Array(R);
  for (let i = 0; i < n; i++) {
    let zmax = -Infinity;
    for (let r = 0; r < R; r++) {
      let s = model.intercepts[r]!;
      for (let j = 0; j < d; j++) s += X.matrix[i * d + j]! * model.coefficients[r * d + j]!;
      z[r] = s;
      if (s > zmax) zmax = s;
    }
    if (R === 1) {
      const p = sigmoid(z[0]!);
      out[i * 2] = 1 - p;
      out[i * 2 + 1] = p;
      continue;
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(z[c]! - zmax);
    for (let c = 0; c < C; c++) out[i * C + c] = Math.exp(z[c]! - zmax) / sum;
  }
  return out;
}

/** The most probable class per row (the lowest index on exact ties). */
export function predictClass(model: LogisticRegressionModel, X: FeatureMatrix): Int32Array {
  return argmaxRows(predictProba(model, X), model.classes);
}

export function argmaxRows(probabilities: ArrayLike<number>, classes: number): Int32Array {
  const n = probabilities.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    out[i] = best;
  }
  return out;
}

function checkCols(features: number, X: FeatureMatrix): number {
  if (X.cols !== features) throw new Error(`the model has ${features} features, the matrix ${X.cols} columns`);
  return features;
}
