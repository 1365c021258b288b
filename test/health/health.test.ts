import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { createLogger } from "../../src/kernel/logger";
import { MAX_PIPELINE_LABELS, MAX_STAGE_LABELS, StageHealthMetrics } from "../../src/health/stage-metrics";
import { FAILURE_KINDS, failureKind } from "../../src/health/failure-kinds";
import { MAX_MODEL_LABELS, ServingMetrics } from "../../src/serving/metrics";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { eventually } from "../helpers/eventually";
import { applyPipeline, moduleRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { infer, linearModel, servedModel } from "../serving/helpers";

const STAGE_HEALTH = `query($p: ID!, $s: String!, $from: DateTime!, $to: DateTime!, $step: Int!) {
  stageHealth(pipeline: $p, stage: $s, from: $from, to: $to, step: $step) {
    pipelineId stage step
    points { at attempts succeeded failed canceled lost running retries failures { kind count }
             durationP50 durationP99 durationMax queueWaitP50 queueWaitP99 queueWaitMax rowsIn rowsOut }
  }
}`;
const ENDPOINT_HEALTH = `query($p: ID!, $n: String!, $from: DateTime!, $to: DateTime!, $step: Int!, $shadow: Boolean) {
  endpointHealth(projectId: $p, servedName: $n, from: $from, to: $to, step: $step, includeShadow: $shadow) {
    servedName step latencyBucketBoundsMs
    points { at requests errors badRequests refused serverErrors errorRate p50Ms p99Ms meanMs rows cpuSeconds latencyBuckets }
  }
}`;

/** A sample's value in /metrics, 0 when absent. */
async function sample(t: TestServer, line: string): Promise<number> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  const found = (await res.text()).split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

describe("operational health of stages and endpoints", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  const started = new Date(Date.now() - 1000);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-health-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    fs.writeFileSync(path.join(dir, "points.csv"), "x,y\n1,a\n2,b\n3,c\n4,d\n5,e\n");
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir, SLUICE_ENDPOINT_STATS_FLUSH_MS: "300000" } });
    projectId = await seedProject(t, "health");
    // Stage metrics are counted by the leading process: this one, once it holds the lock.
    await eventually(() => assert.equal(t.server.triggers.isLeader, true));
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives a stage that fails then succeeds its attempts, retry, failure kind, durations and queue waits", async () => {
    const marker = path.join(dir, "flaky-marker");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "flaky-health",
      stages: [
        {
          name: "f",
          run: moduleRun("flaky"),
          params: { marker },
          outputs: { out: { kind: "File" } },
          retries: { max: 2, initialDelayMs: 300 },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    assert.equal(run.status, "SUCCEEDED");
    const stageRunId = stage(run, "f").id;
    const rows = (await t.server.services.db.dataSource.query(
      `SELECT attempt, extract(epoch FROM (started_at - ready_at))::float8 AS wait, extract(epoch FROM (finished_at - started_at))::float8 AS duration,
              ready_at, finished_at FROM stage_attempts WHERE stage_run_id = $1 ORDER BY attempt`,
      [stageRunId],
    )) as Array<{ attempt: number; wait: number; duration: number; ready_at: Date; finished_at: Date }>;
    assert.equal(rows.length, 2);
    // The retry was ready when its delay was over, not when the first attempt failed: backoff is not queue wait.
    assert.ok(rows[1]!.ready_at.getTime() >= rows[0]!.finished_at.getTime() + 300, JSON.stringify(rows));

    const to = new Date(Date.now() + 60_000);
    const h = dataOf(
      await t.gql(STAGE_HEALTH, { p: pipelineId, s: "f", from: started.toISOString(), to: to.toISOString(), step: 3600 }),
    ).stageHealth;
    assert.equal(h.points.length, 1);
    const p = h.points[0];
    assert.deepEqual([p.attempts, p.succeeded, p.failed, p.canceled, p.lost, p.running, p.retries], [2, 1, 1, 0, 0, 0, 1]);
    assert.deepEqual(p.failures, [{ kind: "STAGE_ERROR", count: 1 }]);
    const waits = rows.map((r) => Math.max(0, r.wait)).sort((a, b) => a - b);
    const durations = rows.map((r) => r.duration).sort((a, b) => a - b);
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} ≠ ${b}`);
    close(p.queueWaitMax, waits[1]!);
    close(p.queueWaitP50, (waits[0]! + waits[1]!) / 2); // percentile_cont of two values: their mean
    close(p.durationMax, durations[1]!);
    close(p.durationP99, durations[0]! + 0.99 * (durations[1]! - durations[0]!));

    // Finer steps: every step of the window is a point, and the attempts land in the steps they started in.
    const fine = dataOf(
      await t.gql(STAGE_HEALTH, {
        p: pipelineId,
        s: "f",
        from: started.toISOString(),
        to: new Date(started.getTime() + 120_000).toISOString(),
        step: 1,
      }),
    ).stageHealth;
    assert.equal(fine.points.length, 120);
    assert.equal(
      fine.points.reduce((n: number, q: any) => n + q.attempts, 0),
      2,
    );
    assert.equal(new Date(fine.points[1].at).getTime() - new Date(fine.points[0].at).getTime(), 1000);

    // /metrics: counted by this (leading) process from the stage events.
    await eventually(async () => {
      await t.server.stageMetrics.settled();
      assert.equal(await sample(t, 'sluice_stage_attempts_total{pipeline="flaky-health",stage="f",outcome="FAILED"}'), 1);
      assert.equal(await sample(t, 'sluice_stage_attempts_total{pipeline="flaky-health",stage="f",outcome="SUCCEEDED"}'), 1);
      assert.equal(await sample(t, 'sluice_stage_failures_total{pipeline="flaky-health",stage="f",kind="STAGE_ERROR"}'), 1);
      assert.equal(await sample(t, 'sluice_stage_duration_seconds_count{pipeline="flaky-health",stage="f"}'), 2);
      assert.equal(await sample(t, 'sluice_stage_queue_wait_seconds_count{pipeline="flaky-health",stage="f"}'), 2);
    });
  });

  it("counts the rows of the dataset versions a stage read and produced", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "rows-health",
      stages: [
        {
          name: "ingest",
          run: { operator: "ingest" },
          params: { dataset: "points", paths: ["points.csv"], format: "csv" },
          outputs: { data: { kind: "Dataset" } },
        },
        {
          name: "big",
          run: { operator: "transform" },
          inputs: { points: { from: "ingest.data" } },
          params: { dataset: "big-points", sql: "SELECT * FROM points WHERE x > 2" },
          outputs: { data: { kind: "Dataset" } },
        },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => s.failure)));
    const window = { p: pipelineId, from: started.toISOString(), to: new Date(Date.now() + 60_000).toISOString(), step: 3600 };
    const ingest = dataOf(await t.gql(STAGE_HEALTH, { ...window, s: "ingest" })).stageHealth.points[0];
    const big = dataOf(await t.gql(STAGE_HEALTH, { ...window, s: "big" })).stageHealth.points[0];
    assert.deepEqual([ingest.rowsIn, ingest.rowsOut], [0, 5]);
    assert.deepEqual([big.rowsIn, big.rowsOut], [5, 3]);
    assert.equal(big.queueWaitMax >= 0, true);
    await eventually(async () => {
      await t.server.stageMetrics.settled();
      assert.equal(await sample(t, 'sluice_stage_rows_total{pipeline="rows-health",stage="big",direction="in"}'), 5);
      assert.equal(await sample(t, 'sluice_stage_rows_total{pipeline="rows-health",stage="big",direction="out"}'), 3);
    });
  });

  it("gives an endpoint's series after requests: counts, errors, latency quantiles, rows and CPU per step", async () => {
    await servedModel(t, projectId, "lin", linearModel([1, 2], 0));
    const from = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    for (let i = 0; i < 4; i++) {
      const r = await infer(
        t,
        "/v2/models/lin/infer",
        { inputs: [{ name: "X", shape: [2, 2], datatype: "FP32", data: [i, 1, 2, 3] }] },
        { project: projectId },
      );
      assert.equal(r.status, 200);
    }
    const bad = await infer(
      t,
      "/v2/models/lin/infer",
      { inputs: [{ name: "nope", shape: [1, 2], datatype: "FP32", data: [1, 1] }] },
      { project: projectId },
    );
    assert.equal(bad.status, 400);
    await t.server.services.endpointStatsRecorder.flush();
    const to = new Date(from.getTime() + 5 * 60_000);
    const h = dataOf(
      await t.gql(ENDPOINT_HEALTH, { p: projectId, n: "lin", from: from.toISOString(), to: to.toISOString(), step: 60 }),
    ).endpointHealth;
    assert.equal(h.points.length, 5);
    assert.equal(h.latencyBucketBoundsMs.length + 1, h.points[0].latencyBuckets.length);
    const total = (f: string) => h.points.reduce((n: number, q: any) => n + q[f], 0);
    assert.equal(total("requests"), 5);
    assert.equal(total("badRequests"), 1);
    assert.equal(total("errors"), 1);
    assert.equal(total("rows"), 8);
    assert.ok(total("cpuSeconds") > 0);
    const busy = h.points.filter((q: any) => q.requests > 0);
    for (const q of busy) assert.ok(q.p50Ms > 0 && q.p99Ms >= q.p50Ms, JSON.stringify(q));
    const empty = h.points.find((q: any) => q.requests === 0);
    assert.deepEqual([empty.errorRate, empty.p50Ms, empty.p99Ms], [null, null, null]);
    // Serving's metrics count rows and CPU too.
    assert.equal(await sample(t, 'sluice_inference_rows_total{model="lin"}'), 8);
  });

  it("refuses bad steps and windows, naming the argument, and unbounded series", async () => {
    const from = new Date("2026-01-01T00:00:00Z").toISOString();
    const code = async (q: string, v: Record<string, unknown>) => (await t.gql(q, v)).errors?.[0]?.extensions?.code;
    const vars = { p: projectId, n: "lin", from, to: new Date("2026-01-01T01:00:00Z").toISOString() };
    assert.equal(await code(ENDPOINT_HEALTH, { ...vars, step: 90 }), "BAD_USER_INPUT");
    assert.equal(await code(ENDPOINT_HEALTH, { ...vars, step: 30 }), "BAD_USER_INPUT");
    assert.equal(await code(ENDPOINT_HEALTH, { ...vars, to: from, step: 60 }), "BAD_USER_INPUT");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "tiny",
      stages: [{ name: "s", run: moduleRun("produce"), outputs: { out: { kind: "File" } } }],
    });
    const big = await t.gql(STAGE_HEALTH, { p: pipelineId, s: "s", from, to: new Date("2026-01-02T00:00:00Z").toISOString(), step: 1 });
    assert.equal(big.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(big.errors?.[0]?.message ?? "", /86400 points asked for; at most 1000/);
  });

  it("needs READ on the project", async () => {
    const other = await seedProject(t, "health-other");
    const outsider = await seedCaller(t, "VIEWER", other);
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const vars = { p: projectId, n: "lin", from: new Date(Date.now() - 120_000).toISOString(), to: new Date().toISOString(), step: 60 };
    assert.equal((await t.gql(ENDPOINT_HEALTH, vars, outsider.token)).errors?.[0]?.extensions?.code, "FORBIDDEN");
    dataOf(await t.gql(ENDPOINT_HEALTH, vars, viewer.token));
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "tiny2",
      stages: [{ name: "s", run: moduleRun("produce"), outputs: { out: { kind: "File" } } }],
    });
    const stageVars = { p: pipelineId, s: "s", from: vars.from, to: vars.to, step: 60 };
    assert.equal((await t.gql(STAGE_HEALTH, stageVars, outsider.token)).errors?.[0]?.extensions?.code, "FORBIDDEN");
    dataOf(await t.gql(STAGE_HEALTH, stageVars, viewer.token));
  });
});

describe("bounded label sets", () => {
  it("caps pipeline names, (pipeline, stage) pairs and served names, and keeps failure kinds to a fixed list", async () => {
    const registry = new Registry();
    const t = await startTestServer();
    try {
      const m = new StageHealthMetrics(registry, {
        db: t.server.services.db.dataSource,
        events: t.server.services.events,
        isLeader: () => true,
        log: createLogger("silent"),
      });
      for (let i = 0; i < MAX_PIPELINE_LABELS + 50; i++) m.attempts.inc({ ...m.labels(`pipeline-${i}`, "train"), outcome: "SUCCEEDED" });
      const pipelines = new Set((await m.attempts.get()).values.map((v) => v.labels.pipeline));
      assert.equal(pipelines.size, MAX_PIPELINE_LABELS + 1);
      assert.ok(pipelines.has("other") && pipelines.has("pipeline-0") && !pipelines.has(`pipeline-${MAX_PIPELINE_LABELS}`));
      assert.deepEqual(m.labels(`pipeline-${MAX_PIPELINE_LABELS + 10}`, "train"), { pipeline: "other", stage: "train" });
      // Stages: pairs beyond the bound are `other` (the first pipelines' own stages stay).
      for (let i = 0; i < MAX_STAGE_LABELS + 20; i++) m.labels("pipeline-1", `stage-${i}`);
      assert.equal(m.labels("pipeline-1", `stage-${MAX_STAGE_LABELS + 5}`).stage, "other");
      assert.equal(m.labels("pipeline-0", "train").stage, "train");
      assert.equal(m.labels("x".repeat(200), "s").pipeline, "invalid_name");
      // Failure kinds: a fixed list, anything else OTHER.
      assert.equal(failureKind("TIMEOUT"), "TIMEOUT");
      assert.equal(failureKind("LEASE_EXPIRED"), "LEASE_EXPIRED");
      assert.equal(failureKind("SOMETHING_AN_AGENT_MADE_UP"), "OTHER");
      assert.equal(failureKind(null), "OTHER");
      assert.equal(FAILURE_KINDS.at(-1), "OTHER");
      assert.equal(new Set(FAILURE_KINDS).size, FAILURE_KINDS.length);
      // Serving's `model` label.
      const serving = new ServingMetrics(new Registry());
      const models = new Set(Array.from({ length: MAX_MODEL_LABELS + 30 }, (_, i) => serving.modelLabel(`endpoint-${i}`)));
      assert.equal(models.size, MAX_MODEL_LABELS + 1);
      assert.ok(models.has("other"));
    } finally {
      await t.close();
    }
  });
});
