import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline } from "../helpers/pipelines";
import { openSharedDatabase, type SharedDatabase } from "../helpers/shared-database";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createSchedule, firesOf, scheduleMutation, SCHEDULE_FIELDS, sleep, waitFor } from "./support";

/** A one-stage pipeline whose stage takes a `label` parameter (a string). */
const SPEC = (name: string) => ({
  name,
  stages: [
    {
      name: "work",
      run: { operator: "noop" },
      params: { label: "default" },
      paramsSchema: { type: "object", properties: { label: { type: "string" } }, required: ["label"] },
    },
  ],
});

describe("schedules", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_MIN_SCHEDULE_SECONDS: "1" } });
    projectId = await seedProject(t, "schedules");
  });
  after(async () => {
    await t.close();
  });

  it("fires an every-second schedule, starting a SCHEDULE run recorded with its fire", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("every-second"));
    const created = await createSchedule(t, { pipelineId, name: "tick", cron: "* * * * * *", params: { work: { label: "scheduled" } } });
    assert.equal(created.__typename, "SchedulePayload", JSON.stringify(created));
    const id = created.schedule.id;
    try {
      const fires = await waitFor("a fire with its run", async () => {
        const f = await firesOf(t, "schedule", id);
        return f.length > 0 && f.every((x) => x.run) ? f : undefined;
      });
      const fire = fires[fires.length - 1]!;
      assert.equal(fire.kind, "SCHEDULE");
      assert.equal(fire.outcome, "STARTED");
      assert.equal(fire.sourceId, id);
      assert.equal(new Date(fire.scheduledFor!).getUTCMilliseconds(), 0, "a whole second");
      assert.equal(fire.run!.triggerKind, "SCHEDULE");
      assert.equal(fire.run!.triggerRef, fire.id);
      assert.deepEqual(fire.run!.params, { work: { label: "scheduled" } });
      const s = dataOf(await t.gql(`query($id: ID!) { schedule(id: $id) { lastFireAt } }`, { id })).schedule;
      assert.ok(new Date(s.lastFireAt).getTime() >= new Date(fire.scheduledFor!).getTime());
      const runs = dataOf(
        await t.gql(`query($p: ID!) { runs(filter: { pipelineId: $p, triggerKind: SCHEDULE }) { totalCount } }`, { p: pipelineId }),
      ).runs;
      assert.ok(runs.totalCount >= 1);
      const events = dataOf(
        await t.gql(`query { auditEvents(first: 5, filter: { action: "schedule.create" }) { nodes { targetId outcome } } }`),
      ).auditEvents.nodes;
      assert.ok(
        events.some((e: any) => e.targetId === id && e.outcome === "SUCCEEDED"),
        "the creation is audited",
      );
    } finally {
      await scheduleMutation(t, "deleteSchedule", id);
    }
  });

  it("stops firing while paused and fires again once resumed", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("pausable"));
    const id = (await createSchedule(t, { pipelineId, name: "tick", cron: "* * * * * *" })).schedule.id;
    try {
      await waitFor("a first fire", async () => (await firesOf(t, "schedule", id)).length > 0);
      const paused = await scheduleMutation(t, "pauseSchedule", id);
      assert.equal(paused.__typename, "SchedulePayload");
      assert.equal(paused.schedule.paused, true);
      assert.equal(paused.schedule.nextFireAt, null, "no next fire while paused");
      await sleep(700); // time must pass: a fire under way when the pause committed may still land
      const atPause = (await firesOf(t, "schedule", id)).length;
      await sleep(2_200); // time must pass: two ticks of the every-second cron, which must not fire
      assert.equal((await firesOf(t, "schedule", id)).length, atPause, "no fires while paused");
      const resumed = await scheduleMutation(t, "resumeSchedule", id);
      assert.equal(resumed.schedule.paused, false);
      assert.ok(resumed.schedule.nextFireAt);
      await waitFor("fires after resuming", async () => (await firesOf(t, "schedule", id)).length > atPause);
    } finally {
      await scheduleMutation(t, "deleteSchedule", id);
    }
  });

  it("gives nextFireAt in the schedule's time zone", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("mornings"));
    const ny = await createSchedule(t, { pipelineId, name: "ny", cron: "0 9 * * 1-5", timezone: "America/New_York" });
    const utc = await createSchedule(t, { pipelineId, name: "utc", cron: "0 9 * * 1-5" });
    assert.equal(ny.schedule.timezone, "America/New_York");
    assert.equal(utc.schedule.timezone, "UTC", "UTC by default");
    const next = new Date(ny.schedule.nextFireAt);
    const wall = new Intl.DateTimeFormat("en-US", {
      timeZone: "America/New_York",
      weekday: "short",
      hour: "numeric",
      minute: "numeric",
      hourCycle: "h23",
    }).format(next);
    assert.match(wall, /^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    assert.ok(next.getTime() > Date.now() && next.getTime() < Date.now() + 4 * 86_400_000);
    assert.ok([13, 14].includes(next.getUTCHours()), "09:00 in New York is 13:00 or 14:00 UTC");
    assert.equal(new Date(utc.schedule.nextFireAt).getUTCHours(), 9);
  });

  it("changes a schedule's expression and time zone, checking them as on creation", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("changing"));
    const id = (await createSchedule(t, { pipelineId, name: "c", cron: "0 9 * * *" })).schedule.id;
    const q = `mutation($i: UpdateScheduleInput!) { updateSchedule(input: $i) { __typename
      ... on SchedulePayload { schedule { ${SCHEDULE_FIELDS} } } ... on InvalidInputError { problems { field } } } }`;
    const ok = dataOf(await t.gql(q, { i: { id, cron: "30 6 * * *", timezone: "Asia/Tokyo", missedPolicy: "RUN_ONCE" } })).updateSchedule;
    assert.equal(ok.__typename, "SchedulePayload");
    assert.deepEqual([ok.schedule.cron, ok.schedule.timezone, ok.schedule.missedPolicy], ["30 6 * * *", "Asia/Tokyo", "RUN_ONCE"]);
    const bad = dataOf(await t.gql(q, { i: { id, cron: "0 25 * * *" } })).updateSchedule;
    assert.equal(bad.__typename, "InvalidInputError");
    assert.deepEqual(
      bad.problems.map((p: any) => p.field),
      ["cron.hour"],
    );
  });

  it("refuses bad input with typed errors and stores nothing", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("refusals"));
    const badCron = await createSchedule(t, { pipelineId, name: "a", cron: "61 * * * *" });
    assert.equal(badCron.__typename, "InvalidInputError");
    assert.equal(badCron.code, "BAD_USER_INPUT");
    assert.equal(badCron.problems[0].field, "cron.minute");
    const fields = await createSchedule(t, { pipelineId, name: "a", cron: "* * *" });
    assert.equal(fields.problems[0].field, "cron");
    const zone = await createSchedule(t, { pipelineId, name: "a", cron: "0 * * * *", timezone: "Mars/Olympus_Mons" });
    assert.equal(zone.__typename, "InvalidInputError");
    assert.equal(zone.problems[0].field, "timezone");
    const params = await createSchedule(t, { pipelineId, name: "a", cron: "0 * * * *", params: { work: { label: 5 }, nope: {} } });
    assert.equal(params.__typename, "InvalidInputError");
    assert.deepEqual(params.problems.map((p: any) => p.field).sort(), ["params.nope", "params.work.label"]);
    const name = await createSchedule(t, { pipelineId, name: "Bad Name", cron: "0 * * * *" });
    assert.equal(name.problems[0].field, "name");
    const missing = await createSchedule(t, { pipelineId: "00000000-0000-4000-8000-000000000000", name: "a", cron: "0 * * * *" });
    assert.equal(missing.__typename, "NotFoundError");
    assert.equal(missing.resourceType, "Pipeline");
    // An id that is not a UUID is refused before the resolver, naming the field.
    const garbage = await t.gql(`mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { __typename } }`, {
      i: { pipelineId: "not-an-id", name: "a", cron: "0 * * * *" },
    });
    assert.equal(garbage.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(garbage));
    assert.deepEqual(
      garbage.errors?.[0]?.extensions?.problems.map((p: { field: string }) => p.field),
      ["$i.pipelineId"],
    );
    const listed = dataOf(await t.gql(`query($p: ID!) { schedules(filter: { pipelineId: $p }) { totalCount } }`, { p: pipelineId }));
    assert.equal(listed.schedules.totalCount, 0, "nothing was stored");
    assert.equal((await createSchedule(t, { pipelineId, name: "a", cron: "0 * * * *" })).__typename, "SchedulePayload");
    const twice = await createSchedule(t, { pipelineId, name: "a", cron: "0 * * * *" });
    assert.equal(twice.__typename, "ConflictError");
    assert.equal(twice.field, "name");
  });

  it("lets only EDITORs of the project manage schedules, and lists what the caller may read", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("guarded"));
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const editor = await seedCaller(t, "EDITOR", projectId);
    const outsider = await seedCaller(t, "EDITOR", await seedProject(t));
    const q = `mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { __typename } }`;
    const input = { i: { pipelineId, name: "guarded", cron: "0 * * * *" } };
    for (const caller of [viewer, outsider]) {
      const res = await t.gql(q, input, caller.token);
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    }
    assert.equal((await t.gql(q, input, null)).errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.equal(dataOf(await t.gql(q, input, editor.token)).createSchedule.__typename, "SchedulePayload");
    const mine = dataOf(await t.gql(`query { schedules(first: 100) { nodes { name pipeline { name } } } }`, undefined, viewer.token));
    assert.ok(mine.schedules.nodes.some((s: any) => s.name === "guarded" && s.pipeline.name === "guarded"));
    const theirs = dataOf(await t.gql(`query { schedules(first: 100) { totalCount } }`, undefined, outsider.token));
    assert.equal(theirs.schedules.totalCount, 0);
  });
});

