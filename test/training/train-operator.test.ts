import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { mulberry32, normalSampler } from "../../src/training/data";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

/**
 * The `train` operator in a real pipeline: ingest a synthetic CSV, train three kinds of model,
 * check each exported graph in onnxruntime on raw inputs, and register one from its artifact.
 */

const ROWS = 2000;
const COLORS = ["red", "green", "blue"];

/** Seeded synthetic data: x1, x2 (10% missing), color (5% missing), flag; a binary label and a real target. */
function syntheticCsv(): string {
  const rand = mulberry32(7);
  const normal = normalSampler(rand);
  const lines = ["x1,x2,color,flag,label,amount"];
  for (let i = 0; i < ROWS; i++) {
    const x1 = normal();
    const x2 = normal();
    const c = Math.floor(rand() * 3);
    const flag = rand() < 0.5;
    const colorEffect = [1, 0, -1][c]!;
    const logit = 2 * x1 - 1.5 * x2 + 1.2 * colorEffect + (flag ? 0.5 : -0.5);
    const label = rand() < 1 / (1 + Math.exp(-logit)) ? "lost" : "kept";
    const amount = 3 * x1 - 2 * x2 + 2 * colorEffect + (flag ? 1 : 0) + 0.3 * normal();
    const x2s = rand() < 0.1 ? "" : x2.toFixed(4);
    const colors = rand() < 0.05 ? "" : COLORS[c]!;
    lines.push(`${x1.toFixed(4)},${x2s},${colors},${flag},${label},${amount.toFixed(4)}`);
  }
  return lines.join("\n") + "\n";
}

