import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bestTrial,
  expandGrid,
  MAX_TRIALS,
  sampleRandom,
  searchConfigurations,
  searchDirection,
  searchSpecProblems,
  type SearchSpec,
} from "../../src/training/search";

/** "path: message" of each problem, for compact assertions. */
const problems = (search: unknown, algorithm: Parameters<typeof searchSpecProblems>[1] = "gbt_classifier", fixed = {}, task?: "binary") =>
  searchSpecProblems(search, algorithm, fixed, task).map((p) => `${p.path.join(".")}: ${p.message}`);

describe("expandGrid", () => {
  test("every combination, names in alphabetical order, the last varying fastest, whatever the key order", () => {
    const a = expandGrid({ maxDepth: [2, 4], learningRate: [0.1, 0.3, 1] });
    const b = expandGrid({ learningRate: [0.1, 0.3, 1], maxDepth: [2, 4] });
    assert.deepEqual(a, b);
    assert.deepEqual(a, [
      { learningRate: 0.1, maxDepth: 2 },
      { learningRate: 0.1, maxDepth: 4 },
      { learningRate: 0.3, maxDepth: 2 },
      { learningRate: 0.3, maxDepth: 4 },
      { learningRate: 1, maxDepth: 2 },
      { learningRate: 1, maxDepth: 4 },
    ]);
  });
  test("one list of one value is one configuration", () => {
    assert.deepEqual(expandGrid({ l2: [0.5] }), [{ l2: 0.5 }]);
  });
});

describe("sampleRandom", () => {
  const space = {
    learningRate: { min: 0.01, max: 1, log: true },
    maxDepth: { min: 2, max: 6 },
    l2: { min: 0, max: 10 },
    minSamplesLeaf: { min: 1, max: 100, log: true },
    earlyStopping: [true, false],
  };
  test("the same seed gives the same configurations; another seed others", () => {
    const a = sampleRandom(space, 20, 7);
    assert.deepEqual(sampleRandom({ ...space }, 20, 7), a);
    assert.deepEqual(sampleRandom(Object.fromEntries(Object.entries(space).reverse()), 20, 7), a, "key order does not matter");
    assert.notDeepEqual(sampleRandom(space, 20, 8), a);
    assert.deepEqual(sampleRandom(space, 5, 7), a.slice(0, 5), "more trials extend the same stream");
  });
  test("values stay in bounds; integer hyperparameters and integer ranges get whole numbers", () => {
    const draws = sampleRandom({ ...space, tol: { min: 1, max: 3, integer: true } }, 2000, 1);
    const seen = new Set<number>();
    for (const c of draws) {
      const lr = c.learningRate as number;
      assert.ok(lr >= 0.01 && lr <= 1, `learningRate ${lr}`);
      const d = c.maxDepth as number;
      assert.ok(Number.isInteger(d) && d >= 2 && d <= 6, `maxDepth ${d}`);
      seen.add(d);
      assert.ok((c.l2 as number) >= 0 && (c.l2 as number) <= 10);
      const m = c.minSamplesLeaf as number;
      assert.ok(Number.isInteger(m) && m >= 1 && m <= 100, `minSamplesLeaf ${m}`);
      assert.ok([1, 2, 3].includes(c.tol as number));
      assert.ok(typeof c.earlyStopping === "boolean");
    }
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5, 6], "both ends of an integer range are drawn");
  });
  test("log-uniform draws spread evenly over the orders of magnitude", () => {
    const draws = sampleRandom({ learningRate: { min: 0.001, max: 1, log: true } }, 3000, 3).map((c) => c.learningRate as number);
    const below01 = draws.filter((x) => x < 0.01).length / draws.length;
    const above01 = draws.filter((x) => x >= 0.1).length / draws.length;
    assert.ok(Math.abs(below01 - 1 / 3) < 0.05, `share below 0.01: ${below01}`);
    assert.ok(Math.abs(above01 - 1 / 3) < 0.05, `share above 0.1: ${above01}`);
    const uniform = sampleRandom({ l2: { min: 0, max: 1 } }, 3000, 3).map((c) => c.l2 as number);
    assert.ok(Math.abs(uniform.reduce((a, b) => a + b, 0) / uniform.length - 0.5) < 0.03);
  });
  test("searchConfigurations: a grid expands, random draws `trials` (default 10) from the spec's seed or the stage's", () => {
    const grid: SearchSpec = { strategy: "grid", space: { maxDepth: [2, 3], learningRate: [0.1] }, metric: "roc_auc" };
    assert.equal(searchConfigurations(grid, 1).length, 2);
    const random: SearchSpec = { strategy: "random", space: { l2: { min: 0, max: 1 } }, metric: "roc_auc" };
    assert.equal(searchConfigurations(random, 42).length, 10);
    assert.deepEqual(searchConfigurations(random, 42), sampleRandom(random.space, 10, 42));
    assert.deepEqual(searchConfigurations({ ...random, seed: 5, trials: 3 }, 42), sampleRandom(random.space, 3, 5));
  });
});

