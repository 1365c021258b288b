import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { mulberry32, normalSampler } from "../../src/training/data";
import { sampleRandom } from "../../src/training/search";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

/**
 * Hyperparameter search in a real pipeline: a grid over GBT depth × learning rate and a random
 * search over logistic L2 (in worker threads and in the stage's thread), the trials in the Model
 * output's metadata and in GraphQL, the output being the best trial's model; bad specs refused at
 * apply, and at stage start when they come as run parameters.
 */

const ROWS = 1500;

function syntheticCsv(): string {
  const rand = mulberry32(11);
  const normal = normalSampler(rand);
  const lines = ["x1,x2,color,label"];
  for (let i = 0; i < ROWS; i++) {
    const x1 = normal();
    const x2 = normal();
    const c = Math.floor(rand() * 3);
    // A non-linear boundary, so tree depth matters.
    const logit = 2 * x1 * x2 + 1.5 * Math.abs(x1) - 1 + [0.8, 0, -0.8][c]!;
    const label = rand() < 1 / (1 + Math.exp(-logit)) ? "yes" : "no";
    lines.push(`${x1.toFixed(4)},${x2.toFixed(4)},${["red", "green", "blue"][c]},${label}`);
  }
  return lines.join("\n") + "\n";
}

interface Trial {
  params: Record<string, number | boolean>;
  metrics: Record<string, number>;
  durationMs: number;
  training?: Record<string, unknown>;
}

