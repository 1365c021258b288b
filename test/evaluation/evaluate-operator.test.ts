import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { evaluateClassifier, evaluateRegressor, type ClassifierPredictions } from "../../src/evaluation";
import { mulberry32, normalSampler } from "../../src/training/data";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { logisticModel } from "../helpers/onnx-models";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";
import { assertNames } from "../helpers/names";

const FIXTURES = path.resolve(__dirname, "../../../test/registry/fixtures");

/** A regressor over two float columns fed separately: variable = 0.5·x1 + 1·y − 0.2. */
function regressionModel(): Uint8Array {
  const g = new GraphBuilder();
  g.node("Concat", ["x1", "y"], ["X"], { axis: { int: 1 } });
  g.node("LinearRegressor", ["X"], ["variable"], { coefficients: { floats: [0.5, 1] }, intercepts: { floats: [-0.2] } }, ML_DOMAIN);
  return g.build({
    inputs: [valueInfo("x1", "float", [null, 1]), valueInfo("y", "float", [null, 1])],
    outputs: [valueInfo("variable", "float", [null, 1])],
  });
}

/** P(class 1) per row, as onnxruntime computes it from float32 inputs. */
async function scores(bytes: Uint8Array, x0: number[], x1: number[]): Promise<Float64Array> {
  const session = await ort.InferenceSession.create(bytes);
  const n = x0.length;
  const out = await session.run({
    x0: new ort.Tensor("float32", Float32Array.from(x0), [n, 1]),
    x1: new ort.Tensor("float32", Float32Array.from(x1), [n, 1]),
  });
  await session.release();
  const p = out.probabilities!.data as Float32Array;
  return Float64Array.from({ length: n }, (_, i) => p[i * 2 + 1]!);
}

