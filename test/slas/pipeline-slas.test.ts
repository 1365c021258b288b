import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/kernel/logger";
import { nextFireTimes } from "../../src/triggers/cron";
import { fireSchedule } from "../../src/triggers/fire";
import type { SlaLoop } from "../../src/slas";
import { eventually } from "../helpers/eventually";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, moduleRun, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { controlledLoop, CREATE_SLA, HOUR, MINUTE, plus, SLA_TEST_ENV, slaEventsOf, slaNamed, STATUS, tickAt } from "./support";

const RUN_TIMES = `query($id: ID!) { run(id: $id) { status startedAt finishedAt } }`;

describe("pipeline SLAs, judged on a controlled clock", () => {
  let t: TestServer;
  let projectId: string;
  let loop: SlaLoop;
  let scratch: string;

  before(async () => {
    t = await startTestServer({ env: SLA_TEST_ENV });
    projectId = await seedProject(t, "sla-pipelines");
    ({ loop } = controlledLoop(t));
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-sla-"));
  });
  after(async () => {
    await loop.close();
    await t.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  async function runTimes(runId: string): Promise<{ status: string; startedAt: Date | null; finishedAt: Date | null }> {
    const r = dataOf(await t.gql(RUN_TIMES, { id: runId })).run;
    return { status: r.status, startedAt: r.startedAt && new Date(r.startedAt), finishedAt: r.finishedAt && new Date(r.finishedAt) };
  }

  async function succeeded(pipelineId: string, params?: Record<string, unknown>): Promise<Date> {
    const runId = await triggerRun(t, pipelineId, params);
    const run = await waitForRun(t, runId);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.error));
    return (await runTimes(runId)).finishedAt!;
  }

  it("freshness declared in the spec: breaches when no run succeeded for longer than the objective, once, and recovers with a success", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "nightly",
      stages: [{ name: "make", run: moduleRun("produce"), outputs: { out: { kind: "File" } } }],
      slas: [{ name: "nightly-fresh", kind: "PIPELINE_FRESHNESS", objective: "2h", severity: "CRITICAL" }],
    });
    const sla = await slaNamed(t, projectId, "nightly-fresh");
    assert.deepEqual(
      [sla.kind, sla.subjectKind, sla.subjectName, sla.objective, sla.source, sla.pipelineId, sla.state],
      ["PIPELINE_FRESHNESS", "PIPELINE", "nightly", 7200, "SPEC", pipelineId, "PENDING"],
    );
    const created = new Date();
    // Never run: the clock runs from the SLA's creation, so "never" breaches too once the objective has passed.
    assert.equal((await tickAt(loop, plus(created, HOUR), sla.id)).judgement.state, "OK");
    const broke = await tickAt(loop, plus(created, 3 * HOUR), sla.id);
    assert.equal(broke.change, "BREACHED");
    assert.ok(broke.judgement.observed! > 3 * 3600 - 60, `observed ${broke.judgement.observed} s`);
    // Still breached a minute later: no second event.
    assert.equal((await tickAt(loop, plus(created, 3 * HOUR + MINUTE), sla.id)).change, null);
    const status = dataOf(await t.gql(STATUS, { id: sla.id })).slaStatus;
    assert.equal(status.state, "BREACHED");
    assert.ok(status.openBreach.alertId, "the breach opened an alert");
    const alerts = dataOf(
      await t.gql(
        `query($p: ID!) { alerts(projectId: $p, filter: { source: SLA }) { nodes { id source slaId ruleId monitorId windowId servedName metric severity status value threshold } } }`,
        { p: projectId },
      ),
    ).alerts.nodes;
    const alert = alerts.find((a: any) => a.slaId === sla.id);
    assert.deepEqual(
      [
        alert.id,
        alert.source,
        alert.ruleId,
        alert.monitorId,
        alert.windowId,
        alert.servedName,
        alert.metric,
        alert.severity,
        alert.status,
        alert.threshold,
      ],
      [status.openBreach.alertId, "SLA", null, null, null, "nightly", "PIPELINE_FRESHNESS", "CRITICAL", "FIRING", 7200],
    );

    const finishedAt = await succeeded(pipelineId);
    const back = await tickAt(loop, plus(finishedAt, MINUTE), sla.id);
    assert.equal(back.change, "RECOVERED");
    assert.equal(back.judgement.state, "OK");
    assert.ok(Math.abs(back.judgement.observed! - 60) < 1, `observed ${back.judgement.observed} s since the success`);
    const events = await slaEventsOf(t, sla.id);
    assert.deepEqual(
      events.map((e) => e.type),
      ["sla.breached", "sla.recovered"],
    );
    assert.deepEqual(
      [events[0].payload.sla, events[0].payload.subjectName, events[0].payload.objective, events[0].payload.windowSeconds],
      ["nightly-fresh", "nightly", 7200, null],
    );
    const resolved = dataOf(
      await t.gql(`query($p: ID!) { alerts(projectId: $p, filter: { slaId: "${sla.id}" }) { nodes { status resolvedBy } } }`, {
        p: projectId,
      }),
    ).alerts.nodes;
    assert.deepEqual(resolved, [{ status: "RESOLVED", resolvedBy: null }], "the alert resolved on its own");
    const after = dataOf(await t.gql(STATUS, { id: sla.id })).slaStatus;
    assert.equal(after.openBreach, null);
    assert.equal(after.recentBreaches.length, 1);
    assert.ok(after.recentBreaches[0].recoveredAt);
  });

  it("deadline: a scheduled fire that started no run breaches; a fire whose run succeeded in time recovers", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "report",
      stages: [{ name: "make", run: moduleRun("produce"), outputs: { out: { kind: "File" } } }],
    });
    const schedule = dataOf(
      await t.gql(
        `mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { __typename ... on SchedulePayload { schedule { id } } ... on Error { message } } }`,
        { i: { pipelineId, name: "daily", cron: "0 3 * * *" } },
      ),
    ).createSchedule;
    assert.equal(schedule.__typename, "SchedulePayload", JSON.stringify(schedule));
    const scheduleId = schedule.schedule.id as string;
    const created = dataOf(
      await t.gql(CREATE_SLA, {
        i: { projectId, name: "report-by-0310", kind: "PIPELINE_DEADLINE", subjectName: "report", objective: 600, schedule: "daily" },
      }),
    ).createSla;
    assert.equal(created.__typename, "SlaPayload", JSON.stringify(created));
    const slaId = created.sla.id as string;
    // The next 03:00 after the SLA exists; nothing fires it (the real clock is elsewhere): no run at all.
    const [first] = nextFireTimes("0 3 * * *", "UTC", 1);
    assert.equal((await tickAt(loop, plus(first!, 5 * MINUTE), slaId)).judgement.state, "NO_DATA", "the deadline has not passed yet");
    const late = await tickAt(loop, plus(first!, 11 * MINUTE), slaId);
    assert.equal(late.change, "BREACHED");
    assert.equal(late.judgement.observed, 11 * 60, "late by the time since the fire");
    const fires = late.judgement.detail.fires as Array<Record<string, unknown>>;
    assert.deepEqual([fires[0]!.schedule, fires[0]!.scheduledFor, fires[0]!.runId], ["daily", first!.toISOString(), null]);

    // The next day's fire does start a run (through the trigger's own fire), which succeeds in time.
    const second = plus(first!, 24 * HOUR);
    const fired = await fireSchedule(t.server.services, scheduleId, second, createLogger("silent"));
    assert.equal(fired?.outcome, "STARTED");
    const run = await waitForRun(t, fired!.runId!);
    assert.equal(run.status, "SUCCEEDED");
    const met = await tickAt(loop, plus(second, 11 * MINUTE), slaId);
    assert.equal(met.change, "RECOVERED");
    assert.equal(met.judgement.state, "OK");
    const events = await slaEventsOf(t, slaId);
    assert.deepEqual(
      events.map((e) => [e.type, e.payload.observed]),
      [
        ["sla.breached", 660],
        ["sla.recovered", met.judgement.observed],
      ],
    );
  });

  it("maximum duration: a run still going past the objective breaches; a quicker newest run recovers", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "slowpoke",
      stages: [{ name: "nap", run: moduleRun("sleep"), params: { ms: 60_000 } }],
      slas: [{ name: "slowpoke-1m", kind: "PIPELINE_MAX_DURATION", objective: "1m" }],
    });
    const sla = await slaNamed(t, projectId, "slowpoke-1m");
    assert.equal((await tickAt(loop, new Date(), sla.id)).judgement.state, "NO_DATA", "no run yet");
    const slowId = await triggerRun(t, pipelineId);
    const startedAt = await eventually(async () => {
      const r = await runTimes(slowId);
      assert.ok(r.startedAt, "the run started");
      return r.startedAt;
    });
    const slow = await tickAt(loop, plus(startedAt, 2 * MINUTE), sla.id);
    assert.equal(slow.change, "BREACHED");
    assert.equal(slow.judgement.observed, 120, "the running run has taken two minutes by then");
    assert.equal(slow.judgement.detail.status, "RUNNING");
    const cancel = dataOf(
      await t.gql(`mutation($i: RunIdInput!) { cancelRun(input: $i) { __typename } }`, { i: { id: slowId } }),
    ).cancelRun;
    assert.equal(cancel.__typename, "RunPayload");
    await waitForRun(t, slowId);
    const finishedAt = await succeeded(pipelineId, { nap: { ms: 10 } });
    const quick = await tickAt(loop, plus(finishedAt, MINUTE), sla.id);
    assert.equal(quick.change, "RECOVERED");
    assert.ok(quick.judgement.observed! < 60, `the newest run took ${quick.judgement.observed} s`);
  });

  it("failure rate: breaches above the share of failed runs in the window, recovers as successes dilute it, and forgets runs outside the window", async () => {
    const marker = path.join(scratch, "flaky-marker");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "flaky",
      stages: [{ name: "try", run: moduleRun("flaky"), params: { marker }, outputs: { out: { kind: "File" } } }],
      slas: [{ name: "flaky-failures", kind: "PIPELINE_FAILURE_RATE", objective: 0.4, window: "1h" }],
    });
    const sla = await slaNamed(t, projectId, "flaky-failures");
    assert.equal(sla.windowSeconds, 3600);
    const failedId = await triggerRun(t, pipelineId);
    assert.equal((await waitForRun(t, failedId)).status, "FAILED");
    const failedAt = (await runTimes(failedId)).finishedAt!;
    const broke = await tickAt(loop, plus(failedAt, 1000), sla.id);
    assert.equal(broke.change, "BREACHED");
    assert.deepEqual([broke.judgement.observed, broke.judgement.detail], [1, { succeeded: 0, failed: 1 }]);
    await succeeded(pipelineId);
    const last = await succeeded(pipelineId);
    const back = await tickAt(loop, plus(last, 1000), sla.id);
    assert.equal(back.change, "RECOVERED");
    assert.deepEqual(back.judgement.detail, { succeeded: 2, failed: 1 });
    // Two hours on, no run finished in the window: nothing to judge, which is never a breach.
    assert.equal((await tickAt(loop, plus(last, 2 * HOUR), sla.id)).judgement.state, "NO_DATA");
  });
});
