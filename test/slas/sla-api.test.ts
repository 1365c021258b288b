import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SlaLoop } from "../../src/slas";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { firstOutcome } from "../helpers/subscriptions";
import { createEventRule, firesOf, waitFor } from "../triggers/support";
import { controlledLoop, CREATE_SLA, MINUTE, plus, SLA_FIELDS, SLA_TEST_ENV, slaNamed, tickAt } from "./support";

const APPLY = `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename
  ... on InvalidInputError { problems { field message } } ... on Error { code message } } }`;
const UPDATE = `mutation($i: UpdateSlaInput!) { updateSla(input: $i) { __typename
  ... on SlaPayload { sla { ${SLA_FIELDS} } } ... on InvalidInputError { problems { field message } } ... on Error { code message } } }`;
const DELETE = `mutation($i: SlaIdInput!) { deleteSla(input: $i) { __typename ... on DeleteSlaPayload { slaId } ... on Error { code message } } }`;
const LIST = `query($p: ID!, $f: SlaFilter) { slas(projectId: $p, filter: $f) { totalCount nodes { name source state } } }`;
const ALERT_FIELDS = `id source slaId status acknowledgedBy resolvedBy note`;

const stage = { name: "x", run: { operator: "noop" }, params: { n: 0 } };

describe("SLAs through the API and in specs: checks, authorization, audit, and what a breach sets off", () => {
  let t: TestServer;
  let projectId: string;
  let loop: SlaLoop;

  before(async () => {
    t = await startTestServer({ env: SLA_TEST_ENV });
    projectId = await seedProject(t, "sla-api");
    ({ loop } = controlledLoop(t));
  });
  after(async () => {
    await loop.close();
    await t.close();
  });

  const fieldsOf = (r: any): string[] => (r.problems ?? []).map((p: any) => p.field);

  it("refuses a spec's bad SLAs at apply, naming each field, and stores nothing", async () => {
    const res = dataOf(
      await t.gql(APPLY, {
        i: {
          projectId,
          spec: {
            name: "bad-slas",
            stages: [stage],
            slas: [
              { name: "a", kind: "PIPELINE_FRESHNESS", objective: "soon" },
              { name: "b", kind: "DATASET_MIN_ROWS", objective: 10 },
              { name: "c", kind: "PIPELINE_FAILURE_RATE", objective: 2 },
              { name: "Bad Name", kind: "PIPELINE_MAX_DURATION", objective: 60 },
              { name: "e", kind: "PIPELINE_UPTIME", objective: 1 },
              { name: "a", kind: "PIPELINE_FRESHNESS", objective: "1h", window: "1d" },
              { name: "g", kind: "ENDPOINT_LIVE_PERFORMANCE", endpoint: "scores", objective: 0.8, window: "1h", metric: "f1" },
              { name: "h", kind: "PIPELINE_FRESHNESS", objective: "1h", dataset: "trips" },
            ],
          },
        },
      }),
    ).applyPipeline;
    assert.equal(res.__typename, "InvalidInputError", JSON.stringify(res));
    assert.deepEqual(fieldsOf(res).sort(), [
      "slas[0].objective",
      "slas[1].dataset",
      "slas[2].objective",
      "slas[2].window",
      "slas[3].name",
      "slas[4].kind",
      "slas[5].name",
      "slas[5].window",
      "slas[6].metric",
      "slas[7].dataset",
    ]);
    assert.equal(dataOf(await t.gql(LIST, { p: projectId })).slas.totalCount, 0);
  });

  it("keeps a spec's SLAs in step with each apply, refuses a name another SLA holds, and refuses API changes to them", async () => {
    const api = dataOf(
      await t.gql(CREATE_SLA, { i: { projectId, name: "taken", kind: "DATASET_MIN_ROWS", subjectName: "trips", objective: 100 } }),
    ).createSla;
    assert.equal(api.__typename, "SlaPayload", JSON.stringify(api));
    const clash = dataOf(
      await t.gql(APPLY, {
        i: { projectId, spec: { name: "owner", stages: [stage], slas: [{ name: "taken", kind: "PIPELINE_FRESHNESS", objective: "1h" }] } },
      }),
    ).applyPipeline;
    assert.equal(clash.__typename, "InvalidInputError");
    assert.deepEqual(fieldsOf(clash), ["slas[0].name"]);
    const pipelines = dataOf(await t.gql(`query { pipelines(filter: { nameContains: "owner" }) { totalCount } }`)).pipelines;
    assert.equal(pipelines.totalCount, 0, "the refused apply stored nothing");

    const spec = (slas: unknown[]) => ({ name: "owner", stages: [stage], slas });
    await applyPipeline(t, projectId, spec([{ name: "owner-fresh", kind: "PIPELINE_FRESHNESS", objective: "1h" }]));
    const first = await slaNamed(t, projectId, "owner-fresh");
    assert.deepEqual([first.source, first.objective], ["SPEC", 3600]);
    await applyPipeline(
      t,
      projectId,
      spec([
        { name: "owner-fresh", kind: "PIPELINE_FRESHNESS", objective: "90m" },
        { name: "owner-rows", kind: "DATASET_MIN_ROWS", dataset: "trips", objective: 10 },
      ]),
    );
    const changed = await slaNamed(t, projectId, "owner-fresh");
    assert.deepEqual([changed.id, changed.objective], [first.id, 5400], "the same SLA, changed");
    assert.equal((await slaNamed(t, projectId, "owner-rows")).subjectName, "trips");

    const refused = dataOf(await t.gql(UPDATE, { i: { slaId: first.id, objective: 60 } })).updateSla;
    assert.equal(refused.__typename, "ConflictError", "a spec's SLA changes through its spec");
    assert.equal(dataOf(await t.gql(DELETE, { i: { slaId: first.id } })).deleteSla.__typename, "ConflictError");

    await applyPipeline(t, projectId, spec([{ name: "owner-rows", kind: "DATASET_MIN_ROWS", dataset: "trips", objective: 10 }]));
    const listed = dataOf(await t.gql(LIST, { p: projectId, f: { source: "SPEC" } })).slas.nodes.map((n: any) => n.name);
    assert.deepEqual(listed, ["owner-rows"], "an SLA no longer declared is deleted");
  });

  it("checks API input, and lets only editors change SLAs, every attempt audited", async () => {
    const bad = dataOf(
      await t.gql(CREATE_SLA, {
        i: { projectId, name: "rate", kind: "PIPELINE_FAILURE_RATE", subjectName: "owner", objective: -0.5, schedule: "daily" },
      }),
    ).createSla;
    assert.equal(bad.__typename, "InvalidInputError");
    assert.deepEqual(fieldsOf(bad).sort(), ["objective", "schedule", "windowSeconds"]);
    const dup = dataOf(
      await t.gql(CREATE_SLA, { i: { projectId, name: "taken", kind: "DATASET_FRESHNESS", subjectName: "trips", objective: 60 } }),
    ).createSla;
    assert.equal(dup.__typename, "ConflictError");

    const viewer = await seedCaller(t, "VIEWER", projectId);
    const editor = await seedCaller(t, "EDITOR", projectId);
    const outsider = await seedCaller(t, "VIEWER", await seedProject(t, "sla-elsewhere"));
    const input = { projectId, name: "rows-min", kind: "DATASET_MIN_ROWS", subjectName: "trips", objective: 5 };
    const denied = await t.gql(CREATE_SLA, { i: input }, viewer.token);
    assert.equal(denied.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(denied));
    const made = dataOf(await t.gql(CREATE_SLA, { i: input }, editor.token)).createSla;
    assert.equal(made.__typename, "SlaPayload", JSON.stringify(made));
    const updated = dataOf(await t.gql(UPDATE, { i: { slaId: made.sla.id, objective: 50, severity: "CRITICAL" } }, editor.token)).updateSla;
    assert.deepEqual([updated.sla.objective, updated.sla.severity], [50, "CRITICAL"]);
    const viewerUpdate = await t.gql(UPDATE, { i: { slaId: made.sla.id, objective: 1 } }, viewer.token);
    assert.equal(viewerUpdate.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.equal(dataOf(await t.gql(LIST, { p: projectId }, viewer.token)).slas.totalCount, 3, "a viewer reads them");
    const foreign = await t.gql(LIST, { p: projectId }, outsider.token);
    assert.equal(foreign.errors?.[0]?.extensions?.code, "FORBIDDEN", "another project's viewer does not");
    const foreignStatus = await t.gql(`query($id: ID!) { slaStatus(slaId: $id) { state } }`, { id: made.sla.id }, outsider.token);
    assert.equal(foreignStatus.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.equal(dataOf(await t.gql(DELETE, { i: { slaId: made.sla.id } }, editor.token)).deleteSla.slaId, made.sla.id);

    const audit = dataOf(
      await t.gql(`query($p: ID!) { auditEvents(first: 100, filter: { projectId: $p }) { nodes { action outcome actorId result } } }`, {
        p: projectId,
      }),
    ).auditEvents.nodes.filter((n: any) => n.action.startsWith("sla."));
    const byEditorOrViewer = audit.filter((n: any) => n.actorId === editor.principalId || n.actorId === viewer.principalId);
    assert.deepEqual(
      byEditorOrViewer.map((n: any) => [n.action, n.outcome, n.actorId === editor.principalId ? "editor" : "viewer"]).reverse(),
      [
        ["sla.create", "DENIED", "viewer"],
        ["sla.create", "SUCCEEDED", "editor"],
        ["sla.update", "SUCCEEDED", "editor"],
        ["sla.update", "DENIED", "viewer"],
        ["sla.delete", "SUCCEEDED", "editor"],
      ],
    );
    assert.ok(
      audit.some((n: any) => n.action === "sla.create" && n.outcome === "FAILED"),
      "refused input is audited too",
    );
  });

  it("a breach opens an alert (acknowledged and resolved like any) and fires an event rule that starts a pipeline; the subscription replays it", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, { name: "refresh-feed", stages: [stage] });
    const rule = await createEventRule(t, {
      pipelineId,
      name: "refresh-when-stale",
      eventType: "sla.breached",
      filter: { "payload.sla": "feed-fresh" },
      params: { x: { n: "$.payload.observed" } },
    });
    assert.equal(rule.__typename, "EventRulePayload", JSON.stringify(rule));
    const made = dataOf(
      await t.gql(CREATE_SLA, {
        i: { projectId, name: "feed-fresh", kind: "DATASET_FRESHNESS", subjectName: "feed", objective: 60, severity: "CRITICAL" },
      }),
    ).createSla;
    const slaId = made.sla.id as string;
    const at = plus(new Date(), 2 * MINUTE);
    const broke = await tickAt(loop, at, slaId);
    assert.equal(broke.change, "BREACHED", "a dataset that never had a version is stale once the objective has passed");

    const fires = await waitFor("the event rule's fire", async () => {
      const f = await firesOf(t, "eventRule", rule.eventRule.id);
      return f.length > 0 && f;
    });
    assert.equal(fires[0]!.outcome, "STARTED", JSON.stringify(fires[0]!.detail));
    assert.equal(fires[0]!.run!.params.x.n, broke.judgement.observed, "the run got the observed value from the event");

    const alerts = dataOf(
      await t.gql(`query($p: ID!, $s: ID) { alerts(projectId: $p, filter: { slaId: $s }) { nodes { ${ALERT_FIELDS} } } }`, {
        p: projectId,
        s: slaId,
      }),
    ).alerts.nodes;
    assert.equal(alerts.length, 1);
    const alertId = alerts[0].id;
    const ack = dataOf(
      await t.gql(
        `mutation($i: AlertActionInput!) { acknowledgeAlert(input: $i) { __typename ... on AlertPayload { alert { ${ALERT_FIELDS} } } } }`,
        { i: { alertId, note: "on it" } },
      ),
    ).acknowledgeAlert;
    assert.deepEqual([ack.alert.status, ack.alert.note], ["ACKNOWLEDGED", "on it"]);
    const resolved = dataOf(
      await t.gql(
        `mutation($i: AlertActionInput!) { resolveAlert(input: $i) { __typename ... on AlertPayload { alert { ${ALERT_FIELDS} } } } }`,
        { i: { alertId } },
      ),
    ).resolveAlert;
    assert.equal(resolved.alert.status, "RESOLVED");
    assert.ok(resolved.alert.resolvedBy, "resolved by a person");
    // Still breached: the same breach opens no second alert, fires no second event.
    assert.equal((await tickAt(loop, plus(at, MINUTE), slaId)).change, null);
    const events = dataOf(
      await t.gql(`query($p: ID!) { alerts(projectId: $p, filter: { slaId: "${slaId}" }) { totalCount } }`, { p: projectId }),
    ).alerts;
    assert.equal(events.totalCount, 1);

    const replayed = await firstOutcome(t.ws(), {
      query: `subscription($p: ID!, $s: ID) { slaEvents(projectId: $p, slaId: $s, after: "0") { cursor type slaId payload } }`,
      variables: { p: projectId, s: slaId },
    });
    assert.equal(replayed.kind, "data", JSON.stringify(replayed));
    const ev = (replayed as { data: Record<string, any> }).data.slaEvents;
    assert.deepEqual(
      [ev.type, ev.slaId, ev.payload.sla, ev.payload.subjectKind, ev.payload.subjectName, ev.payload.objective, ev.payload.alertId],
      ["sla.breached", slaId, "feed-fresh", "DATASET", "feed", 60, alertId],
    );
    const outsider = await seedCaller(t, "VIEWER", await seedProject(t, "sla-elsewhere-too"));
    const denied = await firstOutcome(t.ws(outsider.token), {
      query: `subscription($p: ID!) { slaEvents(projectId: $p, after: "0") { cursor } }`,
      variables: { p: projectId },
    });
    assert.equal(denied.kind, "errors");
  });
});
