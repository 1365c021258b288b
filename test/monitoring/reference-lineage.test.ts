import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { mulberry32, normalSampler } from "../../src/training/data";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, infer, setChampion } from "../serving/helpers";

/**
 * A model trained by a pipeline: its reference is found through its lineage (the train stage's
 * `data` input) and computed on the first window, with numeric and categorical features, and
 * live performance on text labels.
 */

const COLORS = ["red", "green", "blue"];

function row(rand: () => number, normal: () => number, shift = 0) {
  const x1 = normal() + shift;
  const x2 = normal();
  const c = Math.floor(rand() * 3);
  const logit = 2 * x1 - 1.5 * x2 + [1, 0, -1][c]!;
  return {
    x1: Number(x1.toFixed(4)),
    x2: Number(x2.toFixed(4)),
    color: COLORS[c]!,
    label: rand() < 1 / (1 + Math.exp(-logit)) ? "lost" : "kept",
  };
}

describe("monitoring a model trained by a pipeline", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-monitor-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir, SLUICE_MONITORING_INTERVAL_MS: "0" } });
    projectId = await seedProject(t, "monitor-lineage");
    const rand = mulberry32(5);
    const normal = normalSampler(rand);
    const lines = ["x1,x2,color,label"];
    for (let i = 0; i < 1500; i++) {
      const r = row(rand, normal);
      lines.push(`${r.x1},${r.x2},${r.color},${r.label}`);
    }
    fs.writeFileSync(path.join(dir, "customers.csv"), lines.join("\n") + "\n");
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("computes the reference from the training data on the first window, and measures drift and live AUC", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "train-churn",
      stages: [
        {
          name: "ingest",
          run: { operator: "ingest" },
          params: { dataset: "customers", paths: ["customers.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "train",
          run: { operator: "train" },
          inputs: { data: { from: "ingest.data" } },
          params: { algorithm: "logistic_regression", target: "label", features: ["x1", "x2", "color"] },
          outputs: { model: { kind: "Model" } },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const modelId = await createModel(t, projectId, "churn", true);
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename ... on ModelVersionPayload { modelVersion { id version metrics } } ... on Error { message } } }`,
        { i: { registeredModelId: modelId, artifactId: stage(run, "train").outputs[0]!.id } },
      ),
    ).createModelVersion;
    assert.equal(created.__typename, "ModelVersionPayload", JSON.stringify(created));
    await setChampion(t, modelId, created.modelVersion.version);

    const m = dataOf(
      await t.gql(
        `mutation($i: CreateMonitorInput!) { createMonitor(input: $i) { __typename ... on MonitorPayload { monitor { id } } ... on Error { message } } }`,
        { i: { projectId, servedName: "churn", windowSize: 5000 } },
      ),
    ).createMonitor;
    // Live traffic: x1 shifted by +1.5, and a colour the training data never had in 10% of rows.
    const rand = mulberry32(77);
    const normal = normalSampler(rand);
    const live = Array.from({ length: 200 }, () => row(rand, normal, 1.5)).map((r, i) => (i % 10 === 0 ? { ...r, color: "purple" } : r));
    const ids = live.map((_, i) => `c-${i}`);
    const { status, body } = await infer(
      t,
      "/v2/models/churn/infer",
      { instances: live.map(({ label: _label, ...inputs }) => inputs), parameters: { prediction_ids: ids } },
      { project: projectId },
    );
    assert.equal(status, 200, JSON.stringify(body));
    const rec = dataOf(
      await t.gql(`mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) { __typename ... on OutcomesPayload { matched } } }`, {
        i: { projectId, model: "churn", outcomes: live.map((r, i) => ({ predictionId: ids[i], outcome: r.label })) },
      }),
    ).recordOutcomes;
    assert.equal(rec.matched, 200);

    const closed = dataOf(
      await t.gql(
        `mutation($i: MonitorIdInput!) { closeMonitoringWindow(input: $i) { __typename ... on MonitoringWindowPayload { window {
           rows outcomes datasetDrift drift performance problem metrics { metric feature value } } } ... on Error { message } } }`,
        { i: { monitorId: m.monitor.id } },
      ),
    ).closeMonitoringWindow;
    assert.equal(closed.__typename, "MonitoringWindowPayload", JSON.stringify(closed));
    const w = closed.window;
    assert.equal(w.problem, null);
    assert.deepEqual([w.rows, w.outcomes], [200, 200]);

    const ref = dataOf(
      await t.gql(`query($v: ID!) { monitoringReference(modelVersionId: $v) { source features predictionColumn rows } }`, {
        v: created.modelVersion.id,
      }),
    ).monitoringReference;
    assert.equal(ref.source, "TRAINING");
    assert.deepEqual(ref.features.sort(), ["color", "x1", "x2"]);
    assert.equal(ref.predictionColumn, "probabilities[1]");
    assert.equal(ref.rows, 1500);

    const metric = (name: string, feature = "") => w.metrics.find((x: any) => x.metric === name && x.feature === feature)?.value;
    assert.equal(metric("feature_drift", "x1"), 1, "x1 shifted by 1.5 standard deviations");
    assert.equal(metric("feature_drift", "x2"), 0, "x2 unchanged");
    assert.ok(Math.abs(metric("unseen_share", "color") - 20 / 200) < 1e-12);
    assert.equal(w.drift.features.find((f: any) => f.feature === "color").kind, "categorical");
    assert.equal(metric("prediction_drift", "probabilities[1]"), 1, "more positives predicted");
    // Outcomes in the model's own words ("lost"/"kept"): AUC of a decent model on its own distribution family.
    assert.ok(
      metric("roc_auc") > 0.7,
      `live AUC ${metric("roc_auc")} ${JSON.stringify(w.performance)} ${JSON.stringify(body.predictions.slice(0, 2))}`,
    );
    assert.ok(metric("accuracy") > 0.6);
    assert.ok(typeof w.performance.baseline.roc_auc === "number", JSON.stringify(w.performance));
    assert.ok(Math.abs(metric("roc_auc_delta") - (metric("roc_auc") - w.performance.baseline.roc_auc)) < 1e-12);
    // The answers name the class in `label` and keep its index ("kept" 0, "lost" 1) in `label_index`;
    // accuracy is exactly the share of names that match the outcomes.
    const CLASSES = ["kept", "lost"];
    for (const p of body.predictions) assert.equal(p.label, CLASSES[p.label_index], JSON.stringify(p));
    const accuracy = live.filter((r, i) => body.predictions[i].label === r.label).length / live.length;
    assert.equal(metric("accuracy"), accuracy);

    // The same traffic again with outcomes given as class indices: the same live performance.
    const again = await infer(
      t,
      "/v2/models/churn/infer",
      { instances: live.map(({ label: _label, ...inputs }) => inputs), parameters: { prediction_ids: live.map((_, i) => `d-${i}`) } },
      { project: projectId },
    );
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const byIndex = dataOf(
      await t.gql(`mutation($i: RecordOutcomesInput!) { recordOutcomes(input: $i) { __typename ... on OutcomesPayload { matched } } }`, {
        i: { projectId, model: "churn", outcomes: live.map((r, i) => ({ predictionId: `d-${i}`, outcome: CLASSES.indexOf(r.label) })) },
      }),
    ).recordOutcomes;
    assert.equal(byIndex.matched, 200);
    const second = dataOf(
      await t.gql(
        `mutation($i: MonitorIdInput!) { closeMonitoringWindow(input: $i) { __typename ... on MonitoringWindowPayload { window {
           outcomes metrics { metric feature value } } } ... on Error { message } } }`,
        { i: { monitorId: m.monitor.id } },
      ),
    ).closeMonitoringWindow;
    assert.equal(second.__typename, "MonitoringWindowPayload", JSON.stringify(second));
    const metric2 = (name: string) => second.window.metrics.find((x: any) => x.metric === name && x.feature === "")?.value;
    assert.equal(second.window.outcomes, 200);
    assert.equal(metric2("accuracy"), accuracy, "index outcomes score as the names did");
    assert.ok(Math.abs(metric2("roc_auc") - metric("roc_auc")) < 1e-12);
    assert.ok(Math.abs(metric2("log_loss") - metric("log_loss")) < 1e-12);
  });
});
