/**
 * Hand timing, not a test: logistic regression on 500k rows × 10 features drawn from the seeded
 * PRNG. Run after a build: `node dist/bench/training-logistic.js [rows] [classes]`.
 */
import { mulberry32, normalSampler } from "../src/training/data";
import { predictClass, trainLogisticRegression } from "../src/training/linear";

const n = Number(process.argv[2] ?? 500_000);
const classes = Number(process.argv[3] ?? 2);
const d = 10;
const u = mulberry32(2024);
const normal = normalSampler(u);
const matrix = new Float32Array(n * d);
for (let i = 0; i < matrix.length; i++) matrix[i] = normal();
const W = Array.from({ length: classes * d }, () => normal());
const y = new Int32Array(n);
for (let i = 0; i < n; i++) {
  // Noisy argmax of linear scores (Gumbel noise makes it an exact softmax sample).
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < classes; c++) {
    let s = -Math.log(-Math.log(1 - u()));
    for (let j = 0; j < d; j++) s += W[c * d + j]! * matrix[i * d + j]!;
    if (s > bestScore) [best, bestScore] = [c, s];
  }
  y[i] = best;
}
const X = { matrix, cols: d };
const t0 = performance.now();
const model = trainLogisticRegression(X, y, { classes, l2: 1 });
const ms = performance.now() - t0;
const pred = predictClass(model, X);
const acc = pred.reduce((s, c, i) => s + (c === y[i] ? 1 : 0), 0) / n;
console.log(
  `logistic regression, ${n} rows × ${d} features, ${classes} classes: ${ms.toFixed(0)} ms, ` +
    `${model.iterations} L-BFGS iterations, converged ${model.converged}, loss ${model.loss.toFixed(5)}, train accuracy ${acc.toFixed(4)}`,
);
