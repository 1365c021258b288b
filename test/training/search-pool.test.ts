import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mulberry32 } from "../../src/training/data";
import { runTrials } from "../../src/training/search-pool";
import type { TrialData } from "../../src/training/trial";

/** y = 2·a + noise, with column b a copy of a: without L2 the normal equations are singular. */
function collinear(rows: number, seed: number): { X: Float32Array; y: Float64Array } {
  const u = mulberry32(seed);
  const X = new Float32Array(rows * 2);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const a = Math.fround(u() * 4 - 2);
    X[2 * r] = a;
    X[2 * r + 1] = a;
    y[r] = 2 * a + 0.1 * (u() - 0.5);
  }
  return { X, y };
}

describe("runTrials", () => {
  const tr = collinear(300, 1);
  const va = collinear(100, 2);
  const data: TrialData = {
    algorithm: "linear_regression",
    cols: 2,
    featureNames: ["a", "b"],
    Xtr: tr.X,
    ytr: tr.y,
    Xva: va.X,
    yva: va.y,
    seed: 1,
  };
  const configs = [{ l2: 0, fitIntercept: true }, { l2: 10 }, { l2: 0.01 }, { l2: 0.01 }];

  test("a failing trial is recorded with its error and cannot win; ties go to the earliest; the winner's model is kept", async () => {
    const out = await runTrials(data, configs, { metric: "rmse", direction: "minimize", workers: 0 });
    assert.equal(out.trials.length, 4);
    assert.match(out.trials[0]!.error ?? "", /singular|positive definite/i);
    assert.deepEqual(out.trials[0]!.metrics, {});
    assert.equal(out.best, 2, "l2 = 0.01 fits best; trial 3 ties and comes later");
    assert.deepEqual(out.trials[3]!.metrics, out.trials[2]!.metrics);
    assert.ok(out.bestModel && "coefficients" in out.bestModel);
    assert.ok(out.trials[1]!.metrics.rmse! > out.trials[2]!.metrics.rmse!);
  });

  test("worker threads give the same trials, best and model", async () => {
    const inline = await runTrials(data, configs, { metric: "rmse", direction: "minimize", workers: 0 });
    const seen: number[] = [];
    const threads = await runTrials(data, configs, { metric: "rmse", direction: "minimize", workers: 2, onTrial: (i) => seen.push(i) });
    assert.deepEqual(
      threads.trials.map((t) => [t.params, t.metrics, t.error]),
      inline.trials.map((t) => [t.params, t.metrics, t.error]),
    );
    assert.equal(threads.best, inline.best);
    assert.deepEqual(threads.bestModel, inline.bestModel);
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
  });

  test("an aborted search stops", async () => {
    const controller = new AbortController();
    controller.abort(new Error("canceled"));
    await assert.rejects(
      runTrials(data, configs, { metric: "rmse", direction: "minimize", workers: 2, signal: controller.signal }),
      /canceled/,
    );
    await assert.rejects(
      runTrials(data, configs, { metric: "rmse", direction: "minimize", workers: 0, signal: controller.signal }),
      /canceled/,
    );
  });
});
