import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const DEFINE = `mutation($i: DefineValidationSuiteInput!) { defineValidationSuite(input: $i) {
  __typename
  ... on ValidationSuitePayload { created suite { id name version hash definition } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;
const VALIDATE = `mutation($i: ValidateDatasetInput!) { validateDataset(input: $i) {
  __typename
  ... on ValidationReportPayload { report { id success rowCount quarantineVersionId referenceVersionId suiteName
      statistics { evaluated successful failedWarn failedError }
      results { index type column severity success observedValue unexpectedCount elementCount mostly sampleFailingRows details error } } }
  ... on Error { code message } } }`;

describe("validation suites and reports", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let datasetId: string;
  let v1: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-validation-"));
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "quality");
    const created = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId, name: "trips", schemaPolicy: "ALLOW_ALL" },
      }),
    );
    datasetId = created.createDataset.dataset.id;
    // 100 trips: ids 1..100, km 1..100 except two negative, city in a set except one, one missing rating.
    const rows = ["id,km,city,rating"];
    for (let i = 1; i <= 100; i++) {
      const km = i === 13 || i === 77 ? -i : i;
      const city = i === 50 ? "Atlantis" : ["Oslo", "Bergen", "Tromsø"][i % 3];
      rows.push(`${i},${km},${city},${i === 99 ? "" : (i % 5) + 1}`);
    }
    fs.writeFileSync(path.join(dir, "trips.csv"), rows.join("\n") + "\n");
    dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename } }`, {
        i: { datasetId, name: "main", kind: "FILE", paths: ["trips.csv"], format: "csv" },
      }),
    );
    const ingested = dataOf(
      await t.gql(`mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { ... on IngestDatasetPayload { version { id } } } }`, {
        i: { datasetId, source: "main" },
      }),
    );
    v1 = ingested.ingestDataset.version.id;
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const expectations = [
    { type: "not_null", column: "rating", severity: "warn" },
    { type: "between", column: "km", min: 0, max: 1000, mostly: 0.95 },
    { type: "in_set", column: "city", values: ["Oslo", "Bergen", "Tromsø"] },
    { type: "unique", column: "id" },
    { type: "row_count_between", min: 50, max: 500 },
  ];

  it("versions a suite: the same expectations return the newest version, a change makes the next", async () => {
    const first = dataOf(await t.gql(DEFINE, { i: { datasetId, name: "basic", expectations } })).defineValidationSuite;
    assert.equal(first.__typename, "ValidationSuitePayload", JSON.stringify(first));
    assert.equal(first.created, true);
    assert.equal(first.suite.version, 1);
    assert.equal(first.suite.definition.expectations[1].severity, "error", "defaults are filled in");
    const again = dataOf(await t.gql(DEFINE, { i: { datasetId, name: "basic", expectations } })).defineValidationSuite;
    assert.equal(again.created, false);
    assert.equal(again.suite.id, first.suite.id);
    const changed = dataOf(
      await t.gql(DEFINE, {
        i: { datasetId, name: "basic", expectations: [...expectations, { type: "mean_between", column: "km", min: 0 }] },
      }),
    ).defineValidationSuite;
    assert.equal(changed.suite.version, 2);
    const back = dataOf(await t.gql(DEFINE, { i: { datasetId, name: "basic", expectations } })).defineValidationSuite;
    assert.equal(back.suite.version, 3, "going back to an older definition is a new version, so the newest is the one in use");
  });

  it("refuses an invalid suite naming the field, and stores nothing", async () => {
    const bad = dataOf(
      await t.gql(DEFINE, {
        i: { datasetId, name: "broken", expectations: [{ type: "between", column: "km", min: 0, mostly: 2 }, { type: "nope" }] },
      }),
    ).defineValidationSuite;
    assert.equal(bad.__typename, "InvalidInputError");
    assert.ok(bad.problems.some((p: any) => p.field.startsWith("expectations[0]")));
    assert.ok(bad.problems.some((p: any) => p.field.startsWith("expectations[1]")));
    const listed = dataOf(
      await t.gql(`query($d: ID) { validationSuites(filter: { datasetId: $d, name: "broken" }) { totalCount } }`, { d: datasetId }),
    );
    assert.equal(listed.validationSuites.totalCount, 0);
  });

  it("stores a report with observed values and failing rows, and emits validation.failed on an error breach", async () => {
    const res = dataOf(await t.gql(VALIDATE, { i: { versionId: v1, suite: "basic" } })).validateDataset;
    assert.equal(res.__typename, "ValidationReportPayload", JSON.stringify(res));
    const report = res.report;
    assert.equal(report.rowCount, 100);
    assert.equal(report.success, false);
    const [notNull, between, inSet, unique, rowCount] = report.results;
    assert.deepEqual([notNull.success, notNull.severity, notNull.unexpectedCount], [false, "warn", 1]);
    // 98 of 100 pass, above mostly 0.95.
    assert.deepEqual([between.success, between.unexpectedCount, between.observedValue], [true, 2, 0.98]);
    assert.equal(inSet.success, false);
    assert.equal(inSet.unexpectedCount, 1);
    assert.deepEqual(
      inSet.sampleFailingRows.map((r: any) => [r.id, r.city]),
      [[50, "Atlantis"]],
    );
    assert.equal(unique.success, true);
    assert.deepEqual([rowCount.success, rowCount.observedValue], [true, 100]);
    assert.deepEqual(report.statistics, { evaluated: 5, successful: 3, failedWarn: 1, failedError: 1 });

    const [{ n }] = await t.server.services.db.dataSource.query(
      `SELECT count(*)::int AS n FROM events WHERE type = 'validation.failed' AND payload->>'reportId' = $1`,
      [report.id],
    );
    assert.equal(n, 1);
    const byVersion = dataOf(
      await t.gql(`query($id: ID) { datasetVersion(id: $id) { validationReports { totalCount nodes { id success } } } }`, { id: v1 }),
    );
    assert.ok(byVersion.datasetVersion.validationReports.nodes.some((r: any) => r.id === report.id));
    const stored = dataOf(
      await t.gql(`query($id: ID!) { validationReport(id: $id) { results { sampleFailingRows } } }`, { id: report.id }),
    );
    assert.deepEqual(stored.validationReport.results[2].sampleFailingRows, inSet.sampleFailingRows);
  });

  it("quarantines the rows failing error expectations into <dataset>-quarantine", async () => {
    const strict = [
      { type: "between", column: "km", min: 0 },
      { type: "in_set", column: "city", values: ["Oslo", "Bergen", "Tromsø"] },
    ];
    dataOf(await t.gql(DEFINE, { i: { datasetId, name: "strict", expectations: strict } }));
    const res = dataOf(await t.gql(VALIDATE, { i: { versionId: v1, suite: "strict", quarantine: true } })).validateDataset;
    assert.equal(res.report.success, false);
    assert.ok(res.report.quarantineVersionId);
    const q = dataOf(await t.gql(`query($id: ID) { datasetVersion(id: $id) { rowCount origin } }`, { id: res.report.quarantineVersionId }));
    assert.equal(q.datasetVersion.rowCount, 3, "rows 13, 50 and 77");
    const ds = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "trips-quarantine") { schemaPolicy versions { totalCount } } }`, {
        p: projectId,
      }),
    );
    assert.equal(ds.dataset.versions.totalCount, 1);
  });

  it("checks a distribution against the version before by PSI", async () => {
    const rows = ["id,km,city,rating"];
    for (let i = 1; i <= 100; i++) rows.push(`${i},${i * 5 + 300},Oslo,3`);
    fs.writeFileSync(path.join(dir, "trips.csv"), rows.join("\n") + "\n");
    const v2 = dataOf(
      await t.gql(`mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { ... on IngestDatasetPayload { version { id } } } }`, {
        i: { datasetId, source: "main" },
      }),
    ).ingestDataset.version.id;
    dataOf(
      await t.gql(DEFINE, {
        i: { datasetId, name: "drift", expectations: [{ type: "distribution", column: "km", metric: "psi", threshold: 0.25 }] },
      }),
    );
    const res = dataOf(await t.gql(VALIDATE, { i: { versionId: v2, suite: "drift" } })).validateDataset;
    assert.equal(res.__typename, "ValidationReportPayload", JSON.stringify(res));
    assert.equal(res.report.referenceVersionId, v1);
    assert.equal(res.report.success, false);
    assert.ok(res.report.results[0].observedValue > 0.25, String(res.report.results[0].observedValue));
  });

  it("lets only editors define and run suites, and audits both", async () => {
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const refused = await t.gql(DEFINE, { i: { datasetId, name: "viewer", expectations } }, viewer.token);
    assert.equal(refused.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const audit = dataOf(
      await t.gql(
        `query($p: ID!) { define: auditEvents(filter: { projectId: $p, action: "validation.suite.define" }) { totalCount }
                     run: auditEvents(filter: { projectId: $p, action: "validation.run" }) { totalCount } }`,
        { p: projectId },
      ),
    );
    assert.ok(audit.define.totalCount >= 4);
    assert.ok(audit.run.totalCount >= 2);
  });
});
