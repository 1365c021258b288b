import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline } from "../helpers/pipelines";
import { assertNames } from "../helpers/names";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { sluice } from "../cli/cli";

/**
 * The server checks operator stages' parameters against the operator contracts at apply (feature
 * views and suites in full) and a run's overrides at trigger, answering InvalidInputError with
 * each problem's field, before anything runs.
 */
describe("operator contracts at apply and trigger, over GraphQL", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "contracts");
  });
  after(() => t.close());

  const view = {
    name: "driver_stats",
    entities: ["driver"],
    timestampColumn: "ts",
    createdTimestampColumn: "written_at",
    source: { dataset: "trips" },
    features: [{ name: "km", expr: "km" }],
  };
  const spec = (name: string, viewParam: object = view) => ({
    name,
    stages: [
      {
        name: "ingest",
        run: { operator: "ingest" },
        params: { dataset: "trips", paths: ["trips.csv"], format: "csv" },
        outputs: { data: { kind: "Dataset" } },
      },
      {
        name: "features",
        run: { operator: "features.materialize" },
        inputs: { source: { from: "ingest.data" } },
        params: { view: viewParam },
        outputs: { features: { kind: "FeatureSet" } },
      },
      {
        name: "train",
        run: { operator: "train" },
        inputs: { data: { from: "ingest.data" } },
        params: { algorithm: "linear_regression", target: "km", features: ["km"] },
        outputs: { model: { kind: "Model" } },
      },
    ],
  });

  async function apply(s: object) {
    return dataOf(
      await t.gql(
        `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) {
           __typename ... on InvalidInputError { problems { field message } } } }`,
        { i: { projectId, spec: s } },
      ),
    ).applyPipeline as { __typename: string; problems?: Array<{ field: string; message: string }> };
  }

  it("refuses at apply a feature view whose key repeats its timestamp column", async () => {
    const res = await apply(spec("bad-view", { ...view, entities: ["ts"] }));
    assert.equal(res.__typename, "InvalidInputError");
    assert.deepEqual(
      res.problems!.map((p) => p.field),
      ["stages[1].params.view.entities[0]"],
    );
    const repeats = await apply(spec("bad-created", { ...view, createdTimestampColumn: "ts" }));
    assert.deepEqual(
      repeats.problems!.map((p) => p.field),
      ["stages[1].params.view.createdTimestampColumn"],
    );
  });

  it("refuses at trigger an override the operator does not take, naming the parameters it does", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, spec("good"));
    const trigger = async (params: object) =>
      dataOf(
        await t.gql(
          `mutation($i: TriggerRunInput!) { triggerRun(input: $i) {
             __typename ... on InvalidInputError { code problems { field message } } ... on RunPayload { run { id } } } }`,
          { i: { pipelineId, params } },
        ),
      ).triggerRun as { __typename: string; code?: string; problems?: Array<{ field: string; message: string }> };
    const res = await trigger({ train: { algoritm: "x" } });
    assert.equal(res.__typename, "InvalidInputError");
    assert.deepEqual(
      res.problems!.map((p) => p.field),
      ["params.train.algoritm"],
    );
    assertNames(res.problems![0].message, "algoritm", "algorithm", "target", "features");
    const view = await trigger({ features: { view: { name: "v" } } });
    assert.equal(view.__typename, "InvalidInputError");
    assert.ok(
      view.problems!.every((p) => p.field.startsWith("params.features.view.")),
      JSON.stringify(view.problems),
    );
    // No run was created by the refused triggers.
    const runs = dataOf(await t.gql(`query($id: ID!) { runs(filter: { pipelineId: $id }) { totalCount } }`, { id: pipelineId }));
    assert.equal(runs.runs.totalCount, 0);
  });

  it("sluice run --param with an unknown operator parameter exits 1 naming it and the known ones", async () => {
    const env = { SLUICE_URL: t.url, SLUICE_TOKEN: t.adminToken, SLUICE_PROJECT: "contracts" };
    const r = await sluice(["run", "good", "--param", "train.algoritm=x"], env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assertNames(r.stderr, "params.train.algoritm", "algorithm", "target");
  });
});
