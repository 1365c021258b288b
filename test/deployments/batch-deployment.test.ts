import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { queryJson, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { logisticModel } from "../helpers/onnx-models";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, uploadVersion } from "../serving/helpers";
import { deployed } from "./helpers";

/**
 * A BATCH deployment names the model batch jobs score with: a `score` stage whose `model` input
 * is `{ deployment: "<endpoint>" }` takes the version the endpoint serves when the stage starts.
 */
describe("batch deployments: score stages take their model from an endpoint", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-batch-ep-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "batch-endpoints");
    const lines = ["id,x0,x1"];
    for (let i = 0; i < 500; i++) lines.push(`${i},${((i % 41) - 20) / 10},${((i * 7) % 13) / 5 - 1}`);
    fs.writeFileSync(path.join(dir, "rows.csv"), lines.join("\n") + "\n");
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const pipeline = (deployment: string) => ({
    name: `nightly-${deployment}`,
    stages: [
      {
        name: "ingest",
        run: { operator: "ingest" },
        params: { dataset: "rows", paths: ["rows.csv"], format: "csv" },
        outputs: { data: { kind: "Dataset" } },
      },
      {
        name: "score",
        run: { operator: "score" },
        inputs: { model: { deployment }, data: { from: "ingest.data" } },
        params: { dataset: "rows-scored", keep: ["id"] },
        outputs: { predictions: { kind: "Dataset" } },
      },
    ],
  });

  /** P(y=1) of the scored rows, by id, from the score stage's output. */
  async function scored(run: Awaited<ReturnType<typeof waitForRun>>): Promise<Map<number, number>> {
    const output = stage(run, "score").outputs[0]!;
    const [{ uri }] = await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [output.id]);
    const file = await t.server.services.artifacts.localPath(uri);
    const rows = await withDuckDb((conn) => queryJson(conn, `SELECT id, probability_1 FROM read_parquet(${sqlString(file)})`));
    return new Map(rows.map((r) => [Number(r.id), Number(r.probability_1)]));
  }
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

  it("scores with the endpoint's version when the stage starts, and follows a redeploy", async () => {
    const modelId = await createModel(t, projectId, "risk", true);
    await uploadVersion(t, modelId, logisticModel([2, -1], 0.5));
    await uploadVersion(t, modelId, logisticModel([-1, 3], -0.25));
    const ep = await deployed(t, "deployModel", "DeployModelInput", {
      projectId,
      name: "risk-nightly",
      model: "risk",
      version: 1,
      mode: "BATCH",
    });
    assert.equal(ep.status, "BATCH");

    const { pipelineId } = await applyPipeline(t, projectId, pipeline("risk-nightly"), dir);
    const first = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(first.status, "SUCCEEDED", JSON.stringify(first.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])));
    const csv = fs
      .readFileSync(path.join(dir, "rows.csv"), "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(",").map(Number));
    const v1 = await scored(first);
    assert.equal(v1.size, 500);
    for (const [id, x0, x1] of csv) assert.ok(Math.abs(v1.get(id!)! - sigmoid(2 * x0! - x1! + 0.5)) < 1e-5, `row ${id} by version 1`);

    await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "risk-nightly", model: "risk", version: 2, mode: "BATCH" });
    const second = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(second.status, "SUCCEEDED");
    const v2 = await scored(second);
    for (const [id, x0, x1] of csv) assert.ok(Math.abs(v2.get(id!)! - sigmoid(-x0! + 3 * x1! - 0.25)) < 1e-5, `row ${id} by version 2`);
  });

  it("refuses to start a run whose deployment input names no endpoint, naming the input", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, pipeline("no-such-endpoint"), dir);
    const res = dataOf(
      await t.gql(
        `mutation($i: TriggerRunInput!) { triggerRun(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
        { i: { pipelineId } },
      ),
    ).triggerRun;
    assert.equal(res.__typename, "InvalidInputError");
    assert.deepEqual(res.problems, [
      { field: "stages.score.inputs.model.deployment", message: 'there is no deployment "no-such-endpoint" in this project' },
    ]);
  });

  it("refuses a deployment input that also gives another source, at apply time", async () => {
    const spec = pipeline("risk-nightly");
    (spec.stages[1]!.inputs as Record<string, unknown>).model = { deployment: "risk-nightly", from: "ingest.data" };
    const res = dataOf(
      await t.gql(
        `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
        { i: { projectId, spec, baseDir: dir } },
      ),
    ).applyPipeline;
    assert.equal(res.__typename, "InvalidInputError");
    assert.equal(res.problems[0].field, "stages[1].inputs.model");
  });
});