describe("the train operator in a pipeline", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-train-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "training");
    fs.writeFileSync(path.join(dir, "customers.csv"), syntheticCsv());
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const features = ["x1", "x2", "color", "flag"];
  const ingest = {
    name: "ingest",
    run: { operator: "ingest" },
    params: { dataset: "customers", paths: ["customers.csv"], format: "csv" },
    outputs: { data: { kind: "Dataset" } },
  };
  const trainStage = (name: string, params: Record<string, unknown>) => ({
    name,
    run: { operator: "train" },
    inputs: { data: { from: "ingest.data" } },
    params,
    outputs: { model: { kind: "Model" } },
  });

  const artifact = async (id: string) =>
    dataOf(await t.gql(`query($id: ID!) { artifact(id: $id) { kind metadata } }`, { id })).artifact as {
      kind: string;
      metadata: Record<string, any>;
    };

  /** Raw rows, as a caller would send them: numbers (NaN when missing) and strings ("" when missing). */
  function feeds(signature: { inputs: Array<{ name: string; type: string }> }, rows: Array<Record<string, number | string>>) {
    const out: Record<string, ort.Tensor> = {};
    for (const input of signature.inputs) {
      const values = rows.map((r) => r[input.name]!);
      out[input.name] =
        input.type === "float"
          ? new ort.Tensor("float32", Float32Array.from(values as number[]), [rows.length, 1])
          : new ort.Tensor("string", values as string[], [rows.length, 1]);
    }
    return out;
  }
  const raw = [
    { x1: 2, x2: -1, color: "red", flag: "true" },
    { x1: -2, x2: 1.5, color: "blue", flag: "false" },
    { x1: 0.1, x2: NaN, color: "", flag: "true" },
  ];

  it("trains logistic regression, GBT and a regressor, exports verified ONNX graphs and registers one", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "train-models",
      stages: [
        ingest,
        trainStage("logreg", { algorithm: "logistic_regression", target: "label", features, hyperparameters: { l2: 1 } }),
        trainStage("gbt", {
          algorithm: "gbt_classifier",
          target: "label",
          features,
          hyperparameters: { maxIter: 40, learningRate: 0.2, maxDepth: 3 },
        }),
        trainStage("regress", {
          algorithm: "gbt_regressor",
          target: "amount",
          features,
          preprocessing: [{ column: "x2", impute: "median" }],
          hyperparameters: { maxIter: 60, learningRate: 0.2, earlyStopping: true, nIterNoChange: 5 },
        }),
        trainStage("linreg", { algorithm: "linear_regression", target: "amount", features, validationFraction: 0.25, seed: 3 }),
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));

    const logreg = await artifact(stage(run, "logreg").outputs[0]!.id);
    assert.equal(logreg.kind, "Model");
    const m = logreg.metadata;
    assert.equal(m.format, "onnx");
    assert.equal(m.algorithm, "logistic_regression");
    assert.deepEqual(m.classes, ["kept", "lost"], 'sorted labels; class 1 is "lost"');
    assert.deepEqual(m.features, features);
    assert.equal(m.target, "label");
    assert.equal(m.trainRows + m.validationRows, ROWS);
    assert.equal(m.validationRows, 400);
    assert.ok(m.metrics.roc_auc > 0.85, `AUC ${m.metrics.roc_auc}`);
    assert.ok(m.metrics.accuracy > 0.75, `accuracy ${m.metrics.accuracy}`);
    assert.ok(m.metrics.log_loss < 0.5, `log loss ${m.metrics.log_loss}`);
    assert.ok(m.onnxMaxAbsDiff <= 1e-5);
    assert.deepEqual(
      m.signature.inputs.map((i: any) => [i.name, i.type]),
      [
        ["x1", "float"],
        ["x2", "float"],
        ["color", "string"],
        ["flag", "string"],
      ],
    );

    const gbt = (await artifact(stage(run, "gbt").outputs[0]!.id)).metadata;
    assert.equal(gbt.algorithm, "gbt_classifier");
    assert.ok(gbt.metrics.roc_auc > 0.8, `GBT AUC ${gbt.metrics.roc_auc}`);
    const regress = (await artifact(stage(run, "regress").outputs[0]!.id)).metadata;
    assert.equal(regress.classes, undefined);
    assert.ok(regress.metrics.r2 > 0.8, `GBT r2 ${regress.metrics.r2}`);
    assert.ok(regress.metrics.rmse > 0 && regress.metrics.mae > 0);
    const linreg = (await artifact(stage(run, "linreg").outputs[0]!.id)).metadata;
    assert.equal(linreg.validationRows, 500);
    assert.ok(linreg.metrics.r2 > 0.8, `linear r2 ${linreg.metrics.r2}`);

    // Register the logistic model from its artifact: signature read from the graph, lineage from the run.
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name: "churn" } },
      ),
    ).createRegisteredModel.registeredModel;
    const res = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename
           ... on ModelVersionPayload { modelVersion { version source signature metrics lineage downloadPath } } ... on Error { code message } } }`,
        { i: { registeredModelId: created.id, artifactId: stage(run, "logreg").outputs[0]!.id, metrics: m.metrics } },
      ),
    ).createModelVersion;
    assert.equal(res.__typename, "ModelVersionPayload", JSON.stringify(res));
    const v = res.modelVersion;
    assert.equal(v.source, "RUN");
    assert.deepEqual(
      v.signature.inputs.map((i: any) => i.name),
      features,
      "the version takes the raw feature columns",
    );
    assert.deepEqual(
      v.signature.outputs.map((o: any) => o.name),
      ["label", "probabilities", "label_index"],
      "label holds the class names (skl2onnx's convention); the class index is kept as label_index",
    );
    assert.equal(v.metrics.roc_auc, m.metrics.roc_auc);
    const ds = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "customers") { latestVersion { id } } }`, { p: projectId }),
    ).dataset;
    assert.deepEqual(v.lineage.datasetVersionIds, [ds.latestVersion.id]);

    // The registered file predicts from raw values, missing ones included.
    const file = await fetch(`${t.url}${v.downloadPath}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(file.status, 200);
    const session = await ort.InferenceSession.create(new Uint8Array(await file.arrayBuffer()));
    try {
      const out = await session.run(feeds(m.signature, raw));
      const p = out.probabilities!.data as Float32Array;
      assert.equal(p.length, 6);
      assert.ok(p[1]! > 0.9, `a clear positive: ${p[1]}`);
      assert.ok(p[3]! < 0.1, `a clear negative: ${p[3]}`);
      assert.ok(Number.isFinite(p[5]!) && Math.abs(p[4]! + p[5]! - 1) < 1e-5);
      assert.deepEqual(Array.from(out.label_index!.data as BigInt64Array, Number).slice(0, 2), [1, 0]);
      assert.deepEqual((out.label!.data as string[]).slice(0, 2), ["lost", "kept"], "the downloaded file answers the class names itself");
    } finally {
      await session.release();
    }

    // The GBT regressor's graph also takes raw inputs, a missing x2 (NaN) going down the trees' learned side.
    const amount = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name: "amount" } },
      ),
    ).createRegisteredModel.registeredModel;
    const rv = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { ... on ModelVersionPayload { modelVersion { signature metrics downloadPath } } } }`,
        { i: { registeredModelId: amount.id, artifactId: stage(run, "regress").outputs[0]!.id } },
      ),
    ).createModelVersion.modelVersion;
    assert.deepEqual(
      rv.signature.outputs.map((o: any) => o.name),
      ["variable"],
    );
    assert.equal(rv.metrics.r2, regress.metrics.r2, "without given metrics, the train stage's validation metrics are the version's");
    const regBytes = await fetch(`${t.url}${rv.downloadPath}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    const reg = await ort.InferenceSession.create(new Uint8Array(await regBytes.arrayBuffer()));
    try {
      const y = (await reg.run(feeds(regress.signature, raw))).variable!.data as Float32Array;
      assert.equal(y.length, 3);
      assert.ok(y.every((x) => Number.isFinite(x)));
      assert.ok(y[0]! > y[1]!, `x1=2, x2=-1, red (${y[0]}) is above x1=-2, x2=1.5, blue (${y[1]})`);
    } finally {
      await reg.release();
    }
  });

  it("fails a stage whose target column does not exist with a clear message, without retrying", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "train-bad",
      stages: [
        ingest,
        {
          ...trainStage("train", { algorithm: "logistic_regression", target: "no_such_column", features }),
          retries: { max: 2, initialDelayMs: 10 },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "FAILED");
    const s = stage(run, "train");
    assert.equal(s.status, "FAILED");
    assertNames(s.failure?.message, "no_such_column");
    assert.equal(s.failure?.nonRetryable, true);
    assert.equal(s.attempts.length, 1, "a bad parameter is not retried");
  });

  it("fails clearly, registering nothing, on a training set of NaN, a single-class label, a missing label column", async () => {
    const write = (name: string, lines: string[]) => fs.writeFileSync(path.join(dir, name), lines.join("\n") + "\n");
    const rows = (f: (i: number) => string) => Array.from({ length: 200 }, (_, i) => f(i));
    write("nan.csv", ["x1,x2,label", ...rows((i) => `,,${i % 2 ? "a" : "b"}`)]);
    write("one-class.csv", ["x1,x2,label", ...rows((i) => `${i},${i % 7},a`)]);
    write("no-label.csv", ["x1,x2,other", ...rows((i) => `${i},${i % 7},${i % 2}`)]);
    const attempt = async (file: string, algorithm: string) => {
      const { pipelineId } = await applyPipeline(t, projectId, {
        name: `train-${file.replace(/\.csv$/, "")}-${algorithm.replace(/_/g, "-")}`,
        stages: [
          { ...ingest, params: { dataset: file.replace(/\.csv$/, ""), paths: [file], format: "csv" } },
          trainStage("train", { algorithm, target: "label", features: ["x1", "x2"] }),
        ],
      });
      const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
      assert.equal(run.status, "FAILED", `${file} with ${algorithm}`);
      const s = stage(run, "train");
      assert.equal(s.failure?.nonRetryable, true);
      assert.equal(s.outputs.length, 0, "no model output, so nothing can be registered");
      return s.failure!;
    };
    for (const algorithm of ["logistic_regression", "gbt_classifier"]) {
      // The preprocessing refuses the column: its typed error's code and field reach the failure.
      const nan = await attempt("nan.csv", algorithm);
      assert.equal(nan.details?.code, "BAD_USER_INPUT");
      assert.deepEqual(
        (nan.details?.problems as { field: string }[]).map((p) => p.field),
        ["x1"],
      );
      assertNames(nan.message, "x1");
      assertNames((await attempt("one-class.csv", algorithm)).message, "label", "1");
    }
    assertNames((await attempt("no-label.csv", "logistic_regression")).message, "label");
  });

  it("refuses unknown parameters at apply time", async () => {
    await assert.rejects(
      applyPipeline(t, projectId, {
        name: "train-typo",
        stages: [ingest, trainStage("train", { algorithm: "svm", target: "label", features })],
      }),
      /stages\[1\]\.params\.algorithm/,
    );
  });
});
