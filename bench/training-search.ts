/**
 * Hand timing, not a test: `node dist/bench/training-search.js [rows] [trials] [workers…]`.
 * A grid of GBT classifiers (50 iterations, depth 2–5) on 10 features, the same trials run
 * with each worker count in turn (0 = in this thread), twice, printing wall time and the
 * process's CPU time (all threads). Worker threads pay when wall time drops while CPU time holds.
 */
import { performance } from "node:perf_hooks";
import { runTrials } from "../src/training/search-pool";
import type { TrialData } from "../src/training/trial";
import { classificationData } from "../test/training/gbt-data";

const rows = Number(process.argv[2] ?? 100_000);
const trials = Number(process.argv[3] ?? 8);
const workerCounts = process.argv.length > 4 ? process.argv.slice(4).map(Number) : [0, 2];
const nVal = Math.round(rows / 4);
const d = classificationData(rows + nVal, 2, 42, 10, 0, 0.05);
const data: TrialData = {
  algorithm: "gbt_classifier",
  classes: ["0", "1"],
  cols: d.cols,
  featureNames: d.featureNames,
  Xtr: Float32Array.from(d.X.subarray(0, rows * d.cols)),
  ytr: d.y.slice(0, rows),
  Xva: Float32Array.from(d.X.subarray(rows * d.cols)),
  yva: d.y.slice(rows),
  seed: 1,
};
const configs = Array.from({ length: trials }, (_, i) => ({
  maxIter: 50,
  maxDepth: 2 + (i % 4),
  learningRate: 0.1 + 0.05 * Math.floor(i / 4),
}));

void (async () => {
  for (let round = 0; round < 2; round++) {
    for (const workers of workerCounts) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await runTrials(data, configs, { metric: "roc_auc", direction: "maximize", workers });
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      console.log(
        `${rows} rows, ${trials} trials, workers=${workers}: wall ${(wall / 1000).toFixed(2)} s, ` +
          `cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, best trial ${out.best} (auc ${out.trials[out.best!]!.metrics.roc_auc!.toFixed(4)})`,
      );
    }
  }
})();