describe("the evaluate operator", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  const rows = { x0: [] as number[], x1: [] as number[], y: [] as number[], region: [] as string[], group: [] as string[] };
  const candidate = logisticModel([2, -1], 0.1);
  const champion = logisticModel([0.3, 0.4], 0);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-evaluate-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "evals");
    const uniform = mulberry32(7);
    const normal = normalSampler(uniform);
    const lines = ["x0,x1,region,grp,y"];
    for (let i = 0; i < 400; i++) {
      const x0 = Math.round(normal() * 1000) / 1000;
      const x1 = Math.round(normal() * 1000) / 1000;
      const p = 1 / (1 + Math.exp(-(2 * x0 - x1 + 0.1)));
      const y = uniform() < p ? 1 : 0;
      const region = i % 3 === 0 ? "north" : "south";
      const group = uniform() < 0.4 ? "a" : "b";
      Object.entries({ x0, x1, y, region, group }).forEach(([k, v]) => (rows as Record<string, unknown[]>)[k]!.push(v));
      lines.push(`${x0},${x1},${region},${group},${y}`);
    }
    fs.writeFileSync(path.join(dir, "holdout.csv"), lines.join("\n") + "\n");
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let versionId: string;
  let firstReportId: string;
  const REPORT = `id task metrics report modelArtifactId modelVersionId dataArtifactId datasetVersionId championArtifactId stageRunId createdAt`;

  it("refuses an evaluate stage without its report output or with unknown params", async () => {
    const spec = (params: Record<string, unknown>, outputs: Record<string, unknown>) => ({
      name: "broken-eval",
      stages: [
        {
          name: "ingest",
          run: { operator: "ingest" },
          params: { dataset: "holdout", paths: ["holdout.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "evaluate",
          run: { operator: "evaluate" },
          inputs: { model: { from: "ingest.data" }, data: { from: "ingest.data" } },
          params,
          outputs,
        },
      ],
    });
    await assert.rejects(applyPipeline(t, projectId, spec({ target: "y" }, {})), /stages\[1\]\.outputs\.report/);
    await assert.rejects(
      applyPipeline(t, projectId, spec({ target: "y", task: "ranking" }, { report: { kind: "Report" } })),
      /params\.task/,
    );
  });

  it("scores the model and the champion on the same rows and stores the report, then links it to the registered version", async () => {
    const { pipelineId } = await applyPipeline(
      t,
      projectId,
      {
        name: "evaluate-candidate",
        stages: [
          {
            name: "ingest",
            run: { operator: "ingest" },
            params: { dataset: "holdout", paths: ["holdout.csv"], format: "csv" },
            outputs: { data: { kind: "Dataset" } },
          },
          {
            name: "train",
            run: { module: "./stages.ts", export: "writeModel" },
            params: { b64: Buffer.from(candidate).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
          {
            name: "champion",
            run: { module: "./stages.ts", export: "writeModel" },
            params: { b64: Buffer.from(champion).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
          {
            name: "evaluate",
            run: { operator: "evaluate" },
            inputs: { model: { from: "train.model" }, data: { from: "ingest.data" }, champion: { from: "champion.model" } },
            params: { target: "y", slices: ["region"], sensitive: "grp", minCount: 10 },
            outputs: { report: { kind: "Report" } },
          },
        ],
      },
      FIXTURES,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const modelArtifactId = stage(run, "train").outputs[0]!.id;
    const championArtifactId = stage(run, "champion").outputs[0]!.id;

    // The same numbers, computed here from the same predictions.
    const yTrue = Int32Array.from(rows.y);
    const pred = async (bytes: Uint8Array): Promise<ClassifierPredictions> => ({
      kind: "binary",
      scores: await scores(bytes, rows.x0, rows.x1),
    });
    const expected = evaluateClassifier(yTrue, await pred(candidate), {
      slices: [{ column: "region", values: rows.region }],
      fairness: { column: "grp", values: rows.group },
      champion: { id: championArtifactId, predictions: await pred(champion) },
      minCount: 10,
    });

    const list = dataOf(
      await t.gql(`query($p: ID) { evaluationReports(filter: { projectId: $p }) { totalCount nodes { ${REPORT} } } }`, { p: projectId }),
    ).evaluationReports;
    assert.equal(list.totalCount, 1);
    const stored = list.nodes[0];
    assert.equal(stored.task, "binary");
    assert.equal(stored.stageRunId, stage(run, "evaluate").id);
    assert.equal(stored.modelArtifactId, modelArtifactId);
    assert.equal(stored.championArtifactId, championArtifactId);
    assert.equal(stored.modelVersionId, null, "not registered yet");
    const holdout = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "holdout") { latestVersion { id } } }`, { p: projectId }),
    ).dataset.latestVersion;
    assert.equal(stored.datasetVersionId, holdout.id);

    for (const name of ["roc_auc", "pr_auc", "accuracy", "f1", "log_loss", "brier_score"]) {
      const want = expected.metrics[name];
      assert.equal(typeof want, "number", name);
      assert.ok(Math.abs(stored.metrics[name] - want!) < 1e-9, `${name}: stored ${stored.metrics[name]}, expected ${want}`);
      assert.ok(Math.abs(stored.report.metrics[name] - want!) < 1e-9, `report.metrics.${name}`);
    }
    assert.ok(stored.metrics.roc_auc > 0.7, `a useful model: auc ${stored.metrics.roc_auc}`);
    assert.ok(
      Math.abs(stored.metrics.demographic_parity_difference - expected.fairness!.demographicParityDifference!) < 1e-12,
      "fairness aggregates are in the flat metrics",
    );
    const report = stored.report;
    assert.equal(report.rowCount, 400);
    assert.deepEqual(report.confusionMatrix, expected.confusionMatrix);
    assert.ok(report.curves.roc.points.length > 2, "ROC curve points");
    assert.ok(report.curves.pr.points.length > 2, "PR curve points");
    assert.ok(report.curves.calibration.bins.length > 0, "calibration curve");
    assert.deepEqual(report.slices[0].slices.map((s: { value: string; count: number }) => [s.value, s.count]).sort(), [
      ["north", rows.region.filter((r) => r === "north").length],
      ["south", rows.region.filter((r) => r === "south").length],
    ]);
    assert.equal(report.fairness.column, "grp");
    assert.deepEqual(report.fairness.groups.map((g: { value: string }) => g.value).sort(), ["a", "b"]);
    assert.equal(report.comparison.champion, championArtifactId);
    assert.ok(report.comparison.rows.length > 0);
    const aucRow = report.comparison.rows.find((r: { metric: string }) => r.metric === "roc_auc");
    const wantAuc = expected.comparison!.rows.find((r) => r.metric === "roc_auc")!;
    assert.ok(Math.abs(aucRow.champion - wantAuc.champion!) < 1e-9);
    assert.equal(aucRow.improved, true, "the candidate beats the worse champion");

    const byId = dataOf(await t.gql(`query($id: ID!) { evaluationReport(id: $id) { id task } }`, { id: stored.id })).evaluationReport;
    assert.equal(byId.id, stored.id);
    const byDataset = dataOf(
      await t.gql(`query($d: ID) { evaluationReports(filter: { datasetVersionId: $d }) { totalCount } }`, { d: holdout.id }),
    ).evaluationReports;
    assert.equal(byDataset.totalCount, 1);

    // Registering the evaluated file links the report and takes its metrics.
    const model = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name: "evaluated" } },
      ),
    ).createRegisteredModel.registeredModel;
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename
          ... on ModelVersionPayload { modelVersion { id metrics evaluationReports { totalCount nodes { id modelVersionId } } } }
          ... on Error { code message } } }`,
        { i: { registeredModelId: model.id, artifactId: modelArtifactId } },
      ),
    ).createModelVersion;
    assert.equal(created.__typename, "ModelVersionPayload", JSON.stringify(created));
    const version = created.modelVersion;
    versionId = version.id;
    firstReportId = stored.id;
    assert.deepEqual(version.metrics, stored.metrics);
    assert.equal(version.evaluationReports.totalCount, 1);
    assert.equal(version.evaluationReports.nodes[0].id, stored.id);
    assert.equal(version.evaluationReports.nodes[0].modelVersionId, version.id);
    const byVersion = dataOf(
      await t.gql(`query($v: ID) { evaluationReports(filter: { modelVersionId: $v }) { nodes { id } } }`, { v: version.id }),
    ).evaluationReports;
    assert.deepEqual(
      byVersion.nodes.map((n: { id: string }) => n.id),
      [stored.id],
    );

    // Metrics the caller gives win over the report's.
    const given = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { ... on ModelVersionPayload { modelVersion { metrics } } } }`,
        { i: { registeredModelId: model.id, artifactId: modelArtifactId, metrics: { custom: 1 } } },
      ),
    ).createModelVersion.modelVersion;
    assert.deepEqual(given.metrics, { custom: 1 });
  });

  it("attaches a report of an already registered file to its version, and evaluates regressors", async () => {
    const regressor = regressionModel();
    const { pipelineId } = await applyPipeline(
      t,
      projectId,
      {
        name: "evaluate-more",
        stages: [
          {
            name: "ingest",
            run: { operator: "ingest" },
            params: { dataset: "holdout", paths: ["holdout.csv"], format: "csv" },
            outputs: { data: { kind: "Dataset" } },
          },
          {
            name: "train",
            run: { module: "./stages.ts", export: "writeModel" },
            params: { b64: Buffer.from(candidate).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
          {
            name: "regressor",
            run: { module: "./stages.ts", export: "writeModel" },
            params: { b64: Buffer.from(regressor).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
          {
            name: "evaluate-first-100",
            run: { operator: "evaluate" },
            inputs: { model: { from: "train.model" }, data: { from: "ingest.data" } },
            params: { target: "y", maxRows: 100, threshold: 0.4 },
            outputs: { report: { kind: "Report" } },
          },
          {
            name: "evaluate-regressor",
            run: { operator: "evaluate" },
            inputs: { model: { from: "regressor.model" }, data: { from: "ingest.data" } },
            params: { target: "x0", slices: ["region"] },
            outputs: { report: { kind: "Report" } },
          },
        ],
      },
      FIXTURES,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));

    const reports = dataOf(
      await t.gql(`query($v: ID!) { modelVersion(id: $v) { evaluationReports { totalCount nodes { id modelVersionId report } } } }`, {
        v: versionId,
      }),
    ).modelVersion.evaluationReports;
    assert.equal(reports.totalCount, 2);
    assert.notEqual(reports.nodes[0].id, firstReportId, "newest first");
    assert.equal(reports.nodes[0].report.rowCount, 100);
    assert.equal(reports.nodes[0].report.threshold, 0.4);
    assert.ok(reports.nodes[0].modelVersionId, "the registered version is filled in at once");

    const reg = dataOf(
      await t.gql(`query($p: ID) { evaluationReports(filter: { projectId: $p }) { nodes { task stageRunId metrics report } } }`, {
        p: projectId,
      }),
    ).evaluationReports.nodes.find((n: { stageRunId: string }) => n.stageRunId === stage(run, "evaluate-regressor").id);
    assert.equal(reg.task, "regression");
    const session = await ort.InferenceSession.create(regressor);
    const n = rows.x0.length;
    const out = await session.run({
      x1: new ort.Tensor("float32", Float32Array.from(rows.x1), [n, 1]),
      y: new ort.Tensor("float32", Float32Array.from(rows.y), [n, 1]),
    });
    await session.release();
    const expected = evaluateRegressor(Float64Array.from(rows.x0), Float64Array.from(out.variable!.data as Float32Array), {
      slices: [{ column: "region", values: rows.region }],
    });
    for (const name of ["rmse", "mae", "r2"]) {
      assert.ok(Math.abs(reg.metrics[name] - expected.metrics[name]!) < 1e-9, `${name}: ${reg.metrics[name]} vs ${expected.metrics[name]}`);
    }
    assert.equal(
      reg.report.residuals.counts.reduce((a: number, b: number) => a + b, 0),
      n,
      "residual histogram",
    );
    assert.equal(reg.report.slices[0].column, "region");
  });

  it("fails the stage, naming the column, when the target is missing from the data", async () => {
    const { pipelineId } = await applyPipeline(
      t,
      projectId,
      {
        name: "evaluate-bad-target",
        stages: [
          {
            name: "ingest",
            run: { operator: "ingest" },
            params: { dataset: "holdout", paths: ["holdout.csv"], format: "csv" },
            outputs: { data: { kind: "Dataset" } },
          },
          {
            name: "train",
            run: { module: "./stages.ts", export: "writeModel" },
            params: { b64: Buffer.from(candidate).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
          {
            name: "evaluate",
            run: { operator: "evaluate" },
            inputs: { model: { from: "train.model" }, data: { from: "ingest.data" } },
            params: { target: "label_missing" },
            outputs: { report: { kind: "Report" } },
          },
        ],
      },
      FIXTURES,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "FAILED");
    assert.match(JSON.stringify(stage(run, "evaluate").failure), /label_missing/);
  });

  it("fails the stage, naming the input, when the model's signature does not match the data", async () => {
    const mismatched = logisticModel([1, 1], 0, ["x0", "income"]);
    const { pipelineId } = await applyPipeline(
      t,
      projectId,
      {
        name: "evaluate-bad-signature",
        stages: [
          {
            name: "ingest",
            run: { operator: "ingest" },
            params: { dataset: "holdout", paths: ["holdout.csv"], format: "csv" },
            outputs: { data: { kind: "Dataset" } },
          },
          {
            name: "train",
            run: { module: "./stages.ts", export: "writeModel" },
            params: { b64: Buffer.from(mismatched).toString("base64") },
            outputs: { model: { kind: "Model" } },
          },
          {
            name: "evaluate",
            run: { operator: "evaluate" },
            inputs: { model: { from: "train.model" }, data: { from: "ingest.data" } },
            params: { target: "y" },
            outputs: { report: { kind: "Report" } },
          },
        ],
      },
      FIXTURES,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "FAILED");
    const failure = stage(run, "evaluate").failure!;
    assertNames(failure.message, "income");
    assert.equal(failure.nonRetryable, true);
  });
});
