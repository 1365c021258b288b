import "reflect-metadata";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { createLogger } from "../../src/kernel/logger";
import { TriggerService } from "../../src/triggers";
import { TRIGGER_LEADER_LOCK } from "../../src/triggers/leader";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createEventRule, createSchedule, emitEvent, firesOf, type FireView, scheduleMutation, sleep, waitFor } from "./support";

const SPEC = (name: string) => ({ name, stages: [{ name: "x", run: { operator: "noop" }, params: { n: 0 } }] });

function assertOncePer(fires: FireView[], key: (f: FireView) => string | null): void {
  const keys = fires.map(key);
  assert.equal(new Set(keys).size, keys.length, `no duplicates among ${JSON.stringify(keys)}`);
  for (const f of fires) {
    assert.equal(f.outcome, "STARTED", JSON.stringify(f.detail));
    assert.equal(f.run?.triggerRef, f.id);
  }
}

async function runCount(t: TestServer, pipelineId: string): Promise<number> {
  return dataOf(await t.gql(`query($p: ID!) { runs(filter: { pipelineId: $p }) { totalCount } }`, { p: pipelineId })).runs.totalCount;
}

describe(
  "triggers across server processes",
  { skip: process.env.DATABASE_URL ? false : "needs PostgreSQL (two processes on one database)" },
  () => {
    let testDb: TestDatabase;
    let a: TestServer;
    let b: TestServer;
    let projectId: string;
    before(async () => {
      testDb = await createTestDatabase();
      // Every-second schedules keep these tests short.
      a = await startTestServer({ testDb, env: { SLUICE_MIN_SCHEDULE_SECONDS: "1" } });
      b = await startTestServer({ testDb, env: { SLUICE_MIN_SCHEDULE_SECONDS: "1" } });
      projectId = await seedProject(a, "cluster");
    });
    after(async () => {
      await a.close();
      await b.close();
      await testDb.drop();
    });

    const leaders = () => [a, b].filter((t) => t.server.triggers.isLeader);

    it("elects exactly one leader", async () => {
      await waitFor("a leader", async () => leaders().length === 1);
      await sleep(2_500); // time must pass: a retry round of the follower, which must not win too
      assert.equal(leaders().length, 1);
    });

    it("fires an event rule exactly once for each event, wherever it was emitted", async () => {
      const { pipelineId } = await applyPipeline(a, projectId, SPEC("events-once"));
      const ruleId = (await createEventRule(b, { pipelineId, name: "once", eventType: "job.done", params: { x: { n: "$.payload.n" } } }))
        .eventRule.id;
      const sent = [];
      for (let n = 0; n < 10; n++) sent.push(await emitEvent(n % 2 ? a : b, projectId, "job.done", { n }));
      const fires = await waitFor("ten fires", async () => {
        const f = await firesOf(a, "eventRule", ruleId);
        return f.length >= 10 ? f : undefined;
      });
      await sleep(2_500); // time must pass: past a sweep of the leader, which must add no second fire
      const settled = await firesOf(a, "eventRule", ruleId);
      assert.equal(settled.length, 10);
      assertOncePer(settled, (f) => f.eventId);
      assert.deepEqual(settled.map((f) => f.eventId).sort(), sent.map((s) => s.event.cursor).sort());
      assert.deepEqual(
        fires.map((f) => f.run!.params.x.n).sort((x, y) => x - y),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.equal(await runCount(a, pipelineId), 10);
    });

    it("fires each tick of a schedule once", async () => {
      const { pipelineId } = await applyPipeline(a, projectId, SPEC("ticks-once"));
      const id = (await createSchedule(b, { pipelineId, name: "tick", cron: "* * * * * *" })).schedule.id;
      await waitFor("three ticks", async () => (await firesOf(a, "schedule", id)).length >= 3);
      await scheduleMutation(a, "pauseSchedule", id);
      await sleep(700); // time must pass: a fire under way when the pause committed may still land
      const fires = await firesOf(b, "schedule", id);
      assertOncePer(fires, (f) => f.scheduledFor);
      assert.equal(await runCount(a, pipelineId), fires.length);
    });

    it("fires each tick and event once even while two processes both act as leader", async () => {
      const second = new TriggerService(b.server.services, createLogger("silent"), { alwaysLeader: true });
      await second.start();
      try {
        assert.equal(second.isLeader, true);
        assert.equal(leaders().length, 1, "the elected leader still leads too");
        const { pipelineId } = await applyPipeline(a, projectId, SPEC("split-brain"));
        const scheduleId = (await createSchedule(a, { pipelineId, name: "tick", cron: "* * * * * *" })).schedule.id;
        const ruleId = (await createEventRule(a, { pipelineId, name: "rule", eventType: "split.brain" })).eventRule.id;
        for (let n = 0; n < 5; n++) await emitEvent(n % 2 ? a : b, projectId, "split.brain", { n });
        await waitFor("five event fires", async () => (await firesOf(a, "eventRule", ruleId)).length >= 5);
        await waitFor("three ticks", async () => (await firesOf(a, "schedule", scheduleId)).length >= 3);
        await scheduleMutation(a, "pauseSchedule", scheduleId);
        await sleep(2_500); // time must pass: both leaders sweep within it, and neither may fire twice
        const ticks = await firesOf(a, "schedule", scheduleId);
        const heard = await firesOf(a, "eventRule", ruleId);
        assertOncePer(ticks, (f) => f.scheduledFor);
        assertOncePer(heard, (f) => f.eventId);
        assert.equal(heard.length, 5);
        assert.equal(await runCount(a, pipelineId), ticks.length + heard.length);
      } finally {
        await second.close();
      }
    });

    it("lets a standby take over when the leader stops, firing what arrived in between", async () => {
      const [leader] = leaders();
      const standby = leader === a ? b : a;
      const { pipelineId } = await applyPipeline(standby, projectId, SPEC("takeover"));
      const ruleId = (await createEventRule(standby, { pipelineId, name: "t", eventType: "handover.test" })).eventRule.id;
      await leader!.server.triggers.close();
      const sent = await emitEvent(standby, projectId, "handover.test", {});
      await waitFor("the standby leading", async () => standby.server.triggers.isLeader, 10_000);
      const [fire] = await waitFor("the fire after the handover", async () => {
        const f = await firesOf(standby, "eventRule", ruleId);
        return f.length > 0 ? f : undefined;
      });
      assert.equal(fire!.eventId, sent.event.cursor);
      // The old leader's process rejoins the election as a follower.
      await leader!.server.triggers.start();
      await sleep(2_500); // time must pass: a retry round of the rejoined process, which must not win
      assert.equal(leaders().length, 1);
      assert.equal(leaders()[0], standby);
    });

    it("takes leadership away from a process whose lock connection is cut", async () => {
      const [leader] = leaders();
      const admin = new Client({ connectionString: testDb.url });
      await admin.connect();
      try {
        const cut = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [TRIGGER_LEADER_LOCK],
        );
        assert.equal(cut.rowCount, 1, "one process held the lock");
        await waitFor("the leader noticing", async () => !leader!.server.triggers.isLeader, 5_000);
        await waitFor("a new leader", async () => leaders().length === 1, 10_000);
        const { pipelineId } = await applyPipeline(a, projectId, SPEC("after-cut"));
        const ruleId = (await createEventRule(a, { pipelineId, name: "c", eventType: "after.cut" })).eventRule.id;
        await emitEvent(b, projectId, "after.cut", {});
        await waitFor("a fire under the new leader", async () => (await firesOf(a, "eventRule", ruleId)).length === 1);
      } finally {
        await admin.end();
      }
    });
  },
);
