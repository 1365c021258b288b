import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { loadSpecFile } from "../../src/pipelines/load";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const REPO = path.resolve(__dirname, "../../..");
const SPEC = path.join(REPO, "examples/python-trainer/pipeline.ts");
const PYTHON = "/usr/bin/python3";

/** Why the example cannot run here (the Debian packages it needs), or null when it can. */
function missingPython(): string | null {
  const probe = spawnSync(PYTHON, ["-c", "import sklearn, onnx, numpy"], { encoding: "utf8" });
  if (probe.error) return `${PYTHON} not found: install Debian's python3-sklearn and python3-onnx`;
  if (probe.status !== 0) {
    const missing = /No module named '([^']+)'/.exec(probe.stderr)?.[1] ?? "sklearn or onnx";
    return `${PYTHON} cannot import ${missing}: apt-get install python3-sklearn python3-onnx`;
  }
  return null;
}

/**
 * examples/python-trainer end to end: an external Python trainer (process runner) writes an ONNX
 * model and reports metrics; the Model output registers like a built-in trainer's, and the
 * registered file reproduces scikit-learn's own probabilities in onnxruntime.
 */
describe("examples/python-trainer", () => {
  const skipReason = missingPython();
  let t: TestServer;
  let projectId: string;
  let previousRoots: string | undefined;
  before(async () => {
    if (skipReason) return;
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = REPO;
    // The trainer and the module stage run as project code does in production: sandboxed, when bubblewrap is there.
    const sandbox = fs.existsSync("/usr/bin/bwrap") ? { SLUICE_SANDBOX_BWRAP: "/usr/bin/bwrap", SLUICE_TRUSTED_CODE: "0" } : {};
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: REPO, ...sandbox } });
    projectId = await seedProject(t, "python-trainer");
  });
  after(async () => {
    if (skipReason) return;
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
  });

  it("trains with scikit-learn in Python, registers the ONNX model, and onnxruntime agrees with the script", async (ctx) => {
    if (skipReason) {
      ctx.skip(skipReason);
      return;
    }
    const { spec, baseDir } = await loadSpecFile(SPEC);
    const { pipelineId } = await applyPipeline(t, projectId, spec as unknown as Record<string, unknown>, baseDir);
    const run = await waitForRun(t, await triggerRun(t, pipelineId, { "to-csv": { sample: 5000 } }), 120_000);
    assert.equal(
      run.status,
      "SUCCEEDED",
      JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message, s.attempts.map((a) => a.failure)])),
    );
    const train = stage(run, "train");
    const modelOut = train.outputs.find((o) => o.outputName === "model")!;
    const predictionsOut = train.outputs.find((o) => o.outputName === "predictions")!;
    assert.equal(modelOut.kind, "Model");

    // The metrics the script printed (`::metric`) are recorded as the train stage's run metrics.
    const points = dataOf(await t.gql(`query($id: ID!) { run(id: $id) { metrics { key value stageRunId } } }`, { id: run.id })).run
      .metrics as Array<{ key: string; value: number; stageRunId: string | null }>;
    const reported = Object.fromEntries(points.filter((p) => p.stageRunId === train.id).map((p) => [p.key, p.value]));
    assert.deepEqual(Object.keys(reported).sort(), ["accuracy", "log_loss", "roc_auc"]);

    const created = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name: "delays-sklearn" } },
      ),
    ).createRegisteredModel.registeredModel;
    const res = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename
           ... on ModelVersionPayload { modelVersion { version source status signature metrics lineage downloadPath } } ... on Error { code message } } }`,
        { i: { registeredModelId: created.id, artifactId: modelOut.id } },
      ),
    ).createModelVersion;
    assert.equal(res.__typename, "ModelVersionPayload", JSON.stringify(res));
    const v = res.modelVersion;
    assert.equal(v.source, "RUN");
    assert.equal(v.status, "PENDING_APPROVAL");
    assert.deepEqual(
      v.signature.inputs.map((i: any) => [i.name, i.type, i.shape]),
      [
        ["hour", "float", [null, 1]],
        ["day_of_week", "float", [null, 1]],
        ["distance", "float", [null, 1]],
      ],
    );
    assert.deepEqual(
      v.signature.outputs.map((o: any) => [o.name, o.type]),
      [
        ["label", "int64"],
        ["probabilities", "float"],
      ],
    );
    // No metrics given: the version takes those the stage reported.
    assert.deepEqual(v.metrics, reported);
    ctx.diagnostic(`validation metrics reported by train.py: ${JSON.stringify(v.metrics)}`);
    assert.ok(v.metrics.roc_auc > 0.55 && v.metrics.roc_auc < 1, `roc_auc ${v.metrics.roc_auc}`);
    assert.ok(v.metrics.log_loss > 0);
    assert.equal(v.lineage.stage, "train");
    assert.equal(v.lineage.codeVersion, "python-trainer/1");
    assert.equal(v.lineage.datasetVersionIds.length, 1, "the flights-january version it was trained from");

    // The registered file, run by onnxruntime, reproduces the script's own probabilities.
    const predictionsUri = (await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [predictionsOut.id]))[0]
      .uri;
    const predictions = JSON.parse(fs.readFileSync(await t.server.services.artifacts.localPath(predictionsUri), "utf8")) as {
      features: string[];
      rows: number[][];
      probabilities: number[];
    };
    assert.deepEqual(predictions.features, ["hour", "day_of_week", "distance"]);
    assert.ok(predictions.rows.length >= 10);
    const file = await fetch(`${t.url}${v.downloadPath}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(file.status, 200);
    const session = await ort.InferenceSession.create(new Uint8Array(await file.arrayBuffer()));
    try {
      const n = predictions.rows.length;
      const feeds: Record<string, ort.Tensor> = {};
      predictions.features.forEach((name, j) => {
        feeds[name] = new ort.Tensor(
          "float32",
          Float32Array.from(predictions.rows, (r) => r[j]!),
          [n, 1],
        );
      });
      const out = await session.run(feeds);
      const p = out.probabilities!.data as Float32Array;
      const labels = out.label!.data as BigInt64Array;
      for (let i = 0; i < n; i++) {
        const want = predictions.probabilities[i]!;
        assert.ok(Math.abs(p[2 * i + 1]! - want) <= 1e-5, `row ${i}: onnxruntime ${p[2 * i + 1]}, scikit-learn ${want}`);
        assert.ok(Math.abs(p[2 * i]! + p[2 * i + 1]! - 1) <= 1e-5);
        if (Math.abs(want - 0.5) > 1e-5) assert.equal(Number(labels[i]), want > 0.5 ? 1 : 0, `label of row ${i}`);
      }
    } finally {
      await session.release();
    }
  });
});