describe("missed fires", () => {
  let shared: SharedDatabase;
  before(async () => {
    shared = await openSharedDatabase();
  });
  after(async () => {
    await shared.close();
  });

  it("after downtime, RUN_ONCE fires once for the latest missed tick and SKIP fires nothing", async () => {
    const first = await startTestServer({ db: shared.db, testDb: shared.testDb });
    const projectId = await seedProject(first, "downtime");
    const { pipelineId } = await applyPipeline(first, projectId, SPEC("hourly"));
    const once = (await createSchedule(first, { pipelineId, name: "once", cron: "0 * * * *", missedPolicy: "RUN_ONCE" })).schedule.id;
    const skip = (await createSchedule(first, { pipelineId, name: "skip", cron: "0 * * * *", missedPolicy: "SKIP" })).schedule.id;
    await first.close();

    // Five hours of downtime: the last fire was long before the latest hourly tick.
    const longAgo = new Date(Date.now() - 5 * 3_600_000);
    await shared.db.dataSource.query(`UPDATE schedules SET last_fire_at = $1, created_at = $1`, [longAgo]);
    const before = new Date();
    const second = await startTestServer({ db: shared.db, testDb: shared.testDb });
    try {
      const fires = await waitFor("the RUN_ONCE catch-up fire", async () => {
        const f = await firesOf(second, "schedule", once);
        return f.length > 0 && f[0]!.run ? f : undefined;
      });
      await sleep(500); // time must pass: a second catch-up fire, were there one, would land within it
      assert.equal((await firesOf(second, "schedule", once)).length, 1, "once, not once per missed hour");
      const topOfHour = (d: Date) => Math.floor(d.getTime() / 3_600_000) * 3_600_000;
      assert.ok([topOfHour(before), topOfHour(new Date())].includes(new Date(fires[0]!.scheduledFor!).getTime()), "the latest missed tick");
      assert.equal(fires[0]!.run!.triggerKind, "SCHEDULE");
      assert.equal((await firesOf(second, "schedule", skip)).length, 0);
      const lastFire = dataOf(await second.gql(`query($id: ID!) { schedule(id: $id) { lastFireAt } }`, { id: once })).schedule.lastFireAt;
      assert.equal(lastFire, fires[0]!.scheduledFor);
    } finally {
      await second.close();
    }
  });

  it("on resume, RUN_ONCE fires once for what was missed while paused", async () => {
    const t = await startTestServer({ db: shared.db, testDb: shared.testDb });
    try {
      const projectId = await seedProject(t, "resume-catch-up");
      const { pipelineId } = await applyPipeline(t, projectId, SPEC("resumed"));
      const id = (await createSchedule(t, { pipelineId, name: "r", cron: "*/5 * * * *", missedPolicy: "RUN_ONCE" })).schedule.id;
      await scheduleMutation(t, "pauseSchedule", id);
      await shared.db.dataSource.query(`UPDATE schedules SET last_fire_at = $2 WHERE id = $1`, [id, new Date(Date.now() - 3_600_000)]);
      assert.equal((await firesOf(t, "schedule", id)).length, 0);
      await scheduleMutation(t, "resumeSchedule", id);
      const fires = await waitFor("the catch-up fire on resume", async () => {
        const f = await firesOf(t, "schedule", id);
        return f.length > 0 ? f : undefined;
      });
      await sleep(500); // time must pass: a second catch-up fire, were there one, would land within it
      assert.equal((await firesOf(t, "schedule", id)).length, 1);
      assert.equal(new Date(fires[0]!.scheduledFor!).getTime() % 300_000, 0, "a five-minute tick");
    } finally {
      await t.close();
    }
  });
});
