import "reflect-metadata";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/kernel/logger";
import { startTriggerService } from "../../src/triggers";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createEventRule, emitEvent, firesOf, resultFields, RULE_FIELDS, sleep, waitFor } from "./support";

/** A one-stage pipeline whose stage takes `dataset` (a string) and `rows` (a number). */
const SPEC = (name: string) => ({
  name,
  stages: [
    {
      name: "train",
      run: { operator: "noop" },
      params: { dataset: "none", rows: 0 },
      paramsSchema: { type: "object", properties: { dataset: { type: "string" }, rows: { type: "number" } } },
    },
  ],
});

const FROM_PAYLOAD = { train: { dataset: "$.payload.dataset", rows: "$.payload.rows" } };

describe("event rules", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "event-rules");
  });
  after(async () => {
    await t.close();
  });

  it("fires on an emitted event with parameters taken from its payload, and not on one its filter refuses", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("on-dataset"));
    const rule = await createEventRule(t, {
      pipelineId,
      name: "flights",
      eventType: "dataset.version.created",
      filter: { "payload.dataset": "flights" },
      params: FROM_PAYLOAD,
    });
    assert.equal(rule.__typename, "EventRulePayload", JSON.stringify(rule));
    const ruleId = rule.eventRule.id;
    const refused = await emitEvent(t, projectId, "dataset.version.created", { dataset: "weather", rows: 5 });
    assert.equal(refused.__typename, "EmitEventPayload");
    const heard = await emitEvent(t, projectId, "dataset.version.created", { dataset: "flights", rows: 120 });
    assert.equal(heard.event.type, "dataset.version.created");
    const [fire] = await waitFor("the rule's fire", async () => {
      const f = await firesOf(t, "eventRule", ruleId);
      return f.length > 0 ? f : undefined;
    });
    // The leader handles events in stream order, so the earlier, unmatched event was judged before this fire.
    assert.equal((await firesOf(t, "eventRule", ruleId)).length, 1, "only the matching event fired");
    assert.equal(fire!.kind, "EVENT");
    assert.equal(fire!.outcome, "STARTED");
    assert.equal(fire!.eventId, heard.event.cursor);
    assert.equal(fire!.run!.triggerKind, "EVENT");
    assert.equal(fire!.run!.triggerRef, fire!.id);
    assert.deepEqual(fire!.run!.params, { train: { dataset: "flights", rows: 120 } });
    const run = await waitForRun(t, fire!.run!.id);
    assert.equal(run.status, "SUCCEEDED");
    assert.deepEqual(run.stageRuns[0]!.stageName, "train");
  });

  it("records a FAILED fire and starts no run when the event lacks a templated value", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("needs-rows"));
    const ruleId = (await createEventRule(t, { pipelineId, name: "r", eventType: "upload.done", params: FROM_PAYLOAD })).eventRule.id;
    const sent = await emitEvent(t, projectId, "upload.done", { dataset: "flights" });
    const [fire] = await waitFor("the failed fire", async () => {
      const f = await firesOf(t, "eventRule", ruleId);
      return f.length > 0 ? f : undefined;
    });
    assert.equal(fire!.outcome, "FAILED");
    assert.equal(fire!.run, null);
    assert.equal(fire!.eventId, sent.event.cursor);
    assert.equal(fire!.detail.code, "MISSING_EVENT_VALUE");
    assert.equal(fire!.detail.path, "payload.rows");
    assert.equal(fire!.detail.field, "params.train.rows");
    const runs = dataOf(await t.gql(`query($p: ID!) { runs(filter: { pipelineId: $p }) { totalCount } }`, { p: pipelineId })).runs;
    assert.equal(runs.totalCount, 0);
  });

  it("starts pipeline B when a run of pipeline A succeeds", async () => {
    const a = await applyPipeline(t, projectId, { name: "upstream-a", stages: [{ name: "x", run: { operator: "noop" } }] });
    const b = await applyPipeline(t, projectId, { name: "downstream-b", stages: [{ name: "y", run: { operator: "noop" } }] });
    const rule = await createEventRule(t, {
      pipelineId: b.pipelineId,
      name: "after-a",
      eventType: "run.succeeded",
      filter: { "payload.pipelineId": a.pipelineId },
    });
    assert.equal(rule.__typename, "EventRulePayload");
    const aRun = await waitForRun(t, await triggerRun(t, a.pipelineId));
    assert.equal(aRun.status, "SUCCEEDED");
    const [fire] = await waitFor("B's fire", async () => {
      const f = await firesOf(t, "eventRule", rule.eventRule.id);
      return f.length > 0 && f[0]!.run ? f : undefined;
    });
    const bRun = await waitForRun(t, fire!.run!.id);
    assert.equal(bRun.status, "SUCCEEDED");
    assert.equal(fire!.run!.triggerKind, "EVENT");
    const bRuns = dataOf(
      await t.gql(`query($p: ID!) { runs(filter: { pipelineId: $p, triggerKind: EVENT }) { nodes { id } } }`, { p: b.pipelineId }),
    ).runs.nodes;
    assert.deepEqual(
      bRuns.map((r: any) => r.id),
      [bRun.id],
      "one run of B, not one per event of A's run",
    );
  });

  it("hears only its own project's events unless its filter names another project its author can read", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("home-only"));
    const other = await seedProject(t);
    const ruleId = (await createEventRule(t, { pipelineId, name: "home", eventType: "ping.sent" })).eventRule.id;
    const wide = (await createEventRule(t, { pipelineId, name: "wide", eventType: "ping.sent", filter: { projectId: other } })).eventRule
      .id;
    await emitEvent(t, other, "ping.sent", {});
    await waitFor("the cross-project rule's fire", async () => (await firesOf(t, "eventRule", wide)).length > 0);
    assert.equal((await firesOf(t, "eventRule", ruleId)).length, 0);

    const editor = await seedCaller(t, "EDITOR", projectId);
    const res = await t.gql(
      `mutation($i: CreateEventRuleInput!) { createEventRule(input: $i) { __typename } }`,
      { i: { pipelineId, name: "snoop", eventType: "ping.sent", filter: { projectId: other } } },
      editor.token,
    );
    assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN", "the editor cannot read the other project");
  });

  it("stops firing while disabled and fires again once enabled", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("toggled"));
    const ruleId = (await createEventRule(t, { pipelineId, name: "t", eventType: "toggle.test", enabled: false })).eventRule.id;
    const update = `mutation($i: UpdateEventRuleInput!) { updateEventRule(input: $i) { ${resultFields("EventRulePayload", `eventRule { ${RULE_FIELDS} }`)} } }`;
    await emitEvent(t, projectId, "toggle.test", {});
    const enabled = dataOf(await t.gql(update, { i: { id: ruleId, enabled: true } })).updateEventRule;
    assert.equal(enabled.eventRule.enabled, true);
    const sent = await emitEvent(t, projectId, "toggle.test", {});
    const [fire] = await waitFor("a fire once enabled", async () => {
      const f = await firesOf(t, "eventRule", ruleId);
      return f.length > 0 ? f : undefined;
    });
    assert.equal(fire!.eventId, sent.event.cursor, "the event sent while disabled did not fire");
    // Events are handled in stream order: the one sent while disabled was judged before this fire.
    assert.equal((await firesOf(t, "eventRule", ruleId)).length, 1, "one fire: the event sent while disabled made none");
  });

  it("refuses reserved and malformed event types, bad filters and unknown pipelines, storing nothing", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("refusals"));
    for (const type of ["run.succeeded", "stage.failed", "project.created", "pipeline.version.created", "auth.changed", "deploy"]) {
      const res = await emitEvent(t, projectId, type, { marker: "refused" });
      assert.equal(res.__typename, "InvalidInputError", type);
      assert.equal(res.code, "BAD_USER_INPUT");
      assert.equal(res.problems[0].field, "type");
    }
    const stored = await t.server.services.db.dataSource.query(
      `SELECT count(*)::int AS n FROM events WHERE payload->>'marker' = 'refused'`,
    );
    assert.equal(stored[0].n, 0, "no event was written");

    const badFilter = await createEventRule(t, { pipelineId, name: "a", eventType: "x.y", filter: { "body.x": 1 } });
    assert.equal(badFilter.__typename, "InvalidInputError");
    assert.equal(badFilter.problems[0].field, "filter.body.x");
    const badTemplate = await createEventRule(t, { pipelineId, name: "a", eventType: "x.y", params: { train: { rows: "$.nope" } } });
    assert.equal(badTemplate.problems[0].field, "params.train.rows");
    const badStage = await createEventRule(t, { pipelineId, name: "a", eventType: "x.y", params: { nope: {} } });
    assert.equal(badStage.problems[0].field, "params.nope");
    const badValue = await createEventRule(t, { pipelineId, name: "a", eventType: "x.y", params: { train: { rows: "many" } } });
    assert.equal(badValue.problems[0].field, "params.train.rows", "fixed values are checked against the schema");
    const badType = await createEventRule(t, { pipelineId, name: "a", eventType: "nodot" });
    assert.equal(badType.problems[0].field, "eventType");
    const unknown = await createEventRule(t, { pipelineId: "00000000-0000-4000-8000-000000000000", name: "a", eventType: "x.y" });
    assert.equal(unknown.__typename, "NotFoundError");
    const noProject = await emitEvent(t, "00000000-0000-4000-8000-000000000000", "x.y", {});
    assert.equal(noProject.__typename, "NotFoundError");
    const rules = dataOf(await t.gql(`query($p: ID!) { eventRules(filter: { pipelineId: $p }) { totalCount } }`, { p: pipelineId }));
    assert.equal(rules.eventRules.totalCount, 0);

    const viewer = await seedCaller(t, "VIEWER", projectId);
    const denied = await t.gql(
      `mutation($i: EmitEventInput!) { emitEvent(input: $i) { __typename } }`,
      { i: { projectId, type: "x.y", payload: {} } },
      viewer.token,
    );
    assert.equal(denied.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });

  it("fires for events emitted while no leader was up, once one takes over", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("takeover"));
    const ruleId = (await createEventRule(t, { pipelineId, name: "t", eventType: "batch.landed", params: FROM_PAYLOAD })).eventRule.id;
    await t.server.triggers.close();
    assert.equal(t.server.triggers.isLeader, false);
    const sent = [
      await emitEvent(t, projectId, "batch.landed", { dataset: "a", rows: 1 }),
      await emitEvent(t, projectId, "batch.landed", { dataset: "b", rows: 2 }),
    ];
    await sleep(500); // time must pass: nothing may fire within it while no process leads
    assert.equal((await firesOf(t, "eventRule", ruleId)).length, 0, "nobody fires without a leader");
    const successor = await startTriggerService(t.server.services, createLogger("silent"));
    try {
      assert.equal(successor.isLeader, true);
      const fires = await waitFor("both fires", async () => {
        const f = await firesOf(t, "eventRule", ruleId);
        return f.length === 2 ? f : undefined;
      });
      assert.deepEqual(fires.map((f) => f.eventId).sort(), sent.map((s) => s.event.cursor).sort());
      assert.deepEqual(fires.map((f) => f.run!.params.train.dataset).sort(), ["a", "b"]);
      const last = sent[1]!.event.cursor;
      await waitFor("the saved cursor", async () => {
        const [row] = await t.server.services.db.dataSource.query(`SELECT last_event_id FROM trigger_cursors WHERE name = 'event-rules'`);
        return BigInt(row.last_event_id) >= BigInt(last);
      });
    } finally {
      await successor.close();
    }
  });
});

