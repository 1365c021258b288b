import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { sqlString, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

/**
 * Issue #13 finding 7: 0.3 MB of `bomb.csv.gz` was ingested as 78.6 M rows under
 * `SLUICE_UPLOAD_LIMIT=1mb`, because DuckDB decompressed the file as it read it. An upload is now
 * counted again after decompression, against the same limit.
 */

const LIMIT = 64 * 1024;

describe("compressed dataset uploads", () => {
  let t: TestServer;
  let datasetId: string;
  let editor: string;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_UPLOAD_LIMIT: String(LIMIT) } });
    const projectId = await seedProject(t, "uploads");
    editor = (await seedCaller(t, "EDITOR", projectId)).token;
    const created = dataOf(
      await t.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { ... on DatasetPayload { dataset { id } } } }`, {
        i: { projectId, name: "uploaded" },
      }),
    ).createDataset;
    datasetId = created.dataset.id;
  });
  after(async () => {
    await t?.close();
  });

  const upload = (body: Buffer, name: string) =>
    fetch(`${t.url}/datasets/${datasetId}/uploads?format=csv&name=${encodeURIComponent(name)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${editor}` },
      body,
    });

  async function versions(): Promise<number> {
    const res = dataOf(await t.gql(`query($id: ID) { dataset(id: $id) { versions { totalCount } } }`, { id: datasetId }));
    return res.dataset.versions.totalCount;
  }

  it("ingests a small gzip upload as its decompressed rows", async () => {
    const res = await upload(gzipSync("x,y\n1,2\n3,4\n"), "points.csv.gz");
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(((await res.json()) as any).rowCount, 2);
    assert.equal(await versions(), 1);
  });

  it("refuses a gzip bomb under the upload limit with 413, naming the limit, and stores nothing", async () => {
    // 8 MB of one repeated row: about 8 KB compressed, far under the 64 KiB limit.
    const bomb = gzipSync("a,b\n" + "1234567890,abcdefghij\n".repeat((8 * 1024 * 1024) / 22), { level: 9 });
    assert.ok(bomb.length < LIMIT, `the bomb is ${bomb.length} bytes compressed`);
    for (const name of ["bomb.csv.gz", "bomb.csv"]) {
      const res = await upload(bomb, name);
      assert.equal(res.status, 413, name);
      const body = (await res.json()) as any;
      assert.equal(body.error.code, "BAD_USER_INPUT");
      assertNames(body.error.message, String(LIMIT), "SLUICE_UPLOAD_LIMIT");
      assert.ok(!body.error.message.includes("/tmp"), "no server path in the refusal");
    }
    assert.equal(await versions(), 1, "the refused uploads created no version and left the earlier one");
  });

  it("refuses a Parquet file whose encoding packs more cells than the limit has bytes", async () => {
    const file = path.join(os.tmpdir(), `sluice-rle-bomb-${process.pid}.parquet`);
    try {
      // A million rows of two constant columns: a few KB, run-length encoded.
      await withDuckDb((conn) => conn.run(`COPY (SELECT 1 AS a, 2 AS b FROM range(1000000)) TO ${sqlString(file)} (FORMAT parquet)`));
      const body = fs.readFileSync(file);
      assert.ok(body.length < LIMIT, `the Parquet bomb is ${body.length} bytes`);
      const res = await fetch(`${t.url}/datasets/${datasetId}/uploads?format=parquet&name=rle.parquet`, {
        method: "POST",
        headers: { authorization: `Bearer ${editor}` },
        body,
      });
      assert.equal(res.status, 413);
      assert.match(
        ((await res.json()) as any).error.message,
        /2000000 cells\), the upload is over the limit of 65536 bytes \(SLUICE_UPLOAD_LIMIT\)/,
      );
      assert.equal(await versions(), 1);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it("refuses zstd, which it cannot count as it decompresses", async () => {
    const zstdFrame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    const res = await upload(zstdFrame, "bomb.csv.zst");
    assert.equal(res.status, 400);
    const refusal = ((await res.json()) as any).error;
    assert.equal(refusal.code, "BAD_USER_INPUT");
    assert.equal(refusal.problems[0].field, "body");
    assertNames(refusal.message, "zstd");
    assert.equal(await versions(), 1);
  });
});
