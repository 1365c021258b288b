import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/kernel/logger";
import { EndpointStatsRecorder } from "../../src/serving/endpoint-stats/endpoint-stats-recorder";
import { EndpointStatsService } from "../../src/serving/endpoint-stats/endpoint-stats.service";
import { LATENCY_BUCKETS, emptyBuckets, histogramQuantile, latencyBucket } from "../../src/serving/endpoint-stats/histogram";
import { NO_MODEL_VERSION } from "../../src/serving/endpoint-stats/endpoint-stat.entity";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, infer, linearModel, servedModel, setChampion, uploadVersion } from "./helpers";

interface StatRow {
  served_name: string;
  model_version_id: string;
  variant: string;
  requests: number;
  bad_requests: number;
  refused: number;
  server_errors: number;
  rows: string;
  latency_buckets: number[];
  cpu_ms: number;
}

async function statRows(t: TestServer, projectId: string): Promise<StatRow[]> {
  return (await t.server.services.db.dataSource.query(
    "SELECT * FROM endpoint_stats WHERE project_id = $1 ORDER BY served_name, model_version_id, variant, minute",
    [projectId],
  )) as StatRow[];
}

const X = (rows: number[][]) => ({ inputs: [{ name: "X", shape: [rows.length, 2], datatype: "FP32", data: rows.flat() }] });

describe("endpoint statistics of served requests", () => {
  let t: TestServer;
  let projectId: string;
  let versionId: string;

  before(async () => {
    // A flush interval longer than the test: rows appear only when the test flushes.
    t = await startTestServer({ env: { SLUICE_ENDPOINT_STATS_FLUSH_MS: "300000", SLUICE_SERVING_MAX_ROWS: "50" } });
    projectId = await seedProject(t, "endpoint-stats");
    versionId = (await servedModel(t, projectId, "linear", linearModel([1, 2], 0))).versionId;
  });
  after(async () => {
    await t.close();
  });

  it("counts OIP and GraphQL predict requests, their rows, errors by kind and CPU, in memory until a flush", async () => {
    const from = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    for (let i = 0; i < 3; i++) assert.equal((await infer(t, "/v2/models/linear/infer", X([[i, 1]]), { project: projectId })).status, 200);
    assert.equal(
      (
        await infer(
          t,
          "/v2/models/linear/infer",
          X([
            [1, 1],
            [2, 2],
            [3, 3],
          ]),
          { project: projectId },
        )
      ).status,
      200,
    );
    const p = await t.gql(
      `query($p: ID!) { predict(projectId: $p, model: "linear", instances: [{X: [1, 1]}, {X: [2, 1]}]) { modelVersion } }`,
      {
        p: projectId,
      },
    );
    dataOf(p);
    // Bad requests: an input the model does not have (400), and more rows than SLUICE_SERVING_MAX_ROWS (413).
    const wrong = await infer(
      t,
      "/v2/models/linear/infer",
      { inputs: [{ name: "nope", shape: [1, 2], datatype: "FP32", data: [1, 1] }] },
      { project: projectId },
    );
    assert.equal(wrong.status, 400);
    const big = await infer(t, "/v2/models/linear/infer", X(Array.from({ length: 51 }, () => [1, 1])), { project: projectId });
    assert.equal(big.status, 413);
    // Refused: a champion that is not APPROVED (409).
    const governed = await createModel(t, projectId, "governed", false);
    await uploadVersion(t, governed, linearModel([3, 0], 0));
    await setChampion(t, governed, 1);
    assert.equal((await infer(t, "/v2/models/governed/infer", X([[1, 1]]), { project: projectId })).status, 409);
    // A name nobody serves is not recorded: the client chooses it.
    assert.equal((await infer(t, "/v2/models/nobody/infer", X([[1, 1]]), { project: projectId })).status, 404);

    assert.deepEqual(await statRows(t, projectId), [], "nothing is written on the request path");
    await t.server.services.endpointStatsRecorder.flush();

    const rows = await statRows(t, projectId);
    assert.deepEqual(
      rows.map((r) => [
        r.served_name,
        r.model_version_id === versionId ? "v" : r.model_version_id,
        r.variant,
        r.requests,
        r.bad_requests,
        r.refused,
        r.server_errors,
        Number(r.rows),
      ]),
      [
        ["governed", NO_MODEL_VERSION, "primary", 1, 0, 1, 0, 0],
        ["linear", NO_MODEL_VERSION, "primary", 1, 1, 0, 0, 0], // the 413, refused before a model was chosen
        ["linear", "v", "primary", 6, 1, 0, 0, 3 + 3 + 2], // the 400 was not decoded: no rows
      ],
    );
    const served = rows[2]!;
    assert.equal(served.latency_buckets.length, LATENCY_BUCKETS);
    assert.equal(
      served.latency_buckets.reduce((a, b) => a + b, 0),
      5,
      "the five answered requests are in the histogram",
    );
    assert.ok(served.cpu_ms > 0, `onnxruntime CPU was counted: ${served.cpu_ms}`);

    const to = new Date(from.getTime() + 2 * 60_000);
    const totals = await t.server.services.endpointStats.window({ projectId, servedName: "linear", from, to });
    assert.equal(totals.requests, 7);
    assert.equal(totals.errors, 2);
    assert.equal(totals.badRequests, 2);
    assert.equal(totals.errorRate, 2 / 7);
    assert.equal(totals.rows, 8);
    assert.ok(totals.cpuSeconds > 0);
    assert.ok(totals.p50Ms !== null && totals.p99Ms !== null && totals.p50Ms <= totals.p99Ms, JSON.stringify(totals));
    assert.equal(totals.p99Ms, histogramQuantile(0.99, served.latency_buckets));
    const ofVersion = await t.server.services.endpointStats.window({
      projectId,
      servedName: "linear",
      from,
      to,
      modelVersionId: versionId,
    });
    assert.deepEqual([ofVersion.requests, ofVersion.errors], [6, 1]);
  });

  it("adds a later flush to the same minute's row", async () => {
    const before = (await statRows(t, projectId)).find((r) => r.model_version_id === versionId)!;
    assert.equal((await infer(t, "/v2/models/linear/infer", X([[5, 5]]), { project: projectId })).status, 200);
    await t.server.services.endpointStatsRecorder.flush();
    const now = (await statRows(t, projectId)).filter((r) => r.model_version_id === versionId);
    // The minute may have turned between the two flushes: then the request is in a second row.
    const total = now.reduce((n, r) => n + r.requests, 0);
    assert.equal(total, before.requests + 1);
  });
});

