import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

/**
 * Issue #13 finding 11 (part): a POSTGRES_QUERY source had no statement timeout (`pg_sleep(40)`
 * held a request 30 s+) and no row limit. Both are now bounded by settings, and a refusal names
 * the limit and the setting. The source database is the real PostgreSQL the tests run against.
 */

const INGEST = `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) {
  __typename
  ... on IngestDatasetPayload { version { rowCount } }
  ... on InvalidInputError { problems { field message } }
  ... on Error { code message } } }`;

const SOURCE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

describe("SQL dataset sources", () => {
  let t: TestServer;
  let projectId: string;
  let datasetId: string;
  let unreachable: string | undefined;

  before(async () => {
    const probe = new pg.Client({ connectionString: SOURCE_URL, connectionTimeoutMillis: 3000 });
    try {
      await probe.connect();
      await probe.end();
    } catch (err) {
      unreachable = `no PostgreSQL server at ${new URL(SOURCE_URL).host} to use as the source database (${(err as Error).message})`;
      return;
    }
    t = await startTestServer({ env: { SLUICE_SQL_SOURCE_TIMEOUT_MS: "1000", SLUICE_SQL_SOURCE_MAX_ROWS: "100" } });
    projectId = await seedProject(t, "warehouse");
    dataOf(
      await t.gql(`mutation($i: SetSecretInput!) { setSecret(input: $i) { __typename } }`, {
        i: { projectId, name: "WAREHOUSE_URL", value: SOURCE_URL },
      }),
    );
    const created = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId, name: "warehouse" },
      }),
    ).createDataset;
    datasetId = created.dataset.id;
  });
  after(async () => {
    await t?.close();
  });

  async function ingestQuery(name: string, query: string): Promise<any> {
    const put = dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on Error { message } } }`, {
        i: { datasetId, name, kind: "POSTGRES_QUERY", secret: "WAREHOUSE_URL", query },
      }),
    ).putDatasetSource;
    assert.equal(put.__typename, "DatasetSourcePayload", put.message);
    return dataOf(await t.gql(INGEST, { i: { datasetId, source: name } })).ingestDataset;
  }

  async function versionCount(): Promise<number> {
    const res = dataOf(
      await t.gql(`query($id: ID!) { dataset(id: $id) { versions { totalCount } } }`, {
        id: datasetId,
      }),
    );
    return res.dataset.versions.totalCount;
  }

  it("stops a query that runs longer than SLUICE_SQL_SOURCE_TIMEOUT_MS, naming the limit", async (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    const started = Date.now();
    const res = await ingestQuery("sleepy", "SELECT pg_sleep(20) AS slept, 1 AS x");
    const took = Date.now() - started;
    assert.equal(res.__typename, "InvalidInputError", JSON.stringify(res));
    assert.equal(res.problems[0].field, "config.query");
    assertNames(res.problems[0].message, "1000", "SLUICE_SQL_SOURCE_TIMEOUT_MS");
    assert.ok(took < 6000, `the request was held ${took} ms`);
    assert.equal(await versionCount(), 0);
  });

  it("refuses a query that returns more than SLUICE_SQL_SOURCE_MAX_ROWS rows instead of cutting it", async (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    const res = await ingestQuery("big", "SELECT g FROM generate_series(1, 101) g");
    assert.equal(res.__typename, "InvalidInputError", JSON.stringify(res));
    assert.equal(res.problems[0].field, "config.query");
    assertNames(res.problems[0].message, "100", "SLUICE_SQL_SOURCE_MAX_ROWS");
    assert.equal(await versionCount(), 0);
  });

  it("ingests a query within both limits", async (ctx) => {
    if (unreachable) return ctx.skip(unreachable);
    const res = await ingestQuery("fits", "SELECT g FROM generate_series(1, 100) g");
    assert.equal(res.__typename, "IngestDatasetPayload", JSON.stringify(res));
    assert.equal(res.version.rowCount, 100);
    assert.equal(await versionCount(), 1);
  });
});
