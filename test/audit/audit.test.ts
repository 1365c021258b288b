import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runMutation } from "../../src/kernel/mutation";
import { AuditEventRow } from "../../src/audit/audit-event.entity";
import { summarizeInput } from "../../src/audit/redact";
import { Permission } from "../../src/kernel/roles";
import { ProjectRow } from "../../src/projects/project.entity";
import { contextFor } from "../helpers/context";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

describe("audit log", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.close();
  });

  it("records who, what, when, the input and the result of a mutation, with its request id", async () => {
    const id = await seedProject(t, "audited");
    const started = new Date(Date.now() - 1000);
    const res = await fetch(`${t.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.adminToken}`, "x-request-id": "req-audit-1" },
      body: JSON.stringify({
        query: `mutation($id: ID!) { renameProject(input: { id: $id, name: "audited-2" }) { __typename } }`,
        variables: { id },
      }),
    });
    assert.equal(res.status, 200);
    const log = dataOf(
      await t.gql(
        `query($p: ID) { auditEvents(filter: { projectId: $p, action: "project.rename" }) { nodes { at actorName actorId projectId action targetId outcome input result requestId } } }`,
        { p: id },
      ),
    );
    const [row] = log.auditEvents.nodes;
    assert.equal(row.actorName, "admin");
    assert.equal(row.outcome, "SUCCEEDED");
    assert.equal(row.targetId, id);
    assert.equal(row.projectId, id);
    assert.deepEqual(row.input, { id, name: "audited-2" });
    assert.deepEqual(row.result, { id, name: "audited-2" });
    assert.equal(row.requestId, "req-audit-1");
    assert.ok(new Date(row.at) >= started);
  });

  it("rolls the audit row back with a change that fails, and records the failure on its own", async () => {
    const ctx = await contextFor(t);
    const repo = t.server.services.db.dataSource.getRepository(ProjectRow);
    await assert.rejects(
      runMutation(ctx, { action: "project.create", permission: Permission.WRITE, input: { name: "half-done" } }, async (tx) => {
        const row = await tx.manager.save(tx.manager.create(ProjectRow, { name: "half-done", description: "" }));
        tx.emit({ type: "project.created", projectId: row.id, subjectId: row.id });
        throw new Error("failure after the insert");
      }),
      /failure after the insert/,
    );
    assert.equal(await repo.countBy({ name: "half-done" }), 0, "the change was rolled back");
    const rows = await t.server.services.db.dataSource.getRepository(AuditEventRow).findBy({ requestId: ctx.requestId });
    assert.deepEqual(
      rows.map((r) => [r.action, r.outcome, r.result.code]),
      [["project.create", "FAILED", "INTERNAL"]],
      "only the failure row exists; the success row went with the rollback",
    );
  });

  it("commits the audit row in the same transaction as the change", async () => {
    const ctx = await contextFor(t);
    const id = await runMutation(
      ctx,
      { action: "project.create", permission: Permission.WRITE, input: { name: "together" } },
      async (tx) => {
        const row = await tx.manager.save(tx.manager.create(ProjectRow, { name: "together", description: "" }));
        // Inside the transaction, nothing of it is visible from outside yet: neither row.
        const outside =
          t.server.services.db.kind === "postgres"
            ? await t.server.services.db.dataSource.getRepository(ProjectRow).countBy({ name: "together" })
            : 0;
        assert.equal(outside, 0);
        return { value: row.id, targetId: row.id, projectId: row.id };
      },
    );
    const rows = await t.server.services.db.dataSource.getRepository(AuditEventRow).findBy({ requestId: ctx.requestId });
    assert.deepEqual(
      rows.map((r) => [r.action, r.outcome, r.targetId]),
      [["project.create", "SUCCEEDED", id]],
    );
  });

  it("filters by actor, project, action, outcome and time, newest first", async () => {
    const p1 = await seedProject(t, "filter-one");
    const editor = await seedCaller(t, "EDITOR");
    const before = new Date();
    await new Promise((r) => setTimeout(r, 5)); // time must pass: the changes below are stamped after `before`
    dataOf(
      await t.gql(`mutation($id: ID!) { renameProject(input: { id: $id, name: "filter-two" }) { __typename } }`, { id: p1 }, editor.token),
    );
    dataOf(
      await t.gql(
        `mutation($id: ID!) { renameProject(input: { id: $id, name: "filter-three" }) { __typename } }`,
        { id: p1 },
        editor.token,
      ),
    );
    const q = `query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount nodes { action actorId result } } }`;
    const byActor = dataOf(await t.gql(q, { f: { actorId: editor.principalId } }));
    assert.equal(byActor.auditEvents.totalCount, 2);
    assert.deepEqual(
      byActor.auditEvents.nodes.map((n: any) => n.result.name),
      ["filter-three", "filter-two"],
    );
    const since = dataOf(await t.gql(q, { f: { since: before.toISOString(), action: "project.rename", projectId: p1 } }));
    assert.equal(since.auditEvents.totalCount, 2);
    const until = dataOf(await t.gql(q, { f: { until: before.toISOString(), projectId: p1 } }));
    assert.deepEqual(
      until.auditEvents.nodes.map((n: any) => n.action),
      ["project.create"],
    );
    const failed = dataOf(await t.gql(q, { f: { outcome: "FAILED", actorId: editor.principalId } }));
    assert.equal(failed.auditEvents.totalCount, 0);
    const oldestFirst = dataOf(
      await t.gql(`query($f: AuditEventFilter) { auditEvents(filter: $f, orderBy: { field: AT, direction: ASC }) { nodes { result } } }`, {
        f: { actorId: editor.principalId },
      }),
    );
    assert.deepEqual(
      oldestFirst.auditEvents.nodes.map((n: any) => n.result.name),
      ["filter-two", "filter-three"],
    );
  });

  it("lets a project admin read its own project's log, and nobody else's", async () => {
    const p = await seedProject(t, "own-log");
    const padmin = await seedCaller(t, "ADMIN", p);
    const own = await t.gql(`query($p: ID) { auditEvents(filter: { projectId: $p }) { totalCount } }`, { p }, padmin.token);
    assert.equal(own.errors, undefined);
    assert.ok(own.data!.auditEvents.totalCount >= 1);
    const all = await t.gql(`{ auditEvents { totalCount } }`, {}, padmin.token);
    assert.equal(all.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const editor = await seedCaller(t, "EDITOR", p);
    const refused = await t.gql(`query($p: ID) { auditEvents(filter: { projectId: $p }) { totalCount } }`, { p }, editor.token);
    assert.equal(refused.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });
});

describe("summarizeInput", () => {
  it("redacts secrets at any depth and keeps the rest", () => {
    assert.deepEqual(summarizeInput({ name: "x", token: "slc_abc", nested: { password: "p", apiKey: "k", keep: 1 } }), {
      name: "x",
      token: "[redacted]",
      nested: { password: "[redacted]", apiKey: "[redacted]", keep: 1 },
    });
  });

  it("cuts long strings and lists, saying how much was cut", () => {
    const out = summarizeInput({ s: "a".repeat(500), list: Array.from({ length: 30 }, (_, i) => i) }) as { s: string; list: unknown[] };
    assert.ok(out.s.startsWith("a".repeat(200)));
    assert.match(out.s, /500 chars/);
    assert.equal(out.list.length, 21);
    assert.equal(out.list[20], "… 10 more");
  });

  it("elides nesting past four levels", () => {
    assert.deepEqual(summarizeInput({ a: { b: { c: { d: { e: 1 } } } } }), { a: { b: { c: { d: "[nested]" } } } });
  });
});