describe("the endpoint statistics recorder on a controlled clock", () => {
  let t: TestServer;
  let stats: EndpointStatsService;
  const projectId = randomUUID();
  const v1 = randomUUID();
  const v2 = randomUUID();
  const t0 = Date.parse("2026-03-01T10:00:00.000Z");

  before(async () => {
    t = await startTestServer();
    stats = new EndpointStatsService(t.server.services.db.dataSource);
  });
  after(async () => {
    await t.close();
  });

  it("sums minute rows into a window: counts, errors by kind, rows, CPU and hand-computed quantiles", async () => {
    let now = t0 + 10_000;
    const recorder = new EndpointStatsRecorder(
      t.server.services.db.dataSource,
      { flushMs: 60_000, maxKeys: 100 },
      createLogger("silent"),
      () => now,
    );
    const base = { projectId, servedName: "fraud", modelVersionId: v1, variant: "primary" as const, rows: 2, cpuMs: 1.5 };
    // Minute 10:00 — eight answered at 3 ms (bucket (2,5]), two at 40 ms ((25,50]), one server error.
    for (let i = 0; i < 8; i++) recorder.record({ ...base, outcome: "ok", latencyMs: 3 });
    recorder.record({ ...base, outcome: "ok", latencyMs: 40 });
    await recorder.flush(); // the same minute, written in two upserts
    recorder.record({ ...base, outcome: "ok", latencyMs: 40 });
    recorder.record({ ...base, outcome: "error", latencyMs: 1 });
    // Minute 10:01 — version 2 as a canary: one refusal, one bad request, one slow answer.
    now = t0 + 70_000;
    const canary = { ...base, modelVersionId: v2, variant: "canary" as const };
    recorder.record({ ...canary, outcome: "refused", latencyMs: 0, rows: 0 });
    recorder.record({ ...canary, outcome: "bad_request", latencyMs: 0, rows: 0 });
    recorder.record({ ...canary, outcome: "ok", latencyMs: 20_000 });
    // Minute 10:05 — a shadow copy.
    now = t0 + 5 * 60_000;
    recorder.record({ ...base, variant: "shadow", outcome: "ok", latencyMs: 3 });
    await recorder.close();
    assert.equal(recorder.pending, 0);

    const minute0 = await stats.window({ projectId, servedName: "fraud", from: new Date(t0), to: new Date(t0 + 60_000) });
    const buckets = emptyBuckets();
    buckets[latencyBucket(3)] = 8;
    buckets[latencyBucket(40)] = 2;
    assert.deepEqual(minute0.latencyBuckets, buckets);
    assert.equal(minute0.requests, 11);
    assert.deepEqual([minute0.serverErrors, minute0.errors, minute0.badRequests, minute0.refused], [1, 1, 0, 0]);
    assert.equal(minute0.errorRate, 1 / 11);
    // p50: rank 5 of 10 inside (2,5] holding 8 → 2 + 3 × 5/8 = 3.875; p99: rank 9.9, 8 below (25,50] of 2 → 25 + 25 × 1.9/2 = 48.75
    assert.equal(minute0.p50Ms, 3.875);
    assert.equal(minute0.p99Ms, 48.75);
    assert.equal(minute0.meanMs, (8 * 3 + 2 * 40) / 10);
    assert.equal(minute0.rows, 22);
    assert.equal(minute0.cpuSeconds, (11 * 1.5) / 1000);

    const all = await stats.window({ projectId, servedName: "fraud", from: new Date(t0), to: new Date(t0 + 10 * 60_000) });
    assert.equal(all.requests, 11 + 3 + 1);
    assert.equal(all.errors, 3);
    // 20 s is past the last bound: its quantiles answer the largest finite bound.
    assert.equal(all.latencyBuckets[LATENCY_BUCKETS - 1], 1);
    const seen = await stats.window({
      projectId,
      servedName: "fraud",
      from: new Date(t0),
      to: new Date(t0 + 10 * 60_000),
      variants: ["primary", "canary"],
    });
    assert.equal(seen.requests, 14, "shadow copies left out");
    const canaryOnly = await stats.window({
      projectId,
      servedName: "fraud",
      from: new Date(t0),
      to: new Date(t0 + 10 * 60_000),
      modelVersionId: v2,
    });
    assert.deepEqual([canaryOnly.requests, canaryOnly.refused, canaryOnly.badRequests, canaryOnly.p50Ms], [3, 1, 1, 10_000]);

    const empty = await stats.window({ projectId, servedName: "nobody", from: new Date(t0), to: new Date(t0 + 60_000) });
    assert.deepEqual([empty.requests, empty.errorRate, empty.p50Ms, empty.p99Ms, empty.meanMs], [0, null, null, null, null]);
    await assert.rejects(stats.window({ projectId, servedName: "fraud", from: new Date(t0), to: new Date(t0) }), /to > from/);
  });

  it("holds at most maxKeys entries between flushes and counts what it drops", async () => {
    const now = t0 + 20 * 60_000;
    const recorder = new EndpointStatsRecorder(
      t.server.services.db.dataSource,
      { flushMs: 60_000, maxKeys: 2 },
      createLogger("silent"),
      () => now,
    );
    const r = { projectId, modelVersionId: v1, variant: "primary" as const, outcome: "ok" as const, rows: 1, latencyMs: 1, cpuMs: 0 };
    recorder.record({ ...r, servedName: "a" });
    recorder.record({ ...r, servedName: "b" });
    recorder.record({ ...r, servedName: "c" });
    recorder.record({ ...r, servedName: "a" }); // an entry that exists still counts
    assert.equal(recorder.pending, 2);
    assert.deepEqual([recorder.stats.recorded, recorder.stats.dropped], [3, 1]);
    await recorder.close();
    const w = (name: string) => stats.window({ projectId, servedName: name, from: new Date(now - 60_000), to: new Date(now + 60_000) });
    assert.deepEqual([(await w("a")).requests, (await w("b")).requests, (await w("c")).requests], [2, 1, 0]);
  });
});
