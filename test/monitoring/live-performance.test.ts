import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type LabeledRow, livePerformance, outcomeIndex } from "../../src/monitoring/windows/performance";

/**
 * Live performance of a classifier with class names: the logged prediction is the name in `label`
 * and the index in `label_index` (or, for rows logged before `label` held names, the index in
 * `label`), and ground truth may come by name or by index. All of them score the same.
 */
const SPECIES = ["Adelie", "Chinstrap", "Gentoo"];
/** Predicted indices and true indices: 4 of 6 right. */
const PREDICTED = [0, 1, 2, 2, 0, 1];
const TRUTH = [0, 1, 2, 0, 0, 2];

function rows(outcome: (i: number) => unknown, shape: "names" | "legacy"): LabeledRow[] {
  return PREDICTED.map((p, i) => ({
    outcome: outcome(TRUTH[i]!),
    prediction: undefined,
    ...(shape === "names" ? { label: SPECIES[p], labelIndex: p } : { label: p }),
  }));
}

describe("live accuracy of a classifier with class names", () => {
  for (const shape of ["names", "legacy"] as const) {
    it(`scores ${shape === "names" ? "label names with label_index" : "indices logged in label"} against names, indices and index strings`, () => {
      for (const [what, outcome] of [
        ["names", (i: number) => SPECIES[i]],
        ["indices", (i: number) => i],
        ["index strings", (i: number) => String(i)],
      ] as const) {
        assert.deepEqual(livePerformance(rows(outcome, shape), "classification", false, SPECIES), { accuracy: 4 / 6 }, what);
      }
    });
  }

  it("scores names without label_index by their index, and an outcome that is no class as wrong", () => {
    const named: LabeledRow[] = PREDICTED.map((p, i) => ({ outcome: SPECIES[TRUTH[i]!], prediction: undefined, label: SPECIES[p] }));
    assert.deepEqual(livePerformance(named, "classification", false, SPECIES), { accuracy: 4 / 6 });
    named[0] = { ...named[0]!, outcome: "Emperor" };
    named[1] = { ...named[1]!, outcome: 7 };
    assert.deepEqual(livePerformance(named, "classification", false, SPECIES), { accuracy: 2 / 6 });
  });

  it("a binary classifier's AUC and log loss read outcomes by name or by index alike", () => {
    const classes = ["kept", "lost"];
    const p = [0.9, 0.2, 0.7, 0.4, 0.6, 0.1];
    const truth = [1, 0, 0, 0, 1, 1];
    const of = (outcome: (i: number) => unknown): LabeledRow[] =>
      p.map((q, i) => ({ outcome: outcome(truth[i]!), prediction: q, label: classes[q >= 0.5 ? 1 : 0], labelIndex: q >= 0.5 ? 1 : 0 }));
    const byName = livePerformance(
      of((i) => classes[i]),
      "classification",
      true,
      classes,
    );
    const byIndex = livePerformance(
      of((i) => i),
      "classification",
      true,
      classes,
    );
    assert.deepEqual(byName, byIndex);
    assert.equal(byName.accuracy, 4 / 6);
    // Positives 0.9, 0.6, 0.1 against negatives 0.2, 0.7, 0.4: 5 of 9 pairs ranked right.
    assert.ok(Math.abs(byName.roc_auc! - 5 / 9) < 1e-12, String(byName.roc_auc));
  });
});

describe("outcomeIndex", () => {
  it("reads a class name before an index, so numeric class names keep their meaning", () => {
    const classes = ["1", "2", "3"];
    assert.equal(outcomeIndex(2, classes), 1, 'the outcome 2 is the class named "2"');
    assert.equal(outcomeIndex("3", classes), 2);
    assert.equal(outcomeIndex(0, classes), 0, "not a name: an index");
    assert.equal(outcomeIndex(5, classes), 5, "neither: unchanged");
    assert.equal(outcomeIndex("Adelie", SPECIES), 0);
    assert.equal(outcomeIndex(" 2 ", SPECIES), 2);
    assert.equal(outcomeIndex(-1, SPECIES), -1);
  });
});
