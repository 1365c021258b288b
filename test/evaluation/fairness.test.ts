import assert from "node:assert/strict";
import { test } from "node:test";
import { fairness } from "../../src/evaluation/fairness";

// A hand-built table. Per group (y = truth, ŷ = prediction):
//   a: y 1 1 0 0, ŷ 1 0 0 0 → selection 1/4, TPR 1/2, FPR 0
//   b: y 1 1 1 0, ŷ 1 1 1 0 → selection 3/4, TPR 1,   FPR 0
//   c: y 0 0,     ŷ 0 1     → selection 1/2, TPR —,   FPR 1/2 (no actual positives)
//   d: expected but absent  → count 0, every rate null
const groups = ["a", "a", "a", "a", "b", "b", "b", "b", "c", "c"];
const yTrue = Int32Array.from([1, 1, 0, 0, 1, 1, 1, 0, 0, 0]);
const yPred = Int32Array.from([1, 0, 0, 0, 1, 1, 1, 0, 0, 1]);

test("per-group rates and the Fairlearn aggregates", () => {
  const f = fairness("segment", yTrue, yPred, groups, { expectedValues: ["d"], minCount: 3 });
  assert.deepEqual(
    f.groups.map((g) => [g.value, g.count, g.selectionRate, g.truePositiveRate, g.falsePositiveRate, g.belowMinCount]),
    [
      ["a", 4, 0.25, 0.5, 0, false],
      ["b", 4, 0.75, 1, 0, false],
      ["c", 2, 0.5, null, 0.5, true],
      ["d", 0, null, null, null, true],
    ],
  );
  // demographic_parity_difference = .75 − .25; ratio = .25 / .75.
  assert.equal(f.demographicParityDifference, 0.5);
  assert.equal(f.demographicParityRatio, 1 / 3);
  // TPR difference over groups that have positives (a, b): 1 − .5; FPR difference: .5 − 0; EO = max.
  assert.equal(f.truePositiveRateDifference, 0.5);
  assert.equal(f.falsePositiveRateDifference, 0.5);
  assert.equal(f.equalizedOddsDifference, 0.5);
  assert.deepEqual(f.undefinedReasons, {});
});

test("undefinedRates: 'zero' reproduces Fairlearn, which counts c's missing TPR as 0", () => {
  // Fairlearn's equalized_odds_difference on this table: TPR difference 1 − 0 = 1 → EO = 1.
  const f = fairness("segment", yTrue, yPred, groups, { undefinedRates: "zero" });
  assert.equal(f.truePositiveRateDifference, 1);
  assert.equal(f.equalizedOddsDifference, 1);
  assert.equal(f.demographicParityDifference, 0.5);
});

test("degenerate tables give nulls with reasons", () => {
  // Nobody selected: difference 0, ratio 0/0.
  const none = fairness("g", Int32Array.from([1, 0]), Int32Array.from([0, 0]), ["x", "y"]);
  assert.equal(none.demographicParityDifference, 0);
  assert.equal(none.demographicParityRatio, null);
  assert.match(none.undefinedReasons.demographicParityRatio, /0 \/ 0/);
  // No actual positives anywhere: no TPR, so no equalized odds.
  const noPos = fairness("g", Int32Array.from([0, 0]), Int32Array.from([1, 0]), ["x", "y"]);
  assert.equal(noPos.equalizedOddsDifference, null);
  assert.equal(noPos.falsePositiveRateDifference, 1);
  // Nothing at all.
  const empty = fairness("g", new Int32Array(0), new Int32Array(0), [], { expectedValues: ["x"] });
  assert.equal(empty.groups[0].count, 0);
  assert.equal(empty.demographicParityDifference, null);
});
