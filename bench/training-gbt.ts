/**
 * Hand timing, not a test: `node dist/bench/training-gbt.js [rows] [iters]`.
 * Binary classification, 10 features, depth 6, no early stopping.
 */
import { performance } from "node:perf_hooks";
import { predict, trainGbt } from "../src/training/gbt/boost";
import { classificationData } from "../test/training/gbt-data";

const rows = Number(process.argv[2] ?? 500_000);
const maxIter = Number(process.argv[3] ?? 100);
const t0 = performance.now();
const d = classificationData(rows, 2, 42, 10, 0, 0.05);
const t1 = performance.now();
const m = trainGbt({
  task: "binary",
  ...d,
  trainRows: undefined,
  validRows: undefined,
  params: { maxIter, maxDepth: 6, earlyStopping: false },
});
const t2 = performance.now();
const pred = predict(m, d.X, rows);
let ok = 0;
for (let i = 0; i < rows; i++) ok += pred[i] === d.y[i] ? 1 : 0;
const t3 = performance.now();
console.log(
  `${rows} rows × ${d.cols} features, ${m.nIter} iterations, depth 6: data ${(t1 - t0).toFixed(0)} ms, ` +
    `train ${((t2 - t1) / 1000).toFixed(2)} s, predict ${(t3 - t2).toFixed(0)} ms, train accuracy ${(ok / rows).toFixed(4)}`,
);
