import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { queryJson, sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

const DEFINE = `mutation($i: DefineFeatureViewInput!) { defineFeatureView(input: $i) {
  __typename
  ... on DefineFeatureViewPayload { created featureView { id name version hash entities timestampColumn ttlSeconds
      features { name expr aggregation window type } definition sourceDataset { name } } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

const MATERIALIZE = `mutation($i: MaterializeFeatureViewInput!) { materializeFeatureView(input: $i) {
  __typename
  ... on MaterializeFeatureViewPayload { materialization { id rowCount onlineRows sourceVersion { id } artifact { kind uri metadata } } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

const ONLINE = `query($p: ID!, $v: String!, $k: [[String!]!]!) { onlineFeatures(projectId: $p, view: $v, entityKeys: $k) {
  view vectors { entityKey found expired eventTimestamp values } } }`;

const BUILD = `mutation($i: BuildTrainingSetInput!) { buildTrainingSet(input: $i) {
  __typename
  ... on BuildTrainingSetPayload { trainingSet { id rowCount columns { name type } } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

/** A UTC time `minutes` ago as the CSV reader's TIMESTAMP text. */
function minutesAgo(minutes: number): string {
  return new Date(Date.now() - minutes * 60_000).toISOString().slice(0, 19).replace("T", " ");
}

describe("feature views over GraphQL", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  const versionOf: Record<string, string> = {};

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-features-gql-"));
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "features");
    // Delays per origin; "delayed" means more than 15 minutes late.
    await ingest(
      "flights",
      "origin,flight_ts,delay_min\nSFO,2024-01-01 10:00:00,20\nSFO,2024-01-02 10:00:00,0\nSFO,2024-01-05 10:00:00,30\nJFK,2024-01-01 12:00:00,5\nJFK,2024-01-03 12:00:00,50\n",
    );
    // The entity data frame: which origin, when, and the label.
    await ingest(
      "labels",
      "origin,event_timestamp,label\nSFO,2024-01-02 10:00:00,0\nSFO,2024-01-04 00:00:00,1\nJFK,2024-01-01 11:00:00,0\nLAX,2024-01-03 00:00:00,0\nSFO,2024-01-10 10:00:00,1\n",
    );
    // One device seen 10 minutes ago, one 3 hours ago: with a one-hour TTL only the first is fresh.
    await ingest("pings", `device,seen_at,battery\nd1,${minutesAgo(10)},80\nd2,${minutesAgo(180)},40\n`);
  });
  after(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function ingest(name: string, csv: string): Promise<void> {
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { __typename ... on DatasetPayload { dataset { id } } ... on Error { message } } }`,
        { i: { projectId, name } },
      ),
    ).createDataset;
    assert.equal(created.__typename, "DatasetPayload", created.message);
    const datasetId = created.dataset.id;
    const file = path.join(dir, `${name}.csv`);
    fs.writeFileSync(file, csv);
    const put = dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on Error { message } } }`, {
        i: { datasetId, name: "main", kind: "FILE", paths: [file], format: "csv" },
      }),
    ).putDatasetSource;
    assert.equal(put.__typename, "DatasetSourcePayload", put.message);
    const res = dataOf(
      await t.gql(
        `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on IngestDatasetPayload { version { id } } ... on Error { message } } }`,
        { i: { datasetId, source: "main" } },
      ),
    ).ingestDataset;
    assert.equal(res.__typename, "IngestDatasetPayload", res.message);
    versionOf[name] = res.version.id;
  }

  const define = async (definition: unknown, token?: string) => t.gql(DEFINE, { i: { projectId, definition, description: "test" } }, token);
  const materialize = async (featureViewId: string, extra: Record<string, unknown> = {}) =>
    dataOf(await t.gql(MATERIALIZE, { i: { featureViewId, ...extra } })).materializeFeatureView;
  const online = async (view: string, keys: string[][]) => dataOf(await t.gql(ONLINE, { p: projectId, v: view, k: keys })).onlineFeatures;

  const originStats = {
    name: "origin_stats",
    entities: ["origin"],
    timestampColumn: "flight_ts",
    source: { dataset: "flights" },
    features: [
      { name: "last_delay", expr: "delay_min", type: "DOUBLE" },
      { name: "delay_rate_7d", aggregation: "avg", expr: "CASE WHEN delay_min > 15 THEN 1.0 ELSE 0.0 END", window: "7d" },
    ],
  };
  // Version 2 adds a count of flights.
  const originStatsV2 = { ...originStats, features: [...originStats.features, { name: "flights_7d", aggregation: "count", window: "7d" }] };
  const ids: Record<string, string> = {};

  it("defines a view, finds the same version for the same definition, and makes version 2 for a changed one", async () => {
    const first = dataOf(await define(originStats)).defineFeatureView;
    assert.equal(first.__typename, "DefineFeatureViewPayload", JSON.stringify(first));
    assert.equal(first.created, true);
    assert.equal(first.featureView.version, 1);
    assert.deepEqual(first.featureView.entities, ["origin"]);
    assert.equal(first.featureView.sourceDataset.name, "flights");
    assert.deepEqual(first.featureView.features[1], {
      name: "delay_rate_7d",
      expr: "CASE WHEN delay_min > 15 THEN 1.0 ELSE 0.0 END",
      aggregation: "avg",
      window: "7d",
      type: null,
    });
    ids.v1 = first.featureView.id;

    // Key order and an explicit null TTL do not change the definition.
    const reordered = { ttlSeconds: null, ...Object.fromEntries(Object.entries(originStats).reverse()) };
    const again = dataOf(await define(reordered)).defineFeatureView;
    assert.equal(again.created, false);
    assert.equal(again.featureView.id, ids.v1);
    assert.equal(again.featureView.version, 1);

    const second = dataOf(await define(originStatsV2)).defineFeatureView;
    assert.equal(second.created, true);
    assert.equal(second.featureView.version, 2);
    assert.notEqual(second.featureView.hash, first.featureView.hash);
    ids.v2 = second.featureView.id;

    const latest = dataOf(
      await t.gql(`query($p: ID!) { featureViews(filter: { projectId: $p, nameContains: "origin" }) { totalCount nodes { version } } }`, {
        p: projectId,
      }),
    );
    assert.equal(latest.featureViews.totalCount, 1, "the latest version of each name by default");
    assert.equal(latest.featureViews.nodes[0].version, 2);
    const all = dataOf(
      await t.gql(
        `query($p: ID!) { featureViews(filter: { projectId: $p, name: "origin_stats", allVersions: true }, orderBy: { field: VERSION, direction: ASC }) { nodes { version } } }`,
        { p: projectId },
      ),
    );
    assert.deepEqual(
      all.featureViews.nodes.map((n: any) => n.version),
      [1, 2],
    );
    const byName = dataOf(
      await t.gql(`query($p: ID!) { featureView(projectId: $p, name: "origin_stats", version: 1) { id } }`, { p: projectId }),
    );
    assert.equal(byName.featureView.id, ids.v1);
  });

  it("refuses invalid definitions with the field at fault, storing nothing", async () => {
    const shape = dataOf(await define({ ...originStats, name: "broken", entities: [] })).defineFeatureView;
    assert.equal(shape.__typename, "InvalidInputError");
    assert.ok(
      shape.problems.some((p: any) => p.field === "definition.entities"),
      JSON.stringify(shape.problems),
    );

    const window = dataOf(
      await define({ ...originStats, name: "broken", features: [{ name: "x", aggregation: "avg", expr: "delay_min", window: "7 days" }] }),
    ).defineFeatureView;
    assert.deepEqual(
      window.problems.map((p: any) => p.field),
      ["definition.features[0].window"],
    );

    const sql = dataOf(
      await define({ ...originStats, name: "broken", features: [...originStats.features, { name: "oops", expr: "no_such_column + 1" }] }),
    ).defineFeatureView;
    assert.equal(sql.__typename, "InvalidInputError");
    assert.equal(sql.problems[0].field, "definition.features[2].expr");
    assertNames(sql.problems[0].message, "oops");

    const missing = dataOf(await define({ ...originStats, name: "broken", source: { dataset: "nope" } })).defineFeatureView;
    assert.equal(missing.problems[0].field, "definition.source.dataset");

    const none = dataOf(
      await t.gql(`query($p: ID!) { featureViews(filter: { projectId: $p, name: "broken" }) { totalCount } }`, { p: projectId }),
    );
    assert.equal(none.featureViews.totalCount, 0);
  });

  it("materializes a view offline and online, and serves the latest values per entity", async () => {
    const m = await materialize(ids.v2);
    assert.equal(m.__typename, "MaterializeFeatureViewPayload", JSON.stringify(m));
    assert.equal(m.materialization.rowCount, 5);
    assert.equal(m.materialization.onlineRows, 2);
    assert.equal(m.materialization.sourceVersion.id, versionOf.flights);
    assert.equal(m.materialization.artifact.kind, "FeatureSet");
    assert.equal(m.materialization.artifact.metadata.featureViewVersion, 2);
    ids.m2 = m.materialization.id;

    const res = await online("origin_stats", [["SFO"], ["LAX"], ["JFK"]]);
    assert.deepEqual(
      res.vectors.map((v: any) => [v.entityKey, v.found]),
      [
        [["SFO"], true],
        [["LAX"], false],
        [["JFK"], true],
      ],
    );
    // SFO's latest row is 2024-01-05 10:00; its 7-day window [12-29 10:00, 01-05 10:00) holds 01-01 (late) and 01-02 (on time).
    assert.deepEqual(res.vectors[0].values, { last_delay: 30, delay_rate_7d: 0.5, flights_7d: 2 });
    assert.equal(res.vectors[0].eventTimestamp, "2024-01-05T10:00:00.000Z");
    // JFK's latest row is 01-03 12:00; its window holds only 01-01 (5 minutes late).
    assert.deepEqual(res.vectors[2].values, { last_delay: 50, delay_rate_7d: 0, flights_7d: 1 });
    assert.equal(res.vectors[1].values, null);

    // Loading version 1 replaces the values (another version wins even with equal timestamps); version 2 again restores them.
    assert.equal((await materialize(ids.v1)).__typename, "MaterializeFeatureViewPayload");
    assert.deepEqual((await online("origin_stats", [["SFO"]])).vectors[0].values, { last_delay: 30, delay_rate_7d: 0.5 });
    assert.equal((await materialize(ids.v2)).materialization.onlineRows, 2);
    assert.deepEqual((await online("origin_stats", [["SFO"]])).vectors[0].values, { last_delay: 30, delay_rate_7d: 0.5, flights_7d: 2 });

    const offlineOnly = await materialize(ids.v2, { online: false });
    assert.equal(offlineOnly.materialization.onlineRows, 0);

    const bad = await t.gql(ONLINE, { p: projectId, v: "origin_stats", k: [["SFO", "extra"]] });
    assert.equal(bad.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  });

  it("withholds online values older than the view's TTL", async () => {
    const view = dataOf(
      await define({
        name: "device_battery",
        entities: ["device"],
        timestampColumn: "seen_at",
        ttlSeconds: 3600,
        source: { dataset: "pings" },
        features: [{ name: "battery", expr: "battery" }],
      }),
    ).defineFeatureView;
    assert.equal(view.__typename, "DefineFeatureViewPayload", JSON.stringify(view));
    assert.equal((await materialize(view.featureView.id)).materialization.onlineRows, 2);
    const res = await online("device_battery", [["d1"], ["d2"]]);
    assert.deepEqual(
      res.vectors.map((v: any) => [v.found, v.expired, v.values]),
      [
        [true, false, { battery: 80 }],
        [false, true, null],
      ],
    );

    // The flights are from 2024: with a one-day TTL every origin has expired.
    const stale = dataOf(await define({ ...originStats, name: "origin_recent", ttlSeconds: 86400 })).defineFeatureView;
    await materialize(stale.featureView.id);
    const expired = await online("origin_recent", [["SFO"], ["JFK"]]);
    assert.deepEqual(
      expired.vectors.map((v: any) => [v.found, v.expired, v.values]),
      [
        [false, true, null],
        [false, true, null],
      ],
    );
  });

  it("builds a point-in-time correct training set with lineage to the source versions", async () => {
    const res = dataOf(
      await t.gql(BUILD, {
        i: { projectId, entityVersionId: versionOf.labels, views: [{ name: "origin_stats" }], name: "delays" },
      }),
    ).buildTrainingSet;
    assert.equal(res.__typename, "BuildTrainingSetPayload", JSON.stringify(res));
    assert.equal(res.trainingSet.rowCount, 5);
    assert.deepEqual(
      res.trainingSet.columns.map((c: any) => c.name),
      ["origin", "event_timestamp", "label", "last_delay", "delay_rate_7d", "flights_7d"],
    );

    const set = dataOf(
      await t.gql(
        `query($id: ID!) { trainingSet(id: $id) { name entityVersion { id } artifact { id kind uri }
          views { name version materializationId featureView { id } materialization { sourceVersion { id } } } } }`,
        { id: res.trainingSet.id },
      ),
    ).trainingSet;
    assert.equal(set.name, "delays");
    assert.equal(set.entityVersion.id, versionOf.labels);
    assert.equal(set.artifact.kind, "FeatureSet");
    assert.equal(set.views[0].version, 2);
    assert.equal(set.views[0].featureView.id, ids.v2);
    assert.equal(set.views[0].materialization.sourceVersion.id, versionOf.flights, "lineage reaches the source dataset version");

    assert.equal(set.artifact.uri, `/artifacts/${set.artifact.id}/content`, "answers name no server folder");
    const [{ uri }] = await t.server.services.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [set.artifact.id]);
    const file = await t.server.services.artifacts.localPath(uri);
    const rows = await withDuckDb((conn) =>
      queryJson(
        conn,
        `SELECT origin, strftime(event_timestamp, '%m-%d %H:%M') AS at, last_delay, delay_rate_7d, flights_7d FROM read_parquet(${sqlString(file)})`,
      ),
    );
    assert.deepEqual(
      rows.map((r) => [r.origin, r.at, r.last_delay, r.delay_rate_7d, r.flights_7d === null ? null : Number(r.flights_7d)]),
      [
        // At exactly SFO's 01-02 10:00 row: that row's own value, and a window [12-26, 01-02 10:00) holding only 01-01 (late).
        ["SFO", "01-02 10:00", 0, 1, 1],
        // Between events: still the 01-02 row, not anything later.
        ["SFO", "01-04 00:00", 0, 1, 1],
        // Before JFK's first flight: nothing known yet.
        ["JFK", "01-01 11:00", null, null, null],
        ["LAX", "01-03 00:00", null, null, null],
        ["SFO", "01-10 10:00", 30, 0.5, 2],
      ],
    );

    const listed = dataOf(await t.gql(`query($p: ID!) { trainingSets(filter: { projectId: $p }) { totalCount } }`, { p: projectId }));
    assert.equal(listed.trainingSets.totalCount, 1);
  });

  it("refuses training sets over unknown or unmaterialized views and unknown features, naming the input", async () => {
    const undefinedView = dataOf(
      await t.gql(BUILD, {
        i: { projectId, entityVersionId: versionOf.labels, views: [{ name: "nope" }, { name: "origin_stats", version: 9 }] },
      }),
    ).buildTrainingSet;
    assert.deepEqual(
      undefinedView.problems.map((p: any) => p.field),
      ["views[0].name", "views[1].version"],
    );
    const changed = dataOf(await define({ ...originStats, name: "unmaterialized" })).defineFeatureView;
    assert.equal(changed.created, true);
    const never = dataOf(
      await t.gql(BUILD, { i: { projectId, entityVersionId: versionOf.labels, views: [{ name: "unmaterialized" }] } }),
    ).buildTrainingSet;
    assert.equal(never.__typename, "InvalidInputError");
    assertNames(never.problems[0].message, "unmaterialized");
    const feature = dataOf(
      await t.gql(BUILD, { i: { projectId, entityVersionId: versionOf.labels, views: [{ name: "origin_stats", features: ["nope"] }] } }),
    ).buildTrainingSet;
    assert.equal(feature.problems[0].field, "views[0].features[0]");
  });

  it("lets a VIEWER read online features but not define views, and audits every mutation", async () => {
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const denied = await define({ ...originStats, name: "viewer_view" }, viewer.token);
    assert.equal(denied.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const read = await t.gql(ONLINE, { p: projectId, v: "origin_stats", k: [["SFO"]] }, viewer.token);
    assert.equal(dataOf(read).onlineFeatures.vectors[0].found, true);

    for (const action of ["feature.define", "feature.materialize", "feature.trainingSet"]) {
      const events = dataOf(
        await t.gql(
          `query($p: ID!, $a: String!) { auditEvents(filter: { projectId: $p, action: $a, outcome: SUCCEEDED }) { totalCount } }`,
          {
            p: projectId,
            a: action,
          },
        ),
      );
      assert.ok(events.auditEvents.totalCount >= 1, `${action} is audited`);
    }
    const deniedEvents = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(filter: { projectId: $p, action: "feature.define", outcome: DENIED }) { totalCount } }`, {
        p: projectId,
      }),
    );
    assert.equal(deniedEvents.auditEvents.totalCount, 1);
    const failed = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(filter: { projectId: $p, action: "feature.define", outcome: FAILED }) { totalCount } }`, {
        p: projectId,
      }),
    );
    assert.ok(failed.auditEvents.totalCount >= 4, "refused definitions are audited as failed");
  });

  it("takes the newest created row of a key and event time when the view names a createdTimestampColumn", async () => {
    // File order (99 first, then 1) disagrees with created order (99 written last).
    await ingest(
      "corrections",
      "origin,flight_ts,written_at,delay_min\nSFO,2024-01-01 10:00:00,2024-01-01 12:00:00,99\nSFO,2024-01-01 10:00:00,2024-01-01 11:00:00,1\n",
    );
    const view = {
      name: "corrected",
      entities: ["origin"],
      timestampColumn: "flight_ts",
      createdTimestampColumn: "written_at",
      source: { dataset: "corrections" },
      features: [{ name: "delay", expr: "delay_min" }],
    };
    const wrongType = dataOf(await define({ ...view, createdTimestampColumn: "delay_min" })).defineFeatureView;
    assert.equal(wrongType.__typename, "InvalidInputError");
    assert.deepEqual(
      wrongType.problems.map((p: any) => p.field),
      ["definition.createdTimestampColumn"],
    );
    const defined = dataOf(await define(view)).defineFeatureView;
    assert.equal(defined.__typename, "DefineFeatureViewPayload", JSON.stringify(defined));
    const read = dataOf(
      await t.gql(`query($p: ID!) { featureView(projectId: $p, name: "corrected") { createdTimestampColumn } }`, { p: projectId }),
    );
    assert.equal(read.featureView.createdTimestampColumn, "written_at");
    const m = await materialize(defined.featureView.id);
    assert.equal(m.__typename, "MaterializeFeatureViewPayload", JSON.stringify(m));
    assert.equal(m.materialization.rowCount, 1);
    const res = await online("corrected", [["SFO"]]);
    assert.deepEqual(res.vectors[0].values, { delay: 99 });
  });
});
