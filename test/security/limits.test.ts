import "reflect-metadata";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runSystemChange } from "../../src/events/system-change";
import { ScheduleRow } from "../../src/triggers/schedule.entity";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";
import { createSchedule, firesOf, sleep } from "../triggers/support";

const APPLY = `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) {
  __typename ... on ApplyPipelinePayload { outcome } ... on InvalidInputError { code problems { field message } } ... on Error { code message } } }`;

/** A fan-out/fan-in of `n` noop stages: one root, n - 2 leaves, one join (the run-engine bench's shape). */
function fanSpec(name: string, n: number): Record<string, unknown> {
  const file = { kind: "File" };
  const stages: unknown[] = [{ name: "root", run: { operator: "noop" }, outputs: { out: file } }];
  for (let i = 0; i < n - 2; i++) {
    stages.push({ name: `leaf-${i}`, run: { operator: "noop" }, inputs: { in: { from: "root.out" } }, outputs: { out: file } });
  }
  stages.push({
    name: "join",
    run: { operator: "noop" },
    inputs: Object.fromEntries(Array.from({ length: n - 2 }, (_, i) => [`in${i}`, { from: `leaf-${i}.out` }])),
  });
  return { name, stages };
}

interface Probed<T> {
  value: T;
  /** Wall-clock time of `work`. */
  ms: number;
  /** CPU time this process spent meanwhile (server and test share it): unlike wall-clock time, not stretched by other processes on a busy machine. */
  cpuMs: number;
  /** The longest a /healthz probe waited: how long the event loop was blocked, at most. */
  longestProbeMs: number;
  probes: number;
}

/** Runs `work` while probing /healthz every 20 ms (each probe must answer 200). */
async function whileProbing<T>(t: TestServer, work: () => Promise<T>): Promise<Probed<T>> {
  let longestProbeMs = 0;
  let count = 0;
  let probing = true;
  const probes = (async () => {
    while (probing) {
      const started = performance.now();
      const res = await fetch(`${t.url}/healthz`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      longestProbeMs = Math.max(longestProbeMs, performance.now() - started);
      count += 1;
      await new Promise((r) => setTimeout(r, 20)); // the probes' pace, not a wait for anything
    }
  })();
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    const value = await work();
    const used = process.cpuUsage(cpu);
    return { value, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000, longestProbeMs, probes: count };
  } finally {
    probing = false;
    await probes;
  }
}

async function failedAudits(t: TestServer, projectId: string, action: string): Promise<Array<Record<string, any>>> {
  const res = dataOf(
    await t.gql(`query($p: ID, $a: String) { auditEvents(filter: { projectId: $p, action: $a }) { nodes { action outcome } } }`, {
      p: projectId,
      a: action,
    }),
  );
  return (res.auditEvents.nodes as Array<Record<string, any>>).filter((n) => n.outcome === "FAILED");
}

