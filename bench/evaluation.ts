/**
 * Hand timing, not a test: `node dist/bench/evaluation.js [rows]`. Evaluates a million
 * binary predictions (sort-based AUC) and prints how long each piece takes, best of 5 runs
 * after a warm-up, so that JIT compilation is not what gets measured.
 */
import { rocAuc } from "../src/evaluation/classification";
import { evaluateClassifier } from "../src/evaluation/report";

const n = Number(process.argv[2] ?? 1_000_000);
let seed = 42;
const rnd = () => {
  seed = (seed * 1664525 + 1013904223) % 2 ** 32;
  return seed / 2 ** 32;
};
const y = new Int32Array(n);
const scores = new Float64Array(n);
const region: string[] = new Array(n);
const sex: string[] = new Array(n);
for (let i = 0; i < n; i++) {
  y[i] = rnd() < 0.2 ? 1 : 0;
  scores[i] = Math.min(1, Math.max(0, 0.25 + (y[i] ? 0.2 : -0.05) + (rnd() - 0.5) * 0.5));
  region[i] = ["north", "south", "east", "west"][i & 3];
  sex[i] = i % 3 === 0 ? "f" : "m";
}

function time(label: string, f: () => unknown): void {
  f();
  let best = Infinity;
  for (let k = 0; k < 5; k++) {
    const t0 = process.hrtime.bigint();
    f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(`${label.padEnd(60)} ${best.toFixed(1).padStart(8)} ms`);
}

console.log(`${n.toLocaleString("en")} binary predictions, node ${process.version}`);
time("roc_auc alone", () => rocAuc(y, scores));
time("evaluateClassifier: metrics + ROC/PR/calibration curves", () => evaluateClassifier(y, { kind: "binary", scores }));
time("… + 4 region slices + fairness over sex", () =>
  evaluateClassifier(
    y,
    { kind: "binary", scores },
    { slices: [{ column: "region", values: region }], fairness: { column: "sex", values: sex } },
  ),
);
time("… + champion comparison (same predictions)", () =>
  evaluateClassifier(y, { kind: "binary", scores }, { champion: { id: "c", predictions: { kind: "binary", scores } } }),
);
