import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { infer } from "./helpers";
import { setUpDriverModel } from "./driver-model";

/**
 * Online-feature enrichment end to end: a pipeline materializes a feature view (online too),
 * builds a training set and trains a classifier on it; the classifier, registered from the run,
 * names the view in its lineage, so requests may send the entity key instead of the features.
 */

const PREDICTIONS = `query($p: ID!, $m: String!) { predictions(projectId: $p, model: $m, first: 100) { nodes { requestId rowIndex inputs outputs } } }`;
const ONLINE = `query($p: ID!, $k: [[String!]!]!) { onlineFeatures(projectId: $p, view: "driver_stats", entityKeys: $k) { vectors { entityKey found values } } }`;

/** A counter's value in /metrics, for the line whose labels include every one of `labels`. */
async function counter(t: TestServer, name: string, labels: string[]): Promise<number> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("online-feature enrichment of inference requests", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  /** Online values of driver_stats by driver. */
  const online: Record<string, { km: number; km_sum_2d: number }> = {};
  const path_ = "/v2/models/drivers/infer";
  const send = (body: unknown) => infer(t, path_, body, { project: projectId });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-enrich-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "enrich");

    await setUpDriverModel(t, projectId, dir);

    const vectors = dataOf(await t.gql(ONLINE, { p: projectId, k: [["ann"], ["bob"]] })).onlineFeatures.vectors;
    for (const v of vectors) {
      assert.equal(v.found, true);
      online[v.entityKey[0]] = { km: Number(v.values.km), km_sum_2d: Number(v.values.km_sum_2d) };
    }
    assert.equal(online.ann!.km, 60, "ann's latest trip");
    assert.ok(online.ann!.km_sum_2d > 100, "ann's trailing trips");
  });

  after(async () => {
    await t?.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("fills the view's features from the online store by entity key, as if they had been sent", async () => {
    const byKey = await send({
      id: "keys",
      instances: [
        { driver: "ann", hour: 9 },
        { driver: "bob", hour: 18 },
      ],
    });
    assert.equal(byKey.status, 200, JSON.stringify(byKey.body));
    const explicit = await send({
      instances: [
        { hour: 9, ...online.ann },
        { hour: 18, ...online.bob },
      ],
    });
    assert.equal(explicit.status, 200, JSON.stringify(explicit.body));
    assert.deepEqual(byKey.body.predictions, explicit.body.predictions);
    // Not a trivial model: the two drivers get different probabilities.
    assert.notDeepEqual(byKey.body.predictions[0].probabilities, byKey.body.predictions[1].probabilities);

    // The prediction log keeps what the model saw and the key it was looked up by.
    const rows = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "drivers" }))
      .predictions.nodes.filter((r: any) => r.requestId === "keys")
      .sort((a: any, b: any) => a.rowIndex - b.rowIndex);
    assert.deepEqual(
      rows.map((r: any) => r.inputs),
      [
        { driver: "ann", hour: 9, ...online.ann },
        { driver: "bob", hour: 18, ...online.bob },
      ],
    );
  });

  it("enriches OIP requests whose entity keys are a BYTES input", async () => {
    const oip = await send({
      inputs: [
        { name: "hour", datatype: "FP32", shape: [2, 1], data: [9, 18] },
        { name: "driver", datatype: "BYTES", shape: [2], data: ["ann", "bob"] },
      ],
    });
    assert.equal(oip.status, 200, JSON.stringify(oip.body));
    const records = await send({
      instances: [
        { driver: "ann", hour: 9 },
        { driver: "bob", hour: 18 },
      ],
    });
    const probabilities = oip.body.outputs.find((o: any) => o.name === "probabilities").data;
    assert.deepEqual(
      probabilities,
      records.body.predictions.flatMap((p: any) => p.probabilities),
    );
  });

  it("gives an unknown entity the features' missing values and counts it", async () => {
    const before = await counter(t, "sluice_serving_feature_misses_total", ['view="driver_stats"', 'reason="unknown"']);
    const unknown = await send({ instances: [{ driver: "zed", hour: 12 }] });
    assert.equal(unknown.status, 200, JSON.stringify(unknown.body));
    const missing = await send({ instances: [{ hour: 12, km: null, km_sum_2d: null }] });
    assert.equal(missing.status, 200, JSON.stringify(missing.body));
    assert.deepEqual(unknown.body.predictions, missing.body.predictions);
    assert.equal(await counter(t, "sluice_serving_feature_misses_total", ['view="driver_stats"', 'reason="unknown"']), before + 1);
  });

  it("refuses with 400 a request with neither a feature nor its entity key, naming both", async () => {
    const res = await send({
      instances: [
        { driver: "ann", hour: 9 },
        { hour: 9, km: 3 },
      ],
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /instances\[1\]: missing column "km_sum_2d" and the entity key "driver" of feature view driver_stats/);
    assert.doesNotMatch(res.body.error, /instances\[0\]/);
    const oip = await send({ inputs: [{ name: "hour", datatype: "FP32", shape: [1, 1], data: [9] }] });
    assert.equal(oip.status, 400);
    assert.match(oip.body.error, /missing input "km" and the entity key input "driver"/);
    const badKey = await send({ instances: [{ driver: 1.5, hour: 9 }] });
    assert.equal(badKey.status, 400);
    assert.match(badKey.body.error, /instances\[0\]: entity key "driver" of feature view driver_stats/);
  });

  it("keeps a value the caller sent over the store's", async () => {
    const mixed = await send({ instances: [{ driver: "ann", hour: 9, km: 1 }] });
    assert.equal(mixed.status, 200, JSON.stringify(mixed.body));
    const explicit = await send({ instances: [{ hour: 9, km: 1, km_sum_2d: online.ann!.km_sum_2d }] });
    assert.deepEqual(mixed.body.predictions, explicit.body.predictions);
    const stored = await send({ instances: [{ driver: "ann", hour: 9 }] });
    assert.notDeepEqual(mixed.body.predictions, stored.body.predictions);
  });

  it("reads the store at each request: a new materialization is served at once", async () => {
    // Ann's trips get much shorter; materializing again replaces her online row.
    const trips = fs.readFileSync(path.join(dir, "trips.csv"), "utf8");
    fs.writeFileSync(path.join(dir, "trips.csv"), trips + "ann,2026-01-21 08:00:00,2\n");
    const before = await send({ instances: [{ driver: "ann", hour: 9 }] });
    const fv = dataOf(
      await t.gql(`query($p: ID) { featureView(projectId: $p, name: "driver_stats") { id } }`, { p: projectId }),
    ).featureView;
    const datasetId = dataOf(await t.gql(`query($p: ID) { dataset(projectId: $p, name: "trips") { id } }`, { p: projectId })).dataset.id;
    const put = dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on Error { message } } }`, {
        i: { datasetId, name: "main", kind: "FILE", paths: [path.join(dir, "trips.csv")], format: "csv" },
      }),
    ).putDatasetSource;
    assert.equal(put.__typename, "DatasetSourcePayload", put.message);
    const ds = dataOf(
      await t.gql(`mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on Error { message } } }`, {
        i: { datasetId, source: "main" },
      }),
    ).ingestDataset;
    assert.equal(ds.__typename, "IngestDatasetPayload", ds.message);
    const m = dataOf(
      await t.gql(
        `mutation($i: MaterializeFeatureViewInput!) { materializeFeatureView(input: $i) { __typename ... on Error { message } } }`,
        {
          i: { featureViewId: fv.id },
        },
      ),
    ).materializeFeatureView;
    assert.equal(m.__typename, "MaterializeFeatureViewPayload", m.message);
    const after = await send({ instances: [{ driver: "ann", hour: 9 }] });
    const [v] = dataOf(await t.gql(ONLINE, { p: projectId, k: [["ann"]] })).onlineFeatures.vectors;
    assert.equal(v.values.km, 2, "the new latest row is online");
    const explicit = await send({ instances: [{ hour: 9, km: 2, km_sum_2d: v.values.km_sum_2d }] });
    assert.deepEqual(after.body.predictions, explicit.body.predictions);
    assert.notDeepEqual(after.body.predictions, before.body.predictions);
  });
});