describe("schedule and pipeline size limits", () => {
  let t: TestServer;
  let projectId: string;
  let pipelineId: string;
  before(async () => {
    // A body limit raised far enough for a 10,000-stage spec (1.5 MB): the stage limit must hold on its own.
    t = await startTestServer({ env: { SLUICE_BODY_LIMIT: "16mb" } });
    projectId = await seedProject(t, "limits");
    pipelineId = (await applyPipeline(t, projectId, { name: "scheduled", stages: [{ name: "a", run: { operator: "noop" } }] })).pipelineId;
  });
  after(async () => {
    await t.close();
  });

  it("refuses a schedule firing every second, naming the interval and SLUICE_MIN_SCHEDULE_SECONDS, and audits the attempt", async () => {
    for (const cron of ["* * * * * *", "*/30 * * * * *", "0,30 * * * * *"]) {
      const res = await createSchedule(t, { pipelineId, name: "too-often", cron });
      assert.equal(res.__typename, "InvalidInputError", `${cron}: ${JSON.stringify(res)}`);
      assert.equal(res.code, "BAD_USER_INPUT");
      assert.equal(res.problems[0].field, "cron");
      assertNames(res.problems[0].message, "SLUICE_MIN_SCHEDULE_SECONDS", cron.startsWith("*/30") || cron.startsWith("0,30") ? "30" : "1");
    }
    assert.ok((await failedAudits(t, projectId, "schedule.create")).length >= 3, "each refused attempt is in the audit log");
  });

  it("accepts a schedule every five minutes, and refuses an update that would fire too often", async () => {
    const res = await createSchedule(t, { pipelineId, name: "every-five", cron: "*/5 * * * *" });
    assert.equal(res.__typename, "SchedulePayload", JSON.stringify(res));
    const update = dataOf(
      await t.gql(
        `mutation($i: UpdateScheduleInput!) { updateSchedule(input: $i) { __typename ... on InvalidInputError { problems { field message } } } }`,
        { i: { id: res.schedule.id, cron: "*/10 * * * * *" } },
      ),
    ).updateSchedule;
    assert.equal(update.__typename, "InvalidInputError");
    assert.equal(update.problems[0].field, "cron");
    assertNames(update.problems[0].message, "10", "SLUICE_MIN_SCHEDULE_SECONDS");
  });

  it("does not fire a too-frequent schedule stored before the limit (until its cron is changed)", async () => {
    // As left by an older server: written straight to the table, announced as a created schedule.
    const id = await runSystemChange(t.server.services, async (tx) => {
      const row = await tx.manager.save(
        tx.manager.create(ScheduleRow, { projectId, pipelineId, name: "legacy", cron: "* * * * * *", timezone: "UTC", params: {} }),
      );
      tx.emit({ type: "schedule.created", projectId, subjectId: row.id, payload: { pipelineId } });
      return row.id;
    });
    await sleep(2500); // time must pass: two ticks of the every-second cron, which must not fire
    assert.equal((await firesOf(t, "schedule", id)).length, 0);
  });

  it("refuses a 10,000-stage spec in under a second while /healthz keeps answering, and audits the attempt", async (ctx) => {
    const { value, ms, cpuMs, longestProbeMs, probes } = await whileProbing(t, async () =>
      dataOf(await t.gql(APPLY, { i: { projectId, spec: fanSpec("huge", 10_000), baseDir: "/" } })),
    );
    const r = value.applyPipeline;
    assert.equal(r.__typename, "InvalidInputError", JSON.stringify(r).slice(0, 300));
    assert.equal(r.problems[0].field, "stages");
    assertNames(r.problems[0].message, "10000", "1000", "SLUICE_MAX_PIPELINE_STAGES");
    ctx.diagnostic(
      `refused in ${Math.round(ms)} ms (${Math.round(cpuMs)} ms of CPU); ${probes} probes, the longest ${Math.round(longestProbeMs)} ms`,
    );
    assert.ok(cpuMs < 1000, `refusing took ${Math.round(cpuMs)} ms of CPU`);
    assert.ok(probes > 0 && longestProbeMs < 5000, `/healthz waited ${Math.round(longestProbeMs)} ms at most`);
    assert.equal((await failedAudits(t, projectId, "pipeline.apply")).length, 1);
  });

  it("accepts a 1,000-stage spec (the bench's DAG) without blocking /healthz for seconds", async (ctx) => {
    const { value, ms, cpuMs, longestProbeMs } = await whileProbing(t, async () =>
      dataOf(await t.gql(APPLY, { i: { projectId, spec: fanSpec("dag1000", 1000), baseDir: "/" } })),
    );
    assert.equal(value.applyPipeline.__typename, "ApplyPipelinePayload", JSON.stringify(value.applyPipeline).slice(0, 300));
    ctx.diagnostic(
      `1,000-stage apply: ${Math.round(ms)} ms (${Math.round(cpuMs)} ms of CPU); longest /healthz wait ${Math.round(longestProbeMs)} ms`,
    );
    assert.ok(cpuMs < 2000, `the apply took ${Math.round(cpuMs)} ms of CPU`);
  });
});
