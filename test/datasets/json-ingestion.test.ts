import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { seedProject } from "../helpers/fixtures";
import { assertNames } from "../helpers/names";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const PENGUINS = path.resolve(__dirname, "../../../node_modules/vega-datasets/data/penguins.json");
const LIMIT = 256 * 1024;

const PROFILE = `profile { rowCount columns { name type kind count nullCount distinctCount distinctExact quantilesExact quantiles { q value } } }`;

/** The exact statistics of one column of penguins.json, computed here with a plain pass over its records. */
function expected(records: Array<Record<string, unknown>>, name: string) {
  const values = records.map((r) => r[name]).filter((v) => v !== null && v !== undefined);
  const numbers = values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
  return {
    count: values.length,
    nullCount: records.length - values.length,
    distinctCount: new Set(values).size,
    // Integer columns: the smallest value whose share of values at or below it reaches q.
    quantile: (q: number) => numbers[Math.max(1, Math.ceil(q * numbers.length)) - 1],
  };
}

/**
 * JSON (an array of objects) and nested JSON through every way data comes in: a FILE source, an
 * upload over HTTP (within the upload limits) and an `ingest` stage; malformed files refused with
 * their line and column; profiles whose distinct counts and quantiles are exact.
 */
describe("JSON ingestion", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  const records = JSON.parse(fs.readFileSync(PENGUINS, "utf8")) as Array<Record<string, unknown>>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-json-"));
    fs.copyFileSync(PENGUINS, path.join(dir, "penguins.json"));
    // Worker threads (the ingest operator) read the data roots from the environment, as a server's would.
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir, SLUICE_UPLOAD_LIMIT: String(LIMIT) } });
    projectId = await seedProject(t, "json");
  });
  after(async () => {
    await t?.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function dataset(name: string): Promise<string> {
    const res = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId, name },
      }),
    );
    return res.createDataset.dataset.id;
  }

  async function latest(id: string) {
    return dataOf(
      await t.gql(`query($id: ID) { dataset(id: $id) { latestVersion { rowCount origin ${PROFILE} } versions { totalCount } } }`, { id }),
    ).dataset;
  }

  function assertPenguinProfile(profile: any): void {
    assert.equal(profile.rowCount, records.length);
    for (const name of ["Species", "Island", "Beak Length (mm)", "Flipper Length (mm)", "Body Mass (g)", "Sex"]) {
      const col = profile.columns.find((c: any) => c.name === name);
      const want = expected(records, name);
      assert.equal(col.count, want.count, name);
      assert.equal(col.nullCount, want.nullCount, name);
      assert.equal(col.distinctCount, want.distinctCount, name);
      assert.equal(col.distinctExact, true, name);
      assert.equal(col.quantilesExact, true, name);
    }
    const mass = profile.columns.find((c: any) => c.name === "Body Mass (g)");
    assert.equal(mass.type, "BIGINT");
    const want = expected(records, "Body Mass (g)");
    assert.deepEqual(
      mass.quantiles.map((v: any) => v.value),
      mass.quantiles.map((v: any) => want.quantile(v.q)),
    );
  }

  it("ingests penguins.json from a FILE source whose format the extension says", async () => {
    const id = await dataset("penguins-source");
    const put = dataOf(
      await t.gql(
        `mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename ... on DatasetSourcePayload { source { config } } ... on Error { message } } }`,
        { i: { datasetId: id, name: "main", kind: "FILE", paths: ["penguins.json"] } },
      ),
    ).putDatasetSource;
    assert.equal(put.__typename, "DatasetSourcePayload", put.message);
    assert.equal(put.source.config.format, "json");
    const res = dataOf(
      await t.gql(
        `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on IngestDatasetPayload { version { rowCount ${PROFILE} } } ... on Error { message } } }`,
        { i: { datasetId: id, source: "main" } },
      ),
    ).ingestDataset;
    assert.equal(res.__typename, "IngestDatasetPayload", res.message);
    assertPenguinProfile(res.version.profile);
  });

  it("accepts penguins.json uploaded over HTTP, plain or gzip, with or without ?format=, within the upload limit", async () => {
    const id = await dataset("penguins-upload");
    const body = fs.readFileSync(PENGUINS);
    const upload = (query: string, content: Buffer) =>
      fetch(`${t.url}/datasets/${id}/uploads?${query}`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.adminToken}` },
        body: content,
      });
    const first = await upload("format=json&name=penguins.json", body);
    assert.equal(first.status, 201, await first.clone().text());
    assert.equal(((await first.json()) as any).rowCount, records.length);
    const state = await latest(id);
    assert.equal(state.latestVersion.origin.format, "json");
    assertPenguinProfile(state.latestVersion.profile);
    // The extension says the format; the same rows are the same version.
    const named = await upload("name=penguins.json", body);
    assert.equal(named.status, 200, await named.clone().text());
    assert.equal(((await named.json()) as any).created, false);
    const gzipped = await upload("name=penguins.json.gz", gzipSync(body));
    assert.equal(gzipped.status, 200, await gzipped.clone().text());

    // A JSON array that expands past the limit is refused like any other upload bomb.
    const bomb = gzipSync("[" + Array.from({ length: 40_000 }, () => '{"a":1,"b":"xxxxxxxx"}').join(",") + "]", { level: 9 });
    assert.ok(bomb.length < LIMIT);
    const refused = await upload("name=bomb.json.gz", bomb);
    assert.equal(refused.status, 413);
    assertNames(((await refused.json()) as any).error.message, "SLUICE_UPLOAD_LIMIT");

    const malformed = await upload("name=broken.json", Buffer.from('[\n  {"a": 1},\n  {"a": 2}\n  {"a": 3}\n]\n'));
    assert.equal(malformed.status, 400);
    const error = ((await malformed.json()) as any).error;
    assert.equal(error.code, "BAD_USER_INPUT");
    assertNames(error.message, "broken.json", "line 4", "column 3");
    assert.doesNotMatch(error.message, /Try |format ?=|\/tmp/);

    const unknown = await upload("name=penguins.xml", body);
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as any).error.problems[0].field, "format");
    assert.equal((await latest(id)).versions.totalCount, 1, "only the first upload made a version");
  });

  it("ingests JSON arrays and nested JSON in an ingest stage, and fails a malformed file naming its line and column", async () => {
    fs.writeFileSync(
      path.join(dir, "orders.json"),
      JSON.stringify(
        [
          { id: 1, customer: { name: "Ann", address: { city: "Oslo" } }, items: [{ sku: "a", qty: 2 }], tags: ["new"] },
          { id: 2, customer: { name: "Bob", address: null }, items: [], tags: [] },
        ],
        null,
        2,
      ),
    );
    fs.writeFileSync(path.join(dir, "broken.jsonl"), '{"id": 1}\n{"id": 2, "x": [1, 2}\n');
    const ingestStage = (name: string, dataset: string, paths: string[], format: string) => ({
      name,
      run: { operator: "ingest" },
      params: { dataset, paths, format },
      outputs: { data: { kind: "Dataset" } },
    });
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "json-ingest",
      stages: [
        ingestStage("penguins", "penguins-stage", ["penguins.json"], "json"),
        ingestStage("orders", "orders", ["orders.json"], "json"),
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status, s.failure])));
    const penguins = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "penguins-stage") { latestVersion { ${PROFILE} } } }`, { p: projectId }),
    );
    assertPenguinProfile(penguins.dataset.latestVersion.profile);
    const orders = dataOf(
      await t.gql(`query($p: ID) { dataset(projectId: $p, name: "orders") { latestVersion { rowCount schema { name type } } } }`, {
        p: projectId,
      }),
    ).dataset.latestVersion;
    assert.equal(orders.rowCount, 2);
    const types = Object.fromEntries(orders.schema.map((c: any) => [c.name, c.type]));
    assert.match(types.customer, /^STRUCT\("?name"? VARCHAR, "?address"? STRUCT\("?city"? VARCHAR\)\)$/);
    assert.equal(types.items, "STRUCT(sku VARCHAR, qty BIGINT)[]");
    assert.equal(types.tags, "VARCHAR[]");

    const broken = await applyPipeline(t, projectId, {
      name: "json-broken",
      stages: [ingestStage("broken", "broken", ["broken.jsonl"], "jsonl")],
    });
    const failed = await waitForRun(t, await triggerRun(t, broken.pipelineId), 60_000);
    assert.equal(failed.status, "FAILED");
    const failure = stage(failed, "broken").failure;
    assert.equal(stage(failed, "broken").attempts.length, 1, "bad input is not retried");
    assertNames(String(failure?.message), "broken.jsonl", "line 2", "column 21");
  });
});