describe("hyperparameter search in the train operator", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-search-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "search");
    fs.writeFileSync(path.join(dir, "points.csv"), syntheticCsv());
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const features = ["x1", "x2", "color"];
  const ingest = {
    name: "ingest",
    run: { operator: "ingest" },
    params: { dataset: "points", paths: ["points.csv"], format: "csv" },
    outputs: { data: { kind: "Dataset" } },
  };
  const trainStage = (name: string, params: Record<string, unknown>) => ({
    name,
    run: { operator: "train" },
    inputs: { data: { from: "ingest.data" } },
    params: { target: "label", features, ...params },
    outputs: { model: { kind: "Model" } },
  });
  const metadataOf = async (id: string) =>
    dataOf(await t.gql(`query($id: ID!) { artifact(id: $id) { metadata } }`, { id })).artifact.metadata as Record<string, any>;

  it("runs a grid, keeps every trial, outputs the best trial's model and answers in GraphQL", async () => {
    const grid = { maxDepth: [1, 4], learningRate: [0.05, 0.3] };
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "grid-search",
      stages: [
        ingest,
        trainStage("grid", {
          algorithm: "gbt_classifier",
          hyperparameters: { maxIter: 30 },
          search: { strategy: "grid", space: grid, metric: "log_loss" },
        }),
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const output = stage(run, "grid").outputs[0]!;
    const m = await metadataOf(output.id);
    const search = m.search as { strategy: string; metric: string; direction: string; best: number; trials: Trial[] };
    assert.equal(search.strategy, "grid");
    assert.equal(search.metric, "log_loss");
    assert.equal(search.direction, "minimize", "log loss: lower is better by default");
    assert.deepEqual(
      search.trials.map((tr) => tr.params),
      [
        { maxIter: 30, learningRate: 0.05, maxDepth: 1 },
        { maxIter: 30, learningRate: 0.05, maxDepth: 4 },
        { maxIter: 30, learningRate: 0.3, maxDepth: 1 },
        { maxIter: 30, learningRate: 0.3, maxDepth: 4 },
      ],
      "alphabetical names, the last varying fastest; fixed hyperparameters in every trial",
    );
    for (const tr of search.trials) {
      assert.ok(tr.metrics.log_loss! > 0 && tr.metrics.roc_auc! > 0.5, JSON.stringify(tr));
      assert.ok(tr.durationMs >= 0);
    }
    const losses = search.trials.map((tr) => tr.metrics.log_loss!);
    assert.equal(search.best, losses.indexOf(Math.min(...losses)));
    assert.equal(search.trials[search.best]!.params.maxDepth, 4, "the x1·x2 interaction needs depth");
    const best = search.trials[search.best]!;
    assert.deepEqual(m.metrics, best.metrics, "the output's metrics are the best trial's");
    assert.deepEqual(m.hyperparameters, best.params);
    assert.deepEqual(m.training, best.training);

    // The same trial trained alone gives the very same graph: the output is the best trial's model.
    const { pipelineId: alone } = await applyPipeline(t, projectId, {
      name: "grid-winner",
      stages: [ingest, trainStage("alone", { algorithm: "gbt_classifier", hyperparameters: best.params })],
    });
    const aloneRun = await waitForRun(t, await triggerRun(t, alone), 60_000);
    assert.equal(aloneRun.status, "SUCCEEDED");
    assert.equal(stage(aloneRun, "alone").outputs[0]!.hash, output.hash);
    assert.deepEqual((await metadataOf(stage(aloneRun, "alone").outputs[0]!.id)).metrics, best.metrics);

    // Queryable by stage run, for tools (and for the tracking store to mirror as child runs).
    const gql = dataOf(
      await t.gql(
        `query($id: ID!) { run(id: $id) { stageRuns { stageName hyperparameterSearch { strategy metric direction seed best
           trials { index params metrics durationMs error best } } } } }`,
        { id: run.id },
      ),
    ).run.stageRuns as Array<{ stageName: string; hyperparameterSearch: any }>;
    assert.equal(gql.find((s) => s.stageName === "ingest")!.hyperparameterSearch, null);
    const hs = gql.find((s) => s.stageName === "grid")!.hyperparameterSearch;
    assert.equal(hs.best, search.best);
    assert.equal(hs.seed, null);
    assert.equal(hs.trials.length, 4);
    assert.deepEqual(
      hs.trials.map((tr: any) => [tr.index, tr.best, tr.error]),
      [0, 1, 2, 3].map((i) => [i, i === search.best, null]),
    );
    assert.deepEqual(hs.trials[search.best].params, best.params);
    assert.deepEqual(hs.trials[search.best].metrics, best.metrics);

    // Each trial's metric is also a stage metric point, stepped by trial index.
    const history = dataOf(
      await t.gql(
        `query($r: ID!, $s: ID!) { metricHistory(runId: $r, key: "trial.log_loss", first: 100, filter: { stageRunId: $s }) { edges { node { step value } } } }`,
        { r: run.id, s: stage(run, "grid").id },
      ),
    ).metricHistory.edges.map((e: any) => e.node) as Array<{ step: number; value: number }>;
    assert.deepEqual(
      history.map((p) => [p.step, p.value]).sort((a, b) => a[0]! - b[0]!),
      losses.map((v, i) => [i, v]),
    );

    // In experiment tracking: one run for the search (experiment = the pipeline), a child per trial.
    const registered = (await metadataOf(output.id)).registered as { trackingRunId: string; trialRunIds: string[] };
    const parent = dataOf(
      await t.gql(`query($id: ID!) { trackingRun(id: $id) { experimentId status params tags latestMetrics { key value } } }`, {
        id: registered.trackingRunId,
      }),
    ).trackingRun;
    assert.equal(parent.status, "FINISHED");
    assert.equal(parent.tags["sluice.stage_run_id"], stage(run, "grid").id);
    assert.equal(parent.params.maxDepth, String(best.params.maxDepth));
    const children = dataOf(
      await t.gql(
        `query($e: ID!, $p: ID) { trackingRuns(experimentId: $e, filter: { parentRunId: $p }, first: 50) { nodes { id name status params tags latestMetrics { key value } } } }`,
        { e: parent.experimentId, p: registered.trackingRunId },
      ),
    ).trackingRuns.nodes as Array<{
      name: string;
      status: string;
      params: Record<string, string>;
      tags: Record<string, string>;
      latestMetrics: Array<{ key: string; value: number }>;
    }>;
    assert.equal(children.length, 4);
    for (const child of children) {
      const i = Number(child.tags["sluice.trial"]);
      assert.equal(child.status, "FINISHED");
      assert.equal(child.params.learningRate, String(search.trials[i]!.params.learningRate));
      assert.equal(child.latestMetrics.find((m) => m.key === "log_loss")!.value, losses[i]);
      assert.equal(child.tags["sluice.best"] === "true", i === search.best);
    }
  });

  it("draws random configurations from the seed, the same in worker threads as in the stage's thread", async () => {
    const space = { l2: { min: 0.001, max: 100, log: true } };
    const search = { strategy: "random", space, trials: 5, metric: "roc_auc", seed: 9 };
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "random-search",
      stages: [
        ingest,
        trainStage("threads", { algorithm: "logistic_regression", search: { ...search, workers: 2 } }),
        trainStage("inline", { algorithm: "logistic_regression", search: { ...search, workers: 0 } }),
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const a = await metadataOf(stage(run, "threads").outputs[0]!.id);
    const b = await metadataOf(stage(run, "inline").outputs[0]!.id);
    assert.deepEqual(
      a.search.trials.map((tr: Trial) => tr.params),
      sampleRandom(space, 5, 9),
    );
    for (const tr of a.search.trials as Trial[]) assert.ok((tr.params.l2 as number) >= 0.001 && (tr.params.l2 as number) <= 100);
    assert.equal(a.search.direction, "maximize");
    assert.equal(a.search.seed, 9);
    assert.deepEqual(
      a.search.trials.map((tr: Trial) => tr.metrics),
      b.search.trials.map((tr: Trial) => tr.metrics),
    );
    assert.equal(a.search.best, b.search.best);
    const aucs = (a.search.trials as Trial[]).map((tr) => tr.metrics.roc_auc!);
    assert.equal(a.search.best, aucs.indexOf(Math.max(...aucs)), "ties go to the earliest trial");
    assert.equal(stage(run, "threads").outputs[0]!.hash, stage(run, "inline").outputs[0]!.hash, "the same winner, byte for byte");
  });

  it("refuses bad search specs at apply, naming each field", async () => {
    const refused = async (algorithm: string, search: Record<string, unknown>, hyperparameters?: Record<string, unknown>) => {
      const res = dataOf(
        await t.gql(
          `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
          {
            i: {
              projectId,
              spec: {
                name: "bad-search",
                stages: [ingest, trainStage("train", { algorithm, search, ...(hyperparameters && { hyperparameters }) })],
              },
            },
          },
        ),
      ).applyPipeline;
      assert.equal(res.__typename, "InvalidInputError");
      return (res.problems as Array<{ field: string; message: string }>).map((p) => `${p.field}: ${p.message}`);
    };
    const at = "stages[1].params.search";
    assert.deepEqual(await refused("gbt_classifier", { strategy: "grid", space: { depth: [2] }, metric: "roc_auc" }), [
      `${at}.space.depth: unknown hyperparameter; gbt_classifier takes l2, maxIter, tol, learningRate, maxDepth, maxLeafNodes, minSamplesLeaf, minHessianLeaf, minGainToSplit, maxBins, nIterNoChange, earlyStopping`,
    ]);
    assert.deepEqual(await refused("gbt_classifier", { strategy: "grid", space: { maxDepth: [] }, metric: "roc_auc" }), [
      `${at}.space.maxDepth: is an empty list: give at least one value`,
    ]);
    assert.deepEqual(
      await refused("gbt_regressor", { strategy: "random", space: { learningRate: { min: 0.5, max: 0.1 } }, metric: "rmse" }),
      [`${at}.space.learningRate: min (0.5) is greater than max (0.1)`],
    );
    const big = { maxDepth: [1, 2, 3, 4, 5, 6], learningRate: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3], minSamplesLeaf: [1, 5, 10, 20, 50, 100] };
    assert.deepEqual(await refused("gbt_classifier", { strategy: "grid", space: big, metric: "roc_auc" }), [
      `${at}.space: the grid has 216 combinations; at most 200 are allowed (use random search)`,
    ]);
    assert.deepEqual(await refused("linear_regression", { strategy: "grid", space: { l2: [0.1, 1] }, metric: "roc_auc" }), [
      `${at}.metric: linear_regression does not produce the validation metric "roc_auc"; it produces rmse, mae, r2`,
    ]);
    assert.deepEqual(
      await refused("gbt_classifier", { strategy: "grid", space: { maxDepth: [2, 3] }, metric: "roc_auc" }, { maxDepth: 4 }),
      [`${at}.space.maxDepth: is also fixed in hyperparameters: give it in one place only`],
    );
    // The bare shape is the schema's.
    const shape = await refused("gbt_classifier", { strategy: "bayes", space: { maxDepth: [2] }, metric: "roc_auc" });
    assert.ok(
      shape.some((p) => p.startsWith(`${at}.strategy:`)),
      JSON.stringify(shape),
    );
  });

  it("fails the stage at start, not retried, when run parameters bring a bad search", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "search-override",
      stages: [ingest, { ...trainStage("train", { algorithm: "logistic_regression" }), retries: { max: 2, initialDelayMs: 10 } }],
    });
    const runId = await triggerRun(t, pipelineId, {
      train: { search: { strategy: "grid", space: { l2: [0.1, 1] }, metric: "f1_macro" } },
    });
    const run = await waitForRun(t, runId, 60_000);
    assert.equal(run.status, "FAILED");
    const s = stage(run, "train");
    assert.match(
      String(s.failure?.message),
      /params\.search\.metric: logistic_regression \(binary\) does not produce the validation metric "f1_macro"; it produces roc_auc, /,
    );
    assert.equal(s.failure?.nonRetryable, true);
    assert.equal(s.attempts.length, 1);
  });
});
