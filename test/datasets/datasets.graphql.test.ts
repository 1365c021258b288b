import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const INGEST = `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) {
  __typename
  ... on IngestDatasetPayload { created version { id version rowCount contentHash schema { name type }
      schemaDiff { added { name } removed { name } retyped { name from to widening } renamed { from to } breaking changed }
      profile { rowCount columns { name kind count nullCount distinctEstimate mean std min max histogram { lower upper count } topValues { value count } } } } }
  ... on SchemaChangeRefusedError { code policy violations diff { removed { name } breaking } }
  ... on InvalidInputError { code problems { field message } }
  ... on Error { code message } } }`;

describe("datasets", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-datasets-"));
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir, SLUICE_UPLOAD_LIMIT: "4kb" } });
    projectId = await seedProject(t, "data");
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function dataset(name: string, policy?: string): Promise<string> {
    const res = dataOf(
      await t.gql(
        `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { __typename ... on DatasetPayload { dataset { id } } ... on Error { message } } }`,
        {
          i: { projectId, name, schemaPolicy: policy ?? null },
        },
      ),
    );
    assert.equal(res.createDataset.__typename, "DatasetPayload", res.createDataset.message);
    return res.createDataset.dataset.id;
  }

  async function source(datasetId: string, name: string, paths: string[], format = "csv"): Promise<void> {
    const res = dataOf(
      await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on Error { message } } }`, {
        i: { datasetId, name, kind: "FILE", paths, format },
      }),
    );
    assert.equal(res.putDatasetSource.__typename, "DatasetSourcePayload", res.putDatasetSource.message);
  }

  const ingest = async (datasetId: string, src: string) => dataOf(await t.gql(INGEST, { i: { datasetId, source: src } })).ingestDataset;
  const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  it("ingests a CSV file as a profiled Parquet version, and the same data again as the same version", async () => {
    const id = await dataset("trips");
    const file = write("trips.csv", "city,km,rating\nOslo,10,4.5\nBergen,20,\nOslo,30,3.5\n");
    await source(id, "main", [file]);
    const first = await ingest(id, "main");
    assert.equal(first.__typename, "IngestDatasetPayload", JSON.stringify(first));
    assert.equal(first.created, true);
    assert.equal(first.version.version, 1);
    assert.equal(first.version.rowCount, 3);
    assert.equal(first.version.schemaDiff, null);
    const km = first.version.profile.columns.find((c: any) => c.name === "km");
    assert.equal(km.kind, "numeric");
    assert.equal(km.mean, 20);
    assert.deepEqual([km.min, km.max], [{ value: 10 }, { value: 30 }]);
    assert.equal(
      km.histogram.reduce((s: number, b: any) => s + b.count, 0),
      3,
    );
    const rating = first.version.profile.columns.find((c: any) => c.name === "rating");
    assert.equal(rating.nullCount, 1);
    const city = first.version.profile.columns.find((c: any) => c.name === "city");
    assert.deepEqual(city.topValues[0], { value: "Oslo", count: 2 });
    const again = await ingest(id, "main");
    assert.equal(again.created, false);
    assert.equal(again.version.id, first.version.id);
  });

  it("records an added column as a new version with its diff, and emits dataset.version.created", async () => {
    const id = await dataset("growing");
    const file = write("growing.csv", "a,b\n1,x\n2,y\n");
    await source(id, "main", [file]);
    await ingest(id, "main");
    write("growing.csv", "a,b,c\n1,x,true\n2,y,false\n");
    const second = await ingest(id, "main");
    assert.equal(second.__typename, "IngestDatasetPayload", JSON.stringify(second));
    assert.equal(second.version.version, 2);
    assert.deepEqual(
      second.version.schemaDiff.added.map((c: any) => c.name),
      ["c"],
    );
    assert.equal(second.version.schemaDiff.breaking, false);
    const events = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(filter: { projectId: $p, action: "dataset.ingest" }) { totalCount } }`, { p: projectId }),
    );
    assert.ok(events.auditEvents.totalCount >= 2);
    const [{ n }] = await t.server.services.db.dataSource.query(
      `SELECT count(*)::int AS n FROM events WHERE type = 'dataset.version.created' AND subject_id = $1`,
      [id],
    );
    assert.equal(n, 2);
  });

  it("refuses a breaking change under FAIL_ON_BREAKING with the diff and its violations, recording nothing", async () => {
    const id = await dataset("strict");
    const file = write("strict.csv", "a,b\n1,x\n");
    await source(id, "main", [file]);
    await ingest(id, "main");
    write("strict.csv", "a\n1\n");
    const refused = await ingest(id, "main");
    assert.equal(refused.__typename, "SchemaChangeRefusedError");
    assert.equal(refused.policy, "FAIL_ON_BREAKING");
    assert.deepEqual(
      refused.diff.removed.map((c: any) => c.name),
      ["b"],
    );
    assert.ok(refused.violations.length >= 1);
    const versions = dataOf(await t.gql(`query($id: ID) { dataset(id: $id) { versions { totalCount } } }`, { id }));
    assert.equal(versions.dataset.versions.totalCount, 1);
    const loose = dataOf(
      await t.gql(`mutation($i: UpdateDatasetInput!) { updateDataset(input: $i) { __typename } }`, {
        i: { id, schemaPolicy: "ALLOW_ALL" },
      }),
    );
    assert.equal(loose.updateDataset.__typename, "DatasetPayload");
    const accepted = await ingest(id, "main");
    assert.equal(accepted.__typename, "IngestDatasetPayload");
    assert.equal(accepted.version.schemaDiff.breaking, true);
  });

  it("refuses any change under FAIL_ON_ANY", async () => {
    const id = await dataset("frozen", "FAIL_ON_ANY");
    const file = write("frozen.csv", "a\n1\n");
    await source(id, "main", [file]);
    await ingest(id, "main");
    write("frozen.csv", "a,b\n1,2\n");
    assert.equal((await ingest(id, "main")).__typename, "SchemaChangeRefusedError");
  });

  it("refuses a path outside the allowed roots and a malformed CSV, leaving no version behind", async () => {
    const id = await dataset("guarded");
    await source(id, "escape", ["../../etc/passwd"]);
    const outside = await ingest(id, "escape");
    assert.equal(outside.__typename, "InvalidInputError");
    const bad = write("ragged.csv", 'a,b\n1,2\n3,4,5\n"unterminated,6\n');
    await source(id, "ragged", [bad]);
    const malformed = await ingest(id, "ragged");
    assert.equal(malformed.__typename, "InvalidInputError", JSON.stringify(malformed));
    const versions = dataOf(await t.gql(`query($id: ID) { dataset(id: $id) { latestVersion { id } versions { totalCount } } }`, { id }));
    assert.equal(versions.dataset.versions.totalCount, 0);
    assert.equal(versions.dataset.latestVersion, null);
    const failed = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(filter: { projectId: $p, action: "dataset.ingest", outcome: FAILED }) { totalCount } }`, {
        p: projectId,
      }),
    );
    assert.ok(failed.auditEvents.totalCount >= 2, "failed ingests are audited");
  });

  it("ingests a read-only SQL query whose URL is a secret, never showing the URL, and refuses a query that writes", async (ctx) => {
    const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    const probe = new pg.Client({ connectionString: url });
    try {
      await probe.connect();
    } catch {
      ctx.skip(`no PostgreSQL server at ${new URL(url).host} to query`);
      return;
    }
    const table = `sluice_src_${process.pid}`;
    await probe.query(`DROP TABLE IF EXISTS ${table}`);
    await probe.query(`CREATE TABLE ${table} (id int8, amount numeric, paid boolean, at timestamptz, note text)`);
    await probe.query(
      `INSERT INTO ${table} SELECT g, g * 1.5, g % 2 = 0, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour', 'n' || g FROM generate_series(1, 25000) g`,
    );
    try {
      const secretUrl = url.includes("?") ? `${url}&application_name=secret-marker` : `${url}?application_name=secret-marker`;
      const set = dataOf(
        await t.gql(`mutation($i: SetSecretInput!) { setSecret(input: $i) { __typename ... on Error { message } } }`, {
          i: { projectId, name: "WAREHOUSE_URL", value: secretUrl },
        }),
      );
      assert.equal(set.setSecret.__typename, "SecretPayload", set.setSecret.message);
      const id = await dataset("warehouse");
      const put = async (name: string, query: string) =>
        dataOf(
          await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on Error { message } } }`, {
            i: { datasetId: id, name, kind: "POSTGRES_QUERY", secret: "WAREHOUSE_URL", query },
          }),
        ).putDatasetSource;
      assert.equal((await put("orders", `SELECT * FROM ${table} ORDER BY id`)).__typename, "DatasetSourcePayload");
      const ok = await ingest(id, "orders");
      assert.equal(ok.__typename, "IngestDatasetPayload", JSON.stringify(ok));
      assert.equal(ok.version.rowCount, 25000);
      assert.deepEqual(
        ok.version.schema.map((c: any) => [c.name, c.type]),
        [
          ["id", "BIGINT"],
          ["amount", "DOUBLE"],
          ["paid", "BOOLEAN"],
          ["at", "TIMESTAMP WITH TIME ZONE"],
          ["note", "VARCHAR"],
        ],
      );
      const amount = ok.version.profile.columns.find((c: any) => c.name === "amount");
      assert.equal(amount.mean, (1.5 * 25001) / 2);

      assert.equal((await put("writer", `INSERT INTO ${table} (id) VALUES (0) RETURNING id`)).__typename, "DatasetSourcePayload");
      const refused = await ingest(id, "writer");
      assert.equal(refused.__typename, "InvalidInputError", JSON.stringify(refused));
      assert.equal((await put("sneaky", `SELECT 1; DELETE FROM ${table}`)).__typename, "DatasetSourcePayload");
      assert.equal((await ingest(id, "sneaky")).__typename, "InvalidInputError");
      const [{ n }] = (await probe.query(`SELECT count(*)::int AS n FROM ${table}`)).rows;
      assert.equal(n, 25000, "nothing was written");

      const everything = JSON.stringify(
        dataOf(
          await t.gql(
            `query($p: ID!) { auditEvents(filter: { projectId: $p }, first: 500) { nodes { action input result } } secrets { nodes { name } } }`,
            {
              p: projectId,
            },
          ),
        ),
      );
      assert.ok(everything.includes("secret.set") && everything.includes("WAREHOUSE_URL"), everything.slice(0, 300));
      assert.ok(!everything.includes("secret-marker"), "the URL appears in no response or audit entry");
    } finally {
      await probe.query(`DROP TABLE IF EXISTS ${table}`);
      await probe.end();
    }
  });

  it("ingests an uploaded file over HTTP, and refuses one over the size limit", async () => {
    const id = await dataset("uploaded");
    const body = "x,y\n1,2\n3,4\n";
    const res = await fetch(`${t.url}/datasets/${id}/uploads?format=csv&name=points.csv`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "text/csv" },
      body,
    });
    assert.equal(res.status, 201);
    const json = (await res.json()) as any;
    assert.equal(json.rowCount, 2);
    const same = await fetch(`${t.url}/datasets/${id}/uploads?format=csv`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}` },
      body,
    });
    assert.equal(same.status, 200);
    assert.equal(((await same.json()) as any).created, false);
    const anonymous = await fetch(`${t.url}/datasets/${id}/uploads?format=csv`, { method: "POST", body });
    assert.equal(anonymous.status, 401);
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const refused = await fetch(`${t.url}/datasets/${id}/uploads?format=csv`, {
      method: "POST",
      headers: { authorization: `Bearer ${viewer.token}` },
      body,
    });
    assert.equal(refused.status, 403);
    const big = "x,y\n" + "123456789,987654321\n".repeat(400);
    const tooLarge = await fetch(`${t.url}/datasets/${id}/uploads?format=csv`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.adminToken}` },
      body: big,
    });
    assert.equal(tooLarge.status, 413);
    const versions = dataOf(await t.gql(`query($id: ID) { dataset(id: $id) { versions { totalCount } } }`, { id }));
    assert.equal(versions.dataset.versions.totalCount, 1, "nothing recorded from the refused upload");
  });
});
