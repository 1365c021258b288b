import assert from "node:assert/strict";
import { test } from "node:test";
import { compareMetrics } from "../../src/evaluation/compare";
import { evaluateClassifier, evaluateRegressor, type EvaluationReport } from "../../src/evaluation/report";
import { groupRows, sliceMetrics } from "../../src/evaluation/slices";
import { evaluateBinary } from "../../src/evaluation/classification";
import { take } from "../../src/evaluation/common";

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 2 ** 32;
    return s / 2 ** 32;
  };
}

/** JSON-serializable means: survives a round trip unchanged (no NaN, Infinity, typed arrays or undefined). */
function assertRoundTrips(report: EvaluationReport): void {
  const text = JSON.stringify(report);
  assert.deepEqual(JSON.parse(text), report);
  assert.doesNotMatch(text, /NaN|Infinity/);
}

test("groupRows: ordered by value with null last; expected values appear empty", () => {
  const g = groupRows(["b", null, "a", "b", null], ["z"]);
  assert.deepEqual(
    g.map((x) => [x.value, [...x.indices]]),
    [
      ["a", [2]],
      ["b", [0, 3]],
      ["z", []],
      [null, [1, 4]],
    ],
  );
});

test("slices: metrics per value, small and empty groups marked, single-class slice has a null AUC", () => {
  const y = Int32Array.from([0, 1, 0, 1, 1, 1, 0]);
  const s = Float64Array.from([0.2, 0.8, 0.6, 0.4, 0.9, 0.7, 0.1]);
  const col = ["x", "x", "x", "x", "y", "y", null];
  const r = sliceMetrics("country", col, y.length, (idx) => evaluateBinary(take(y, idx), take(s, idx)).metrics, {
    minCount: 3,
    expectedValues: ["w"],
  });
  assert.deepEqual(
    r.slices.map((x) => [x.value, x.count, x.belowMinCount]),
    [
      ["w", 0, true],
      ["x", 4, false],
      ["y", 2, true],
      [null, 1, true],
    ],
  );
  // x: positives {.8, .4}, negatives {.2, .6} → 3 of 4 pairs won.
  assert.equal(r.slices[1].metrics.roc_auc, 0.75);
  assert.equal(r.slices[0].metrics.roc_auc, null);
  assert.equal(r.slices[0].undefinedReasons.roc_auc, "no rows");
  assert.equal(r.slices[2].metrics.roc_auc, null); // only positives
  assert.match(r.slices[2].undefinedReasons.roc_auc, /only positives/);
  assert.equal(r.slices[2].metrics.recall, 1);
});

test("compare: direction decides improvement, missing metrics give null deltas", () => {
  const c = compareMetrics(
    { roc_auc: 0.8, log_loss: 0.4, rmse: null, positive_rate: 0.3 },
    { roc_auc: 0.75, log_loss: 0.5, rmse: 1, f1: 0.6 },
    "v7",
  );
  const row = (m: string) => c.rows.find((r) => r.metric === m)!;
  assert.ok(Math.abs(row("roc_auc").delta! - 0.05) < 1e-12);
  assert.equal(row("roc_auc").improved, true);
  assert.ok(Math.abs(row("log_loss").delta! + 0.1) < 1e-12);
  assert.equal(row("log_loss").direction, "lower");
  assert.equal(row("log_loss").improved, true);
  assert.deepEqual([row("rmse").delta, row("rmse").improved], [null, null]);
  assert.deepEqual([row("positive_rate").direction, row("positive_rate").improved], [null, null]);
  assert.equal(row("f1").candidate, null);
  assert.deepEqual([c.champion, c.improvedCount, c.regressedCount], ["v7", 2, 0]);
  assert.equal(compareMetrics({ rmse: 2 }, { rmse: 1 }).regressedCount, 1);
});

test("a binary report with curves, slices, fairness and a champion, and its JSON round trip", () => {
  const r = random(3);
  const n = 2000;
  const y = new Int32Array(n);
  const candidate = new Float64Array(n);
  const champion = new Float64Array(n);
  const region: (string | null)[] = [];
  const sex: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    y[i] = r() < 0.3 ? 1 : 0;
    candidate[i] = Math.min(1, Math.max(0, 0.3 + (y[i] ? 0.25 : -0.1) + (r() - 0.5) * 0.6));
    champion[i] = Math.min(1, Math.max(0, 0.3 + (y[i] ? 0.1 : -0.05) + (r() - 0.5) * 0.6));
    region.push(i % 97 === 0 ? null : ["north", "south", "east"][i % 3]);
    sex.push(i % 2 ? "f" : "m");
  }
  const report = evaluateClassifier(
    y,
    { kind: "binary", scores: candidate },
    {
      evaluationSetId: "ds-1@v3",
      classNames: ["stay", "churn"],
      slices: [{ column: "region", values: region, expectedValues: ["west"] }],
      fairness: { column: "sex", values: sex },
      champion: { id: "model-v1", predictions: { kind: "binary", scores: champion } },
    },
  );
  assertRoundTrips(report);
  assert.equal(report.task, "binary");
  assert.equal(report.curves!.roc!.points.length <= 200, true);
  assert.equal(report.curves!.calibration.bins.length > 0, true);
  assert.deepEqual(report.confusionMatrix.labels, ["stay", "churn"]);
  assert.deepEqual(
    report.slices[0].slices.map((s) => s.value),
    ["east", "north", "south", "west", null],
  );
  assert.deepEqual(
    report.fairness!.groups.map((g) => g.value),
    ["f", "m"],
  );
  const auc = report.comparison!.rows.find((x) => x.metric === "roc_auc")!;
  assert.equal(auc.improved, true); // the candidate's scores separate the classes more
  assert.ok(report.comparison!.rows.some((x) => x.metric === "equalized_odds_difference"));
});

test("multiclass and regression reports round-trip; single-class data yields null, not NaN", () => {
  const multi = evaluateClassifier(
    Int32Array.from([0, 1, 2, 1]),
    { kind: "multiclass", proba: Float64Array.from([0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7, 0.5, 0.4, 0.1]), classes: 3 },
    { slices: [{ column: "g", values: ["a", "a", "b", "b"] }] },
  );
  assertRoundTrips(multi);
  assert.equal(multi.curves, null);
  assert.equal(multi.perClass!.length, 3);

  const single = evaluateClassifier(Int32Array.from([1, 1, 1]), { kind: "binary", scores: Float64Array.from([0.2, 0.9, 0.6]) });
  assertRoundTrips(single);
  assert.equal(single.metrics.roc_auc, null);
  assert.ok(single.undefinedMetrics.roc_auc);
  assert.equal(single.curves!.roc, null);

  const reg = evaluateRegressor(Float64Array.from([3, -0.5, 2, 7]), Float64Array.from([2.5, 0, 2, 8]), {
    slices: [{ column: "g", values: ["a", "a", "b", null] }],
    champion: { id: "old", yPred: Float64Array.from([3, 0, 2, 9]) },
  });
  assertRoundTrips(reg);
  assert.equal(reg.metrics.mae, 0.5);
  assert.equal(reg.comparison!.rows.find((x) => x.metric === "mae")!.improved, true); // champion MAE 0.625

  assert.throws(() =>
    evaluateClassifier(
      Int32Array.from([0, 1]),
      { kind: "binary", scores: Float64Array.from([0.1, 0.9]) },
      { champion: { id: null, predictions: { kind: "binary", scores: Float64Array.from([0.5]) } } },
    ),
  );
});
