import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { MlflowMirror } from "../../plugins/mlflow";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, moduleRun, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { mlflowClient } from "./client";
import { linearModel } from "../helpers/onnx-models";
import { waitUntil } from "../helpers/eventually";

function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  return waitUntil(what, probe, { timeoutMs, intervalMs: 100 });
}

const text = { kind: "File" };

/**
 * The mirror plugin against a second Sluice server's own MLflow API, over real HTTP: both sides
 * of the protocol are Sluice's, so this proves they speak the same MLflow.
 */
describe("plugins/mlflow: mirroring to an MLflow server", () => {
  let target: TestServer;
  let source: TestServer;
  let targetCall: ReturnType<typeof mlflowClient>;
  let sourceProject: string;
  before(async () => {
    target = await startTestServer();
    const targetProject = await seedProject(target, "mirrored");
    const editor = await seedCaller(target, "EDITOR", targetProject);
    targetCall = mlflowClient(target, { project: "mirrored" });
    source = await startTestServer({
      env: {
        SLUICE_MLFLOW_MIRROR_URI: target.url,
        SLUICE_MLFLOW_MIRROR_TOKEN: editor.token,
        SLUICE_MLFLOW_MIRROR_EXPERIMENT: "from-sluice",
        SLUICE_MLFLOW_MIRROR_RETRY_MS: "50",
      },
    });
    sourceProject = await seedProject(source, "origin");
  });
  after(async () => {
    await source?.close();
    await target?.close();
  });

  it("mirrors a pipeline run: params, stage metrics, status, times and Sluice ids", async () => {
    const { pipelineId } = await applyPipeline(source, sourceProject, {
      name: "produce-text",
      stages: [{ name: "a", run: moduleRun("produce"), outputs: { out: text }, params: { text: "A", depth: 3 } }],
    });
    const runId = await triggerRun(source, pipelineId, { a: { text: "B" } });
    const done = await waitForRun(source, runId);
    assert.equal(done.status, "SUCCEEDED");
    const experimentId = (
      await eventually(
        "the experiment",
        async () => (await targetCall("GET", "experiments/get-by-name", { experiment_name: "from-sluice" })).body.experiment,
      )
    ).experiment_id;
    const mirrored = await eventually("the finished run", async () => {
      const found = await targetCall("POST", "runs/search", {
        experiment_ids: [experimentId],
        filter: `tags.\`sluice.run_id\` = '${runId}'`,
      });
      const run = found.body.runs?.[0];
      return run?.info.status === "FINISHED" ? run : undefined;
    });
    assert.equal(mirrored.info.run_name, "produce-text#1");
    assert.equal(typeof mirrored.info.end_time, "number");
    assert.ok(mirrored.info.end_time >= mirrored.info.start_time);
    assert.deepEqual(mirrored.data.params, [
      { key: "a.depth", value: "3" },
      { key: "a.text", value: "B" },
    ]);
    assert.deepEqual(
      mirrored.data.metrics.map((m: any) => [m.key, m.value, m.step]),
      [["a.rows", 3, 1]],
    );
    const tags = Object.fromEntries(mirrored.data.tags.map((t: any) => [t.key, t.value]));
    assert.equal(tags["sluice.run_id"], runId);
    assert.equal(tags["sluice.pipeline_id"], pipelineId);
    assert.equal(tags["sluice.project"], "origin");
    assert.equal(tags["sluice.status"], "SUCCEEDED");
    // Started and finished events both touched it, yet there is one mirrored run.
    const all = await targetCall("POST", "runs/search", { experiment_ids: [experimentId] });
    assert.equal(all.body.runs.filter((r: any) => r.data.tags.some((t: any) => t.key === "sluice.run_id" && t.value === runId)).length, 1);
  });

  it("mirrors a model version: the registered model, and the version with its ONNX file", async () => {
    const model = dataOf(
      await source.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId: sourceProject, name: "mirrored-model", description: "from the source" } },
      ),
    ).createRegisteredModel.registeredModel.id;
    const onnx = linearModel([4, 2], 1);
    const res = await fetch(`${source.url}/registered-models/${model}/versions?description=v1`, {
      method: "POST",
      headers: { authorization: `Bearer ${source.adminToken}`, "content-type": "application/octet-stream" },
      body: onnx,
    });
    assert.equal(res.status, 201);
    const { versionId } = (await res.json()) as { versionId: string };
    const mv = await eventually("the mirrored version", async () => {
      const got = await targetCall("GET", "model-versions/get", { name: "mirrored-model", version: "1" });
      return got.status === 200 ? got.body.model_version : undefined;
    });
    assert.equal(mv.status, "READY");
    assert.equal(mv.description, "v1");
    assert.match(mv.source, /^runs:\/[0-9a-f-]{36}\/sluice-model-v1$/);
    const tags = Object.fromEntries(mv.tags.map((t: any) => [t.key, t.value]));
    assert.equal(tags["sluice.origin_version_id"], versionId);
    assert.equal(tags["sluice.origin_status"], "PENDING_APPROVAL");
    const registered = (await targetCall("GET", "registered-models/get", { name: "mirrored-model" })).body.registered_model;
    assert.equal(registered.description, "from the source");
    // The target registered the very same ONNX bytes through its own normal path: pending approval there too.
    const targetVersion = dataOf(
      await target.gql(`query($id: ID!) { modelVersion(id: $id) { status } }`, { id: tags["sluice.version_id"] }),
    ).modelVersion;
    assert.equal(targetVersion.status, "PENDING_APPROVAL");
    const file = await fetch(`${target.url}/model-versions/${tags["sluice.version_id"]}/model.onnx`, {
      headers: { authorization: `Bearer ${target.adminToken}` },
    });
    assert.deepEqual(new Uint8Array(await file.arrayBuffer()), new Uint8Array(onnx));
  });

  it("never blocks or fails Sluice when the MLflow server is down: retries, then logs that it gave up", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const mirror = new MlflowMirror(
      source.server.services,
      { uri: "http://127.0.0.1:9", token: undefined, experiment: "nowhere", retries: 3, retryMs: 20 },
      pino({ level: "info" }, sink),
    );
    try {
      const { pipelineId } = await applyPipeline(source, sourceProject, {
        name: "unmirrored",
        stages: [{ name: "a", run: moduleRun("produce"), outputs: { out: text } }],
      });
      const started = Date.now();
      const runId = await triggerRun(source, pipelineId);
      assert.ok(Date.now() - started < 5_000);
      assert.equal((await waitForRun(source, runId)).status, "SUCCEEDED");
      await eventually("the mirror to give up", async () => mirror.stats.failed >= 2);
      const gaveUp = lines.map((l) => JSON.parse(l)).filter((l) => /gave up on run/.test(l.msg));
      assert.ok(gaveUp.length >= 1);
      assert.equal(gaveUp[0].job.attempt, 3);
      assert.match(gaveUp[0].err, /NETWORK_ERROR|fetch failed|ECONNREFUSED/);
      assert.ok(lines.some((l) => /retrying/.test(l)));
    } finally {
      await mirror.close();
    }
  });
});