describe("bestTrial", () => {
  const trials: Array<{ metrics: Record<string, number> }> = [
    { metrics: { auc: 0.7, rmse: 2 } },
    { metrics: { auc: 0.9, rmse: 1 } },
    { metrics: { auc: 0.9, rmse: 1 } },
    { metrics: { rmse: 3 } },
  ];
  test("maximize and minimize; ties go to the earliest trial", () => {
    assert.equal(bestTrial(trials, "auc", "maximize"), 1);
    assert.equal(bestTrial(trials, "rmse", "minimize"), 1);
    assert.equal(bestTrial(trials, "rmse", "maximize"), 3);
    assert.equal(bestTrial(trials, "auc", "minimize"), 0);
  });
  test("trials without the metric (or with a non-finite value) never win; none at all gives null", () => {
    assert.equal(bestTrial([{ metrics: {} }, { metrics: { auc: NaN } }, { metrics: { auc: 0.1 } }], "auc", "maximize"), 2);
    assert.equal(bestTrial([{ metrics: {} }], "auc", "maximize"), null);
    assert.equal(bestTrial([], "auc", "maximize"), null);
  });
  test("the default direction follows the metric: lower is better for losses and errors", () => {
    for (const m of ["rmse", "mae", "log_loss", "brier_score"]) assert.equal(searchDirection({ metric: m }), "minimize", m);
    for (const m of ["roc_auc", "accuracy", "r2", "f1_macro"]) assert.equal(searchDirection({ metric: m }), "maximize", m);
    assert.equal(searchDirection({ metric: "rmse", direction: "maximize" }), "maximize");
  });
});

describe("searchSpecProblems", () => {
  test("a good grid and a good random spec have none", () => {
    assert.deepEqual(problems({ strategy: "grid", space: { maxDepth: [2, 3], learningRate: [0.1, 0.3] }, metric: "roc_auc" }), []);
    assert.deepEqual(
      problems({
        strategy: "random",
        space: { learningRate: { min: 0.01, max: 1, log: true }, maxDepth: [2, 3] },
        trials: 5,
        metric: "log_loss",
        direction: "minimize",
        seed: 1,
      }),
      [],
    );
    assert.deepEqual(problems({ strategy: "grid", space: { l2: [0.1, 1] }, metric: "rmse" }, "linear_regression"), []);
    assert.deepEqual(
      problems({ strategy: "grid", space: { l2: [0.1] }, metric: "f1_macro" }, "logistic_regression"),
      [],
      "multiclass is possible until the data says",
    );
  });
  test("each mistake names its field", () => {
    assert.deepEqual(problems({ strategy: "grid", space: { depth: [1] }, metric: "roc_auc" }), [
      "search.space.depth: unknown hyperparameter; gbt_classifier takes l2, maxIter, tol, learningRate, maxDepth, maxLeafNodes, minSamplesLeaf, minHessianLeaf, minGainToSplit, maxBins, nIterNoChange, earlyStopping",
    ]);
    assert.match(
      problems({ strategy: "grid", space: { maxDepth: [2] }, metric: "rmse" }, "linear_regression")[0]!,
      /^search\.space\.maxDepth: does not apply to linear_regression \(a GBT hyperparameter\)/,
    );
    assert.deepEqual(problems({ strategy: "grid", space: { maxDepth: [] }, metric: "roc_auc" }), [
      "search.space.maxDepth: is an empty list: give at least one value",
    ]);
    assert.deepEqual(problems({ strategy: "grid", space: { maxDepth: [2, 0, 2.5] }, metric: "roc_auc" }), [
      "search.space.maxDepth.1: must be >= 1",
      "search.space.maxDepth.2: must be an integer",
    ]);
    assert.deepEqual(problems({ strategy: "random", space: { learningRate: { min: 1, max: 0.1 } }, metric: "roc_auc" }), [
      "search.space.learningRate: min (1) is greater than max (0.1)",
    ]);
    assert.deepEqual(problems({ strategy: "random", space: { l2: { min: 0, max: 1, log: true } }, metric: "roc_auc" }), [
      "search.space.l2.min: a log range needs min > 0",
    ]);
    assert.deepEqual(problems({ strategy: "grid", space: { l2: { min: 0, max: 1 } }, metric: "roc_auc" }), [
      "search.space.l2: a range applies to random search only: a grid takes a list of values",
    ]);
    assert.deepEqual(problems({ strategy: "random", space: { earlyStopping: { min: 0, max: 1 } }, metric: "roc_auc" }), [
      "search.space.earlyStopping: is true/false: give a list such as [true, false]",
    ]);
    assert.deepEqual(problems({ strategy: "grid", space: { maxDepth: [2] }, metric: "roc_auc" }, "gbt_classifier", { maxDepth: 3 }), [
      "search.space.maxDepth: is also fixed in hyperparameters: give it in one place only",
    ]);
    assert.deepEqual(problems({ strategy: "grid", space: { maxDepth: [2] }, metric: "roc_auc", trials: 3 }), [
      "search.trials: applies to random search only: a grid runs every combination",
    ]);
  });
  test("a grid above the limit is refused with its size", () => {
    const space = { maxDepth: [1, 2, 3, 4, 5, 6, 7], learningRate: [0.1, 0.2, 0.3, 0.4, 0.5], l2: [0, 1, 2, 3, 4, 5] };
    assert.deepEqual(problems({ strategy: "grid", space, metric: "roc_auc" }), [
      `search.space: the grid has 210 combinations; at most ${MAX_TRIALS} are allowed (use random search)`,
    ]);
  });
  test("a metric the algorithm does not produce", () => {
    assert.deepEqual(problems({ strategy: "grid", space: { l2: [1] }, metric: "roc_auc" }, "linear_regression"), [
      'search.metric: linear_regression does not produce the validation metric "roc_auc"; it produces rmse, mae, r2',
    ]);
    assert.match(
      problems({ strategy: "grid", space: { l2: [1] }, metric: "f1_macro" }, "gbt_classifier", {}, "binary")[0]!,
      /^search\.metric: gbt_classifier \(binary\) does not produce the validation metric "f1_macro"; it produces roc_auc, /,
    );
  });
});
