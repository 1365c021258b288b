import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "graphql-ws";
import { runSystemChange } from "../../src/events/system-change";
import { claimStageRuns } from "../../src/runs/engine/claims";
import { completeAttempt } from "../../src/runs/engine/completion";
import { eventually } from "../helpers/eventually";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, moduleRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const file = { kind: "File" };

/** Collects `count` messages of a subscription, or fails after a timeout. */
function collect<T>(client: Client, query: string, variables: Record<string, unknown>, count: number, field: string): Promise<T[]> {
  const items: T[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${items.length} of ${count}: ${JSON.stringify(items)}`)), 10_000);
    const stop = client.subscribe<Record<string, T>>(
      { query, variables },
      {
        next: (msg) => {
          if (msg.errors) return reject(new Error(JSON.stringify(msg.errors)));
          if (items.length === count) return; // already resolved; later messages are not ours
          items.push(msg.data![field]!);
          if (items.length === count) {
            clearTimeout(timer);
            stop();
            resolve(items);
          }
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => undefined,
      },
    );
  });
}

/** The most attempts of `runIds`' stage runs that overlapped in time. */
async function peakOverlap(t: TestServer, runIds: string[]): Promise<number> {
  const rows: Array<{ started_at: Date; finished_at: Date }> = await t.server.services.db.dataSource.query(
    `SELECT a.started_at, a.finished_at FROM stage_attempts a JOIN stage_runs s ON s.id = a.stage_run_id WHERE s.run_id = ANY($1)`,
    [runIds],
  );
  const edges = rows.flatMap((r) => [
    [new Date(r.started_at).getTime(), 1],
    [new Date(r.finished_at).getTime(), -1],
  ]) as Array<[number, number]>;
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (running += d));
  return peak;
}

describe("run streams", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "streams");
  });
  after(async () => {
    await t.close();
  });

  it("replays a finished run's events from cursor 0, in order, and resumes after any cursor", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "evented",
      stages: [
        { name: "a", run: moduleRun("produce"), outputs: { out: file } },
        { name: "b", run: moduleRun("relay"), inputs: { in: { from: "a.out" } }, outputs: { out: file } },
      ],
    });
    const runId = await triggerRun(t, pipelineId);
    await waitForRun(t, runId);
    const q = `subscription($r: ID, $after: String) { runEvents(runId: $r, after: $after) { cursor type stage } }`;
    const all = await collect<{ cursor: string; type: string; stage: string | null }>(t.ws(), q, { r: runId, after: "0" }, 8, "runEvents");
    assert.deepEqual(
      all.map((e) => (e.stage ? `${e.type}:${e.stage}` : e.type)),
      [
        "run.queued",
        "stage.queued:a",
        "run.started",
        "stage.started:a",
        "stage.succeeded:a",
        "stage.queued:b",
        "stage.started:b",
        "stage.succeeded:b",
      ],
    );
    const rest = await collect<{ type: string }>(t.ws(), q, { r: runId, after: all[4]!.cursor }, 4, "runEvents");
    assert.deepEqual(
      rest.map((e) => e.type),
      ["stage.queued", "stage.started", "stage.succeeded", "run.succeeded"],
    );
  });

  it("streams a stage's log from the start and a run's metrics filtered by key", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "chatty",
      stages: [{ name: "p", run: moduleRun("produce"), outputs: { out: file } }],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    const logs = await collect<{ text: string; stream: string }>(
      t.ws(),
      `subscription($s: ID!) { stageLogStream(stageRunId: $s, after: "0") { text stream } }`,
      { s: stage(run, "p").id },
      1,
      "stageLogStream",
    );
    assert.match(logs[0]!.text, /producing in p/);
    dataOf(
      await t.gql(`mutation($i: LogMetricsInput!) { logMetrics(input: $i) { __typename } }`, {
        i: {
          runId: run.id,
          points: [
            { key: "loss", value: 0.5, step: 1 },
            { key: "acc", value: 0.9, step: 1 },
            { key: "loss", value: 0.25, step: 2 },
          ],
        },
      }),
    );
    const loss = await collect<{ key: string; value: number; step: number }>(
      t.ws(),
      `subscription($r: ID!) { runMetrics(runId: $r, keys: ["loss"], after: "0") { key value step } }`,
      { r: run.id },
      2,
      "runMetrics",
    );
    assert.deepEqual(loss, [
      { key: "loss", value: 0.5, step: 1 },
      { key: "loss", value: 0.25, step: 2 },
    ]);
  });

  it("refuses a metric batch over 10,000 points or with a non-finite value, storing none of it", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, { name: "metered", stages: [{ name: "x", run: { operator: "noop" } }] });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    const q = `mutation($i: LogMetricsInput!) { logMetrics(input: $i) { __typename ... on InvalidInputError { problems { field } } } }`;
    const big = dataOf(
      await t.gql(q, { i: { runId: run.id, points: Array.from({ length: 10_001 }, (_, i) => ({ key: "k", value: i })) } }),
    );
    assert.equal(big.logMetrics.__typename, "InvalidInputError");
    const bad = dataOf(
      await t.gql(q, {
        i: {
          runId: run.id,
          points: [
            { key: "ok", value: 1 },
            { key: "bad key!", value: 2 },
          ],
        },
      }),
    );
    assert.deepEqual(
      bad.logMetrics.problems.map((p: any) => p.field),
      ["points[1].key"],
    );
    const stored = dataOf(await t.gql(`query($r: ID!) { metricHistory(runId: $r, key: "ok") { totalCount } }`, { r: run.id }));
    assert.equal(stored.metricHistory.totalCount, 0);
  });

  it("never runs more stages of one run at once than its maxParallel", async () => {
    const stages = Array.from({ length: 6 }, (_, i) => ({
      name: `s${i}`,
      run: moduleRun("sleep"),
      params: { ms: 150 },
      outputs: { out: file },
    }));
    const { pipelineId } = await applyPipeline(t, projectId, { name: "throttled", maxParallel: 2, stages });
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000);
    assert.equal(run.status, "SUCCEEDED");
    const peak = await peakOverlap(t, [run.id]);
    assert.ok(peak <= 2, `peak ${peak}`);
    assert.equal(peak, 2, "two ran side by side");
  });
});

describe("leases", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    // No runners here: the test holds leases itself, as a remote runner would.
    t = await startTestServer({ env: { SLUICE_RUNNERS: "none", SLUICE_LEASE_MS: "600" } });
    projectId = await seedProject(t, "leases");
  });
  after(async () => {
    await t.close();
  });

  it("takes back an expired lease without charging the retry budget, and refuses the old holder's completion", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "leased",
      stages: [{ name: "x", run: { operator: "noop" }, runner: { labels: ["gpu"] } }],
    });
    const runId = await triggerRun(t, pipelineId);
    const services = t.server.services;
    const [claimed] = await runSystemChange(services, (tx) =>
      claimStageRuns(tx, { owner: "agent:ghost", labels: ["gpu"], kinds: ["operator"], max: 1, leaseMs: 300 }),
    );
    assert.ok(claimed, "the stage was leased");
    const row = await eventually(async () => {
      const [r] = await services.db.dataSource.query(`SELECT status, max_attempts, lease_epoch FROM stage_runs WHERE id = $1`, [
        claimed!.id,
      ]);
      assert.equal(r.status, "QUEUED");
      return r;
    });
    assert.equal(row.max_attempts, 2, "the lost attempt is not charged");
    const [attempt] = await services.db.dataSource.query(`SELECT outcome FROM stage_attempts WHERE stage_run_id = $1`, [claimed!.id]);
    assert.equal(attempt.outcome, "LOST");
    const late = await runSystemChange(services, (tx) =>
      completeAttempt(tx, claimed!.id, claimed!.leaseEpoch, { status: "succeeded", outputs: {} }, {}),
    );
    assert.deepEqual(late, { accepted: false, reason: "NOT_RUNNING" });
    // Leased again by someone else: the first holder's epoch is now stale.
    const [again] = await runSystemChange(services, (tx) =>
      claimStageRuns(tx, { owner: "agent:other", labels: ["gpu"], kinds: ["operator"], max: 1, leaseMs: 60_000 }),
    );
    const stale = await runSystemChange(services, (tx) =>
      completeAttempt(tx, claimed!.id, claimed!.leaseEpoch, { status: "succeeded", outputs: {} }, {}),
    );
    assert.deepEqual(stale, { accepted: false, reason: "LEASE_LOST" });
    const fresh = await runSystemChange(services, (tx) =>
      completeAttempt(tx, again!.id, again!.leaseEpoch, { status: "succeeded", outputs: {} }, {}),
    );
    assert.deepEqual(fresh, { accepted: true, status: "SUCCEEDED" });
    const run = await waitForRun(t, runId);
    assert.equal(run.status, "SUCCEEDED");
  });
});

describe("concurrency limits across runs and labels", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer({
      env: { SLUICE_LOCAL_THREADS: "2", SLUICE_RUNNER_LABELS: "local,scarce", SLUICE_LABEL_LIMITS: "scarce=1" },
    });
    projectId = await seedProject(t, "limits");
  });
  after(async () => {
    await t.close();
  });

  it("runs at most maxConcurrentRuns runs of a pipeline at once; the others wait QUEUED", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "one-at-a-time",
      maxConcurrentRuns: 1,
      stages: [{ name: "s", run: moduleRun("sleep"), params: { ms: 200 }, outputs: { out: file } }],
    });
    const ids = [await triggerRun(t, pipelineId), await triggerRun(t, pipelineId), await triggerRun(t, pipelineId)];
    const runs = await Promise.all(ids.map((id) => waitForRun(t, id, 30_000)));
    assert.deepEqual(
      runs.map((r) => r.status),
      ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"],
    );
    assert.equal(await peakOverlap(t, ids), 1);
  });

  it("runs at most the label's limit of stages with that label at once, across runs", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "scarce",
      stages: [
        { name: "a", run: moduleRun("sleep"), params: { ms: 150 }, outputs: { out: file }, runner: { labels: ["local", "scarce"] } },
        { name: "b", run: moduleRun("sleep"), params: { ms: 150 }, outputs: { out: file }, runner: { labels: ["local", "scarce"] } },
      ],
    });
    const ids = [await triggerRun(t, pipelineId), await triggerRun(t, pipelineId)];
    await Promise.all(ids.map((id) => waitForRun(t, id, 30_000)));
    assert.equal(await peakOverlap(t, ids), 1);
  });
});

describe("log retention", () => {
  it("deletes stage log chunks older than the retention and keeps newer ones", async () => {
    const t = await startTestServer({ env: { SLUICE_LOG_RETENTION_DAYS: "7" } });
    try {
      const projectId = await seedProject(t, "retention");
      const { pipelineId } = await applyPipeline(t, projectId, {
        name: "logged",
        stages: [{ name: "p", run: moduleRun("produce"), outputs: { out: file } }],
      });
      const run = await waitForRun(t, await triggerRun(t, pipelineId));
      const db = t.server.services.db.dataSource;
      const stageRunId = stage(run, "p").id;
      await db.query(
        `INSERT INTO stage_logs (run_id, stage_run_id, attempt, stream, text, created_at) VALUES ($1, $2, 1, 'stdout', 'old', now() - interval '8 days')`,
        [run.id, stageRunId],
      );
      assert.equal(await t.server.engine!.expireLogs(), 1);
      const left: Array<{ text: string }> = await db.query(`SELECT text FROM stage_logs WHERE stage_run_id = $1`, [stageRunId]);
      assert.ok(left.length >= 1 && left.every((l) => l.text !== "old"));
    } finally {
      await t.close();
    }
  });
});
