import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  averagePrecision,
  binaryCounts,
  binaryThresholdMetrics,
  brierScore,
  evaluateBinary,
  evaluateMulticlass,
  logLossBinary,
  logLossMulticlass,
  rocAuc,
  thresholdScores,
} from "../../src/evaluation/classification";
import { EvaluationInputError, FLOAT64_EPS } from "../../src/evaluation/common";

const i32 = (a: number[]) => Int32Array.from(a);
const f64 = (a: number[]) => Float64Array.from(a);

function close(actual: number | null, expected: number, tol = 1e-12): void {
  assert.ok(actual !== null, `expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `expected ${expected}, got ${actual}`);
}

/** Deterministic LCG, so the randomized cross-checks are the same on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 2 ** 32;
    return s / 2 ** 32;
  };
}

/** ROC AUC by its probabilistic meaning: P(score⁺ > score⁻) + ½ P(tie), over all pairs. O(n²). */
function bruteAuc(y: Int32Array, s: Float64Array): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      wins += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

/** Average precision by its definition: mean over positives of the precision at that positive's score (ties included). */
function bruteAp(y: Int32Array, s: Float64Array): number {
  let sum = 0;
  let positives = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    positives++;
    let above = 0;
    let tpAbove = 0;
    for (let j = 0; j < y.length; j++) {
      if (s[j] >= s[i]) {
        above++;
        tpAbove += y[j];
      }
    }
    sum += tpAbove / above;
  }
  return sum / positives;
}

describe("binary ranking metrics", () => {
  test("the sklearn docs example: roc_auc_score = 0.75, average_precision_score = 0.8333…", () => {
    // From the docstrings of roc_auc_score and average_precision_score.
    const y = i32([0, 0, 1, 1]);
    const s = f64([0.1, 0.4, 0.35, 0.8]);
    close(rocAuc(y, s).value, 0.75);
    // AP by hand: thresholds 0.8 (P=1, R=.5), 0.4 (R unchanged), 0.35 (P=2/3, R=1): .5·1 + .5·2/3.
    close(averagePrecision(y, s).value, 0.5 + 0.5 * (2 / 3));
  });

  test("ties count as half a win for the AUC and as one step for AP", () => {
    // Positives {0.5, 0.9, 0.2}, negatives {0.1, 0.5}. Pairs: .5>.1, .5=.5 (½), .9>.1, .9>.5, .2>.1, .2<.5 → 4.5/6.
    const y = i32([0, 0, 1, 1, 1]);
    const s = f64([0.1, 0.5, 0.5, 0.9, 0.2]);
    close(rocAuc(y, s).value, 0.75);
    // Thresholds .9 (P=1, R=1/3), .5 (P=2/3, R=2/3: the tied positive and negative enter together), .2 (P=3/4, R=1).
    close(averagePrecision(y, s).value, (1 + 2 / 3 + 3 / 4) / 3); // 29/36
    // All scores tied: the ROC is the diagonal, AP the base rate.
    close(rocAuc(i32([0, 1, 0, 1]), f64([0.5, 0.5, 0.5, 0.5])).value, 0.5);
    close(averagePrecision(i32([0, 1, 0, 1]), f64([0.5, 0.5, 0.5, 0.5])).value, 0.5);
  });

  test("randomized, heavily tied data agrees with the pairwise definitions", () => {
    const r = random(7);
    for (const n of [2, 17, 300]) {
      const y = new Int32Array(n);
      const s = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        y[i] = r() < 0.3 ? 1 : 0;
        s[i] = Math.round(r() * 10) / 10 + (y[i] ? 0.1 : 0); // 12 distinct values: ties everywhere
      }
      y[0] = 1;
      y[1] = 0;
      close(rocAuc(y, s).value, bruteAuc(y, s));
      close(averagePrecision(y, s).value, bruteAp(y, s));
    }
  });

  test("a single class: ROC AUC is null with a reason, never NaN", () => {
    const onlyPositives = rocAuc(i32([1, 1, 1]), f64([0.2, 0.3, 0.9]));
    assert.equal(onlyPositives.value, null);
    assert.match(onlyPositives.reason ?? "", /both classes.*only positives/);
    const onlyNegatives = rocAuc(i32([0, 0]), f64([0.2, 0.3]));
    assert.equal(onlyNegatives.value, null);
    // AP exists with only positives (every threshold has precision 1) but not without any.
    close(averagePrecision(i32([1, 1, 1]), f64([0.2, 0.3, 0.9])).value, 1);
    assert.equal(averagePrecision(i32([0, 0]), f64([0.2, 0.3])).value, null);
    assert.equal(rocAuc(i32([]), f64([])).reason, "no rows");
  });

  test("bad input is refused rather than guessed at", () => {
    assert.throws(() => rocAuc(i32([0, 2]), f64([0.1, 0.2])), EvaluationInputError);
    assert.throws(() => rocAuc(i32([0, 1]), f64([0.1, NaN])), EvaluationInputError);
    assert.throws(() => rocAuc(i32([0, 1]), f64([0.1])), EvaluationInputError);
    assert.throws(() => brierScore(i32([0, 1]), f64([0.1, 1.5])), EvaluationInputError);
  });
});

describe("probabilistic losses", () => {
  test("log_loss: the sklearn docs example gives 0.21616…", () => {
    // log_loss(["spam","ham","ham","spam"], [[.1,.9],[.9,.1],[.8,.2],[.35,.65]]) = 0.21616187468057912;
    // by hand −(ln .9 + ln .9 + ln .8 + ln .65)/4. With ham = 0, spam = 1:
    const y = i32([1, 0, 0, 1]);
    close(logLossBinary(y, f64([0.9, 0.1, 0.2, 0.65])).value, 0.21616187468057912);
    close(logLossMulticlass(y, f64([0.1, 0.9, 0.9, 0.1, 0.8, 0.2, 0.35, 0.65]), 2).value, 0.21616187468057912);
  });

  test("log_loss clips 0 and 1 at float64 eps instead of returning Infinity", () => {
    // A positive given p = 0 costs −ln(eps) = 36.04365338911715; a negative given p = 0 costs −ln(1 − eps) ≈ 2.2e-16.
    close(logLossBinary(i32([1]), f64([0])).value, -Math.log(FLOAT64_EPS));
    close(logLossBinary(i32([1, 0]), f64([0, 0])).value, 36.04365338911715 / 2);
    close(logLossBinary(i32([1, 0]), f64([1, 0])).value, 0, 1e-15);
  });

  test("brier_score_loss: the sklearn docs example gives 0.0375", () => {
    // brier_score_loss([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]) = (0.01 + 0.01 + 0.04 + 0.09) / 4.
    close(brierScore(i32([0, 1, 1, 0]), f64([0.1, 0.9, 0.8, 0.3])).value, 0.0375);
  });
});

describe("threshold metrics", () => {
  const y = i32([0, 0, 1, 1]);
  const s = f64([0.1, 0.4, 0.35, 0.8]);

  test("at 0.5 and at a threshold equal to a score (>= counts as positive)", () => {
    // 0.5 → predictions [0,0,0,1]: TP 1, FP 0, FN 1, TN 2.
    let m = binaryThresholdMetrics(binaryCounts(y, thresholdScores(s, 0.5)));
    close(m.accuracy.value, 0.75);
    close(m.precision.value, 1);
    close(m.recall.value, 0.5);
    close(m.f1.value, 2 / 3);
    // 0.35 → [0,1,1,1]: TP 2, FP 1, TN 1 → P 2/3, R 1, F1 0.8 (sklearn's f1_score on those predictions).
    m = binaryThresholdMetrics(binaryCounts(y, thresholdScores(s, 0.35)));
    close(m.precision.value, 2 / 3);
    close(m.recall.value, 1);
    close(m.f1.value, 0.8);
  });

  test("no predicted positives: precision null with a reason, F1 still 0", () => {
    const m = binaryThresholdMetrics(binaryCounts(y, thresholdScores(s, 0.9)));
    assert.equal(m.precision.value, null);
    assert.equal(m.precision.reason, "no predicted positives");
    close(m.recall.value, 0);
    close(m.f1.value, 0);
  });

  test("evaluateBinary: confusion matrix rows are true classes", () => {
    const ev = evaluateBinary(y, s, { threshold: 0.5, classNames: ["no", "yes"] });
    assert.deepEqual(ev.confusionMatrix, {
      labels: ["no", "yes"],
      matrix: [
        [2, 0],
        [1, 1],
      ],
    });
    assert.equal(ev.metrics.values.roc_auc, 0.75);
    assert.deepEqual(ev.metrics.undefinedReasons, {});
  });
});

describe("multiclass", () => {
  // 7 rows, 3 classes. Argmax predictions: [0,1,2,1,0,0,0]; true: [0,1,2,2,1,0,0].
  const y = i32([0, 1, 2, 2, 1, 0, 0]);
  const proba = f64([0.7, 0.2, 0.1, 0.1, 0.6, 0.3, 0.2, 0.2, 0.6, 0.3, 0.4, 0.3, 0.5, 0.3, 0.2, 0.6, 0.3, 0.1, 0.8, 0.1, 0.1]);

  test("accuracy, macro/weighted P/R/F1, log loss, OvR macro AUC, confusion matrix", () => {
    const ev = evaluateMulticlass(y, proba, 3, ["a", "b", "c"]);
    assert.deepEqual(ev.confusionMatrix.matrix, [
      [3, 0, 0],
      [1, 1, 0],
      [0, 1, 1],
    ]);
    const m = ev.metrics.values;
    close(m.accuracy, 5 / 7);
    // Per class (P, R, F1): a (3/4, 1, 6/7), b (1/2, 1/2, 1/2), c (1, 1/2, 2/3); supports 3, 2, 2.
    close(m.precision_macro, (3 / 4 + 1 / 2 + 1) / 3);
    close(m.recall_macro, (1 + 1 / 2 + 1 / 2) / 3);
    close(m.f1_macro, (6 / 7 + 1 / 2 + 2 / 3) / 3);
    close(m.precision_weighted, (3 * (3 / 4) + 2 * (1 / 2) + 2 * 1) / 7);
    close(m.recall_weighted, 5 / 7); // support-weighted recall is always the accuracy
    close(m.f1_weighted, (3 * (6 / 7) + 2 * (1 / 2) + 2 * (2 / 3)) / 7);
    // −mean ln p[true]: the true-class probabilities are .7 .6 .6 .3 .3 .6 .8.
    close(m.log_loss, -[0.7, 0.6, 0.6, 0.3, 0.3, 0.6, 0.8].reduce((a, p) => a + Math.log(p), 0) / 7);
    // OvR AUCs by pair counting: a separates perfectly (1), b 8.5/10 (one tie), c 9.5/10 (one tie).
    close(m.roc_auc_ovr_macro, (1 + 0.85 + 0.95) / 3);
    assert.deepEqual(
      ev.perClass.map((c) => [c.label, c.support, c.predicted]),
      [
        ["a", 3, 4],
        ["b", 2, 2],
        ["c", 2, 1],
      ],
    );
  });

  test("a class never predicted nor present is left out of the averages, as in sklearn", () => {
    // 3 columns but only classes 0 and 1 occur: sklearn's labels are [0, 1], so macro divides by 2;
    // the OvR AUC of class 2 does not exist, so the macro AUC is null.
    const ev = evaluateMulticlass(i32([0, 1]), f64([0.9, 0.1, 0, 0.2, 0.8, 0]), 3);
    close(ev.metrics.values.precision_macro, 1);
    assert.equal(ev.metrics.values.roc_auc_ovr_macro, null);
    assert.match(ev.metrics.undefinedReasons.roc_auc_ovr_macro, /class 2/);
    assert.equal(ev.perClass[2].precision, null);
  });

  test("a class predicted but never true counts 0 recall-wise and 0 precision in macro", () => {
    // True [0,0], predicted [0,1]: class 1 has precision 0 (1 FP), recall undefined → 0 in the average.
    const ev = evaluateMulticlass(i32([0, 0]), f64([0.9, 0.1, 0.2, 0.8]), 2);
    close(ev.metrics.values.precision_macro, (1 + 0) / 2);
    close(ev.metrics.values.recall_macro, (1 / 2 + 0) / 2);
    assert.equal(ev.perClass[1].recall, null);
  });
});
