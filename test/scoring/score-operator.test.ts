import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { queryJson, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { GraphBuilder, ML_DOMAIN, valueInfo } from "../../src/training/onnx/builder";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

const FIXTURES = path.resolve(__dirname, "../../../test/registry/fixtures");

/**
 * P(y=1) = sigmoid(2·x0 − x1 + 0.1), two float inputs fed separately, as Sluice's trainers export.
 * With `names`: recorded in metadata_props and mapped in the graph as `class_label`, the shape
 * Sluice's trainers exported before `label` held the names.
 */
function logisticModel(names?: [string, string]): Uint8Array {
  const g = new GraphBuilder();
  g.node("Concat", ["x0", "x1"], ["X"], { axis: { int: 1 } });
  g.node(
    "LinearClassifier",
    ["X"],
    ["label", "probabilities"],
    {
      coefficients: { floats: [2, -1] },
      intercepts: { floats: [0.1] },
      classlabels_ints: { ints: [0, 1] },
      post_transform: { string: "LOGISTIC" },
    },
    ML_DOMAIN,
  );
  if (names)
    g.node(
      "LabelEncoder",
      ["label"],
      ["class_label"],
      { keys_int64s: { ints: [0, 1] }, values_strings: { strings: names }, default_string: { string: "" } },
      ML_DOMAIN,
    );
  return g.build({
    inputs: [valueInfo("x0", "float", [null, 1]), valueInfo("x1", "float", [null, 1])],
    outputs: [
      valueInfo("label", "int64", [null]),
      valueInfo("probabilities", "float", [null, 2]),
      ...(names ? [valueInfo("class_label", "string", [null])] : []),
    ],
    ...(names ? { metadata: { "sluice.class_labels": JSON.stringify(names) } } : {}),
  });
}

// More than the DuckDB appender buffers before it flushes (which once ended the read stream early).
const ROWS = 250_000;

describe("the score operator (batch scoring)", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-score-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "scoring");
    const lines = ["id,x0,x1,region"];
    for (let i = 0; i < ROWS; i++) lines.push(`${i},${((i % 97) - 48) / 20},${((i * 7) % 31) / 10 - 1.5},${i % 3 ? "north" : "south"}`);
    fs.writeFileSync(path.join(dir, "batch.csv"), lines.join("\n") + "\n");
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const pipeline = (params: Record<string, unknown>, model = logisticModel()) => ({
    name: `score-${Object.keys(params).length}`,
    stages: [
      {
        name: "ingest",
        run: { operator: "ingest" },
        params: { dataset: "batch", paths: ["batch.csv"], format: "csv" },
        outputs: { data: { kind: "Dataset" } },
      },
      {
        name: "train",
        run: { module: "./stages.ts", export: "writeModel" },
        params: { b64: Buffer.from(model).toString("base64") },
        outputs: { model: { kind: "Model" } },
      },
      {
        name: "score",
        run: { operator: "score" },
        inputs: { model: { from: "train.model" }, data: { from: "ingest.data" } },
        params,
        outputs: { predictions: { kind: "Dataset" } },
      },
    ],
  });

  it("scores every row in chunks into a predictions dataset, each row beside its kept columns", async () => {
    // A chunk size that does not divide the row count or DuckDB's 2,048-row vectors.
    const { pipelineId } = await applyPipeline(
      t,
      projectId,
      pipeline({ dataset: "batch-scores", keep: ["id", "region"], chunkRows: 9_973 }),
      FIXTURES,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])));
    const output = stage(run, "score").outputs[0]!;
    const version = dataOf(
      await t.gql(
        `query($p: ID) { dataset(projectId: $p, name: "batch-scores") { versions { nodes { version rowCount schema { name type } } } } }`,
        {
          p: projectId,
        },
      ),
    ).dataset.versions.nodes[0];
    assert.equal(Number(version.rowCount), ROWS);
    assert.deepEqual(
      version.schema.map((c: any) => c.name),
      ["id", "region", "prediction", "probability_0", "probability_1"],
    );
    const file = await t.server.services.artifacts.localPath(
      (await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [output.id]))[0].uri,
    );
    const source = path.join(dir, "batch.csv");
    const rows = await withDuckDb((conn) =>
      queryJson(
        conn,
        `SELECT p.id, p.prediction, p.probability_1, s.x0, s.x1 FROM read_parquet(${sqlString(file)}) p
           JOIN read_csv(${sqlString(source)}) s ON s.id = p.id ORDER BY p.id`,
      ),
    );
    assert.equal(rows.length, ROWS);
    let worst = 0;
    for (const r of rows) {
      const expected = 1 / (1 + Math.exp(-(2 * Number(r.x0) - Number(r.x1) + 0.1)));
      worst = Math.max(worst, Math.abs(Number(r.probability_1) - expected));
      if (Math.abs(expected - 0.5) > 1e-6)
        assert.equal(Number(r.prediction), expected > 0.5 ? 1 : 0, `row ${r.id}: ${JSON.stringify(r)} expected ${expected}`);
    }
    assert.ok(worst < 1e-6, `probabilities within float precision of the formula (worst ${worst})`);
  });

  it("a classifier with class names writes the name as prediction and the index as prediction_index, whatever its graph's shape", async () => {
    const spec = { ...pipeline({ dataset: "named-scores", keep: ["id"] }, logisticModel(["kept", "lost"])), name: "score-named" };
    const { pipelineId } = await applyPipeline(t, projectId, spec, FIXTURES);
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure?.message])));
    const version = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "named-scores") { versions { nodes { schema { name type } } } } }`, {
        p: projectId,
      }),
    ).dataset.versions.nodes[0];
    assert.deepEqual(
      version.schema.map((c: any) => [c.name, c.type]),
      [
        ["id", "BIGINT"],
        ["prediction", "VARCHAR"],
        ["probability_0", "DOUBLE"],
        ["probability_1", "DOUBLE"],
        ["prediction_index", "BIGINT"],
      ],
      "no class_label column: its names are the prediction",
    );
    const file = await t.server.services.artifacts.localPath(
      (await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [stage(run, "score").outputs[0]!.id]))[0].uri,
    );
    const counts = await withDuckDb((conn) =>
      queryJson(
        conn,
        `SELECT prediction, prediction_index, count(*)::INTEGER AS n, bool_and(abs(probability_1 - 0.5) < 1e-6 OR (probability_1 > 0.5) = (prediction_index = 1)) AS agree
           FROM read_parquet(${sqlString(file)}) GROUP BY ALL ORDER BY prediction`,
      ),
    );
    assert.deepEqual(
      counts.map((r) => [r.prediction, Number(r.prediction_index), r.agree]),
      [
        ["kept", 0, true],
        ["lost", 1, true],
      ],
    );
    assert.equal(
      counts.reduce((n, r) => n + Number(r.n), 0),
      ROWS,
    );
  });

  it("fails clearly when the data lacks a model input or keep names a missing column", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, pipeline({ dataset: "bad-scores", keep: ["id", "nope"] }), FIXTURES);
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "FAILED");
    const failure = stage(run, "score").failure!;
    assertNames(failure.message, "keep", "nope");
    assert.equal(failure.nonRetryable, true);
    const missingOutput = await t.gql(
      `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
      { i: { projectId, spec: { ...pipeline({}), name: "score-no-dataset" }, baseDir: FIXTURES } },
    );
    const problems = dataOf(missingOutput).applyPipeline.problems.map((p: any) => p.field);
    assert.ok(problems.includes("stages[2].params.dataset"), JSON.stringify(problems));
  });
});