describe("the event webhook", () => {
  let t: TestServer;
  let projectId: string;
  let editor: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_BODY_LIMIT: "64kb" } });
    projectId = await seedProject(t, "webhook");
    editor = (await seedCaller(t, "EDITOR", projectId)).token;
  });
  after(async () => {
    await t.close();
  });

  async function post(body: unknown, token: string | null = editor, contentType = "application/json") {
    const res = await fetch(`${t.url}/hooks/events`, {
      method: "POST",
      headers: { "content-type": contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it("stores a posted event and answers 202 with its id; rules fire from it", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, SPEC("hooked"));
    const ruleId = (await createEventRule(t, { pipelineId, name: "h", eventType: "model.version.approved", params: FROM_PAYLOAD }))
      .eventRule.id;
    const res = await post({ projectId, type: "model.version.approved", payload: { dataset: "flights", rows: 7 } });
    assert.equal(res.status, 202);
    assert.match(res.body.eventId, /^\d+$/);
    const [fire] = await waitFor("the webhook event's fire", async () => {
      const f = await firesOf(t, "eventRule", ruleId);
      return f.length > 0 && f[0]!.run ? f : undefined;
    });
    assert.equal(fire!.eventId, res.body.eventId);
    assert.deepEqual(fire!.run!.params, { train: { dataset: "flights", rows: 7 } });
    const audit = dataOf(await t.gql(`query { auditEvents(first: 5, filter: { action: "event.emit" }) { nodes { targetId outcome } } }`));
    assert.ok(audit.auditEvents.nodes.some((n: any) => n.targetId === res.body.eventId && n.outcome === "SUCCEEDED"));
  });

  it("refuses bad tokens with 401 and callers without EDITOR in the project with 403", async () => {
    const good = { projectId, type: "x.y", payload: {} };
    assert.equal((await post(good, null)).status, 401);
    const bad = await post(good, "slc_not_a_real_token_000000000000000000000");
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, "UNAUTHENTICATED");
    const viewer = await post(good, (await seedCaller(t, "VIEWER", projectId)).token);
    assert.equal(viewer.status, 403);
    assert.equal(viewer.body.error.code, "FORBIDDEN");
    const elsewhere = await post(good, (await seedCaller(t, "EDITOR", await seedProject(t))).token);
    assert.equal(elsewhere.status, 403);
    // A refused caller learns nothing about its body.
    assert.equal((await post("{not json", null)).status, 401);
  });

  it("refuses malformed bodies with 400, oversized ones with 413, and unknown projects with 404", async () => {
    const malformed = await post("{not json");
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.reason, "MALFORMED_JSON");
    const notJson = await post("type=x.y", editor, "application/x-www-form-urlencoded");
    assert.equal(notJson.status, 400);
    const missing = await post({ projectId });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, "BAD_USER_INPUT");
    assert.deepEqual(
      missing.body.error.problems.map((p: any) => p.field),
      ["type"],
    );
    const reserved = await post({ projectId, type: "run.succeeded", payload: {} });
    assert.equal(reserved.status, 400);
    assert.equal(reserved.body.error.problems[0].field, "type");
    const badPayload = await post({ projectId, type: "x.y", payload: [1, 2] });
    assert.equal(badPayload.status, 400);
    const big = await post({ projectId, type: "x.y", payload: { blob: "x".repeat(100_000) } });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.reason, "BODY_TOO_LARGE");
    const nowhere = await post({ projectId: "00000000-0000-4000-8000-000000000000", type: "x.y" }, t.adminToken);
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.body.error.code, "NOT_FOUND");
  });
});
