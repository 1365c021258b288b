import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { eventually } from "../helpers/eventually";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, infer, setChampion } from "./helpers";

/**
 * Enrichment read as of another instant than now (`parameters.features_as_of`), as a replay of
 * past traffic needs: the view's rows are from January 2026 with a two-day TTL, its latest row
 * per driver on 2026-01-20 08:00.
 */

const PREDICTIONS = `query($p: ID!, $m: String!) { predictions(projectId: $p, model: $m, first: 100) { nodes { requestId rowIndex inputs } } }`;

/** A counter's value in /metrics, for the line whose labels include every one of `labels`. */
async function counter(t: TestServer, name: string, labels: string[]): Promise<number> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("online-feature enrichment as of a given instant", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  const path_ = "/v2/models/drivers/infer";
  const send = (body: unknown) => infer(t, path_, body, { project: projectId });
  const logged = async (requestId: string) => {
    return eventually(async () => {
      const rows = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "drivers" }))
        .predictions.nodes.filter((r: any) => r.requestId === requestId)
        .sort((a: any, b: any) => a.rowIndex - b.rowIndex);
      assert.ok(rows.length > 0, `the prediction log has ${requestId}`);
      return rows.map((r: any) => r.inputs);
    });
  };
  const asOf = (instant: string, id: string) =>
    send({
      id,
      instances: [
        { driver: "ann", hour: 9 },
        { driver: "bob", hour: 18 },
      ],
      parameters: { features_as_of: instant },
    });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-enrich-asof-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "enrich-as-of");

    // Trips of three drivers; long trips make a late arrival likely.
    const day = (d: number, h: number) => `2026-01-${String(d).padStart(2, "0")} ${String(h).padStart(2, "0")}:00:00`;
    const trips = ["driver,ts,km"];
    const labels = ["driver,event_timestamp,hour,late"];
    const drivers = ["ann", "bob", "cat"];
    const kmOf = (driver: string, d: number) => (driver === "ann" ? 40 + d : driver === "bob" ? 5 + (d % 3) : 15 + (d % 5));
    for (let d = 1; d <= 20; d++) for (const driver of drivers) trips.push(`${driver},${day(d, 8)},${kmOf(driver, d)}`);
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let d = 2; d <= 20; d++) {
      for (const driver of drivers) {
        for (let k = 0; k < 4; k++) {
          const hour = 9 + Math.floor(rand() * 12);
          const p = 1 / (1 + Math.exp(-(kmOf(driver, d) - 20) / 8 - (hour - 14) / 4));
          labels.push(`${driver},${day(d, hour)},${hour},${rand() < p ? 1 : 0}`);
        }
      }
    }
    fs.writeFileSync(path.join(dir, "trips.csv"), trips.join("\n") + "\n");
    fs.writeFileSync(path.join(dir, "labels.csv"), labels.join("\n") + "\n");

    const view = {
      name: "driver_stats",
      entities: ["driver"],
      timestampColumn: "ts",
      // Two days: against today's clock the January 2026 rows are long expired.
      ttlSeconds: 2 * 24 * 3600,
      source: { dataset: "trips" },
      features: [
        { name: "km", expr: "km", type: "DOUBLE" },
        { name: "km_sum_2d", aggregation: "sum", expr: "km", window: "2d" },
      ],
    };
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "drivers",
      stages: [
        {
          name: "ingest-trips",
          run: { operator: "ingest" },
          params: { dataset: "trips", paths: ["trips.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "features",
          run: { operator: "features.materialize" },
          inputs: { source: { from: "ingest-trips.data" } },
          params: { view },
          outputs: { features: { kind: "FeatureSet" } },
        },
        {
          name: "ingest-labels",
          run: { operator: "ingest" },
          params: { dataset: "labels", paths: ["labels.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "training-set",
          run: { operator: "features.trainingSet" },
          inputs: { entities: { from: "ingest-labels.data" }, drivers: { from: "features.features" } },
          outputs: { trainingSet: { kind: "FeatureSet" } },
        },
        {
          name: "train",
          run: { operator: "train" },
          inputs: { data: { from: "training-set.trainingSet" } },
          params: { algorithm: "logistic_regression", target: "late", features: ["hour", "km", "km_sum_2d"], seed: 1 },
          outputs: { model: { kind: "Model" } },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 120_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));

    const modelId = await createModel(t, projectId, "drivers", true);
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { __typename
           ... on ModelVersionPayload { modelVersion { version status lineage signature } } ... on Error { code message } } }`,
        { i: { registeredModelId: modelId, artifactId: stage(run, "train").outputs[0]!.id } },
      ),
    ).createModelVersion;
    assert.equal(created.__typename, "ModelVersionPayload", JSON.stringify(created));
    assert.equal(created.modelVersion.status, "APPROVED");
    assert.equal(created.modelVersion.lineage.featureViewIds.length, 1, "the lineage names the view");
    assert.deepEqual(
      created.modelVersion.signature.inputs.map((i: { name: string }) => i.name),
      ["hour", "km", "km_sum_2d"],
    );
    await setChampion(t, modelId, created.modelVersion.version);

    await setChampion(t, modelId, created.modelVersion.version);
  });

  after(async () => {
    await t?.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("imputes every key against today's clock, and says so in the response and /metrics", async () => {
    const before = await counter(t, "sluice_serving_feature_misses_total", ['view="driver_stats"', 'reason="expired"']);
    const now = await send({
      id: "now",
      instances: [
        { driver: "ann", hour: 9 },
        { driver: "bob", hour: 18 },
      ],
    });
    assert.equal(now.status, 200, JSON.stringify(now.body));
    assert.deepEqual(now.body.parameters, { features_looked_up: 2, features_imputed: 2 });
    assert.equal(await counter(t, "sluice_serving_feature_misses_total", ['view="driver_stats"', 'reason="expired"']), before + 2);
    assert.deepEqual(
      (await logged("now")).map((i: any) => [i.km, i.km_sum_2d]),
      [
        [null, null],
        [null, null],
      ],
    );
  });

  it("finds the features as of an instant inside the TTL", async () => {
    const inside = await asOf("2026-01-21T00:00:00Z", "inside");
    assert.equal(inside.status, 200, JSON.stringify(inside.body));
    assert.deepEqual(inside.body.parameters, { features_looked_up: 2, features_imputed: 0 });
    const [ann, bob] = await logged("inside");
    assert.equal(ann.km, 60, "ann's latest trip (day 20: 40 + 20 km)");
    assert.equal(bob.km, 7, "bob's latest trip (day 20: 5 + 20 % 3 km)");
    // The model saw them: the same as sending the values.
    const explicit = await send({
      instances: [
        { hour: 9, km: ann.km, km_sum_2d: ann.km_sum_2d },
        { hour: 18, km: bob.km, km_sum_2d: bob.km_sum_2d },
      ],
    });
    assert.deepEqual(inside.body.predictions, explicit.body.predictions);
    // A date alone is its midnight UTC: also inside.
    assert.deepEqual((await asOf("2026-01-22", "date-only")).body.parameters, { features_looked_up: 2, features_imputed: 0 });
  });

  it("imputes, and reports, as of an instant past the TTL or before the stored rows", async () => {
    for (const [instant, id] of [
      ["2026-01-23T00:00:00Z", "after-ttl"],
      ["2026-01-10T00:00:00Z", "before-rows"],
    ] as const) {
      const answer = await asOf(instant, id);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.parameters, { features_looked_up: 2, features_imputed: 2 }, instant);
      assert.deepEqual(
        (await logged(id)).map((i: any) => i.km),
        [null, null],
      );
    }
  });

  it("refuses a features_as_of that is not an instant, naming it", async () => {
    const bad = await asOf("last tuesday", "bad");
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /parameters\.features_as_of/);
  });
});
