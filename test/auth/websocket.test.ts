import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type WebSocket from "ws";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { firstOutcome, rawConnectionInit } from "../helpers/subscriptions";

const EVENTS = `subscription($id: ID!, $after: String) { projectEvents(projectId: $id, after: $after) { __typename type projectId } }`;

type ServerMessage = { type: string; id?: string; payload?: any };

/** One raw graphql-transport-ws connection, to prove several operations share a socket. */
class RawConnection {
  private readonly inbox: ServerMessage[] = [];
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on("message", (raw) => {
      this.inbox.push(JSON.parse(String(raw)) as ServerMessage);
      this.wake();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString("utf8") };
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  subscribe(id: string, query: string, variables: Record<string, unknown>): void {
    this.socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
  }

  /** The next `next` or `error` message for operation `id`. */
  async answerTo(id: string, timeoutMs = 5_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.id === id && (m.type === "next" || m.type === "error"));
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before operation ${id} answered`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`operation ${id} got no answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close(1000);
  }
}

async function connect(t: TestServer, token: string): Promise<RawConnection> {
  const res = await rawConnectionInit(t.wsUrl, { authorization: `Bearer ${token}` });
  assert.equal(res.kind, "ack", `expected connection_ack, got ${JSON.stringify(res)}`);
  return new RawConnection((res as { socket: WebSocket }).socket);
}

/** The error code an operation's answer carries (`error` message, or `next` with errors). */
function codeOf(msg: ServerMessage): unknown {
  if (msg.type === "error") return msg.payload?.[0]?.extensions?.code;
  return msg.payload?.errors?.[0]?.extensions?.code;
}

describe("WebSocket authentication", () => {
  let t: TestServer;
  let project: string;
  before(async () => {
    t = await startTestServer();
    project = await seedProject(t, "ws-auth");
  });
  after(async () => {
    await t.close();
  });

  it("closes a connection without a token with 4401 UNAUTHENTICATED", async () => {
    for (const payload of [undefined, {}, { authorization: "" }]) {
      const res = await rawConnectionInit(t.wsUrl, payload);
      assert.equal(res.kind, "closed", `payload ${JSON.stringify(payload)}: expected a close, got ${res.kind}`);
      assert.equal((res as { code: number }).code, 4401, `payload ${JSON.stringify(payload)}`);
      assert.match((res as { reason: string }).reason, /^UNAUTHENTICATED\b/);
    }
  });

  it("closes a connection with a bad, malformed or revoked token with 4401, and keeps serving others", async () => {
    const revoked = await seedCaller(t, "VIEWER");
    dataOf(await t.gql(`mutation($i: IdInput!) { revokeApiToken(input: $i) { __typename } }`, { i: { id: revoked.tokenId } }));
    const bad: Array<Record<string, unknown>> = [
      { authorization: `Bearer slc_${randomBytes(32).toString("base64url")}` },
      { authorization: t.adminToken }, // the right secret without the scheme
      { authorization: `Basic ${t.adminToken}` },
      { token: `slc_${randomBytes(32).toString("base64url")}` },
      { authorization: `Bearer ${revoked.token}` },
    ];
    for (const payload of bad) {
      const res = await rawConnectionInit(t.wsUrl, payload);
      const what = JSON.stringify(payload).replace(t.adminToken, "<admin token>");
      assert.equal(res.kind, "closed", `${what}: expected a close`);
      assert.equal((res as { code: number }).code, 4401, what);
      assert.match((res as { reason: string }).reason, /^UNAUTHENTICATED\b/, what);
    }
    const good = await rawConnectionInit(t.wsUrl, { authorization: `Bearer ${t.adminToken}` });
    assert.equal(good.kind, "ack", "a valid token still connects");
    (good as { socket: WebSocket }).socket.close(1000);
    const viaToken = await rawConnectionInit(t.wsUrl, { token: t.adminToken });
    assert.equal(viaToken.kind, "ack", "the `token` connection parameter is accepted too");
    (viaToken as { socket: WebSocket }).socket.close(1000);
  });

  it("reports the 4401 close to a graphql-ws client through on('closed') and to the subscriber", async () => {
    const client = t.ws(`slc_${randomBytes(32).toString("base64url")}`);
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      client.on("closed", (e) => resolve(e as { code: number; reason: string })),
    );
    let connected = false;
    client.on("connected", () => {
      connected = true;
    });
    const outcome = await firstOutcome(client, { query: EVENTS, variables: { id: project, after: "0" } });
    const event = await closed;
    assert.equal(event.code, 4401);
    assert.match(event.reason, /^UNAUTHENTICATED\b/);
    assert.deepEqual(outcome.kind === "closed" ? outcome.code : outcome, 4401);
    assert.equal(connected, false, "never acknowledged");
    await client.dispose();

    // The same client library with a good token is served.
    const good = t.ws();
    const ok = await firstOutcome(good, { query: EVENTS, variables: { id: project, after: "0" } });
    assert.equal(ok.kind, "data");
    assert.equal((ok as { data: Record<string, any> }).data.projectEvents.__typename, "ProjectEvent");
    await good.dispose();
  });

  it("refuses a new subscription on an already open connection with UNAUTHENTICATED once its token is revoked", async () => {
    const caller = await seedCaller(t, "VIEWER");
    const conn = await connect(t, caller.token);
    try {
      conn.subscribe("1", EVENTS, { id: project, after: "0" });
      const first = await conn.answerTo("1");
      assert.equal(first.type, "next");
      assert.equal(first.payload.data.projectEvents.type, "project.created");

      dataOf(await t.gql(`mutation($i: IdInput!) { revokeApiToken(input: $i) { __typename } }`, { i: { id: caller.tokenId } }));

      conn.subscribe("2", EVENTS, { id: project, after: "0" });
      const second = await conn.answerTo("2");
      assert.equal(codeOf(second), "UNAUTHENTICATED", `got ${JSON.stringify(second)}`);
      assert.equal(second.payload?.data?.projectEvents ?? null, null, "no event for the refused operation");
      assert.equal(conn.closed, undefined, "refused on the open connection, not by closing it");
    } finally {
      conn.close();
    }
  });

  it("applies a role granted after connecting to the next subscription on the same connection", async () => {
    const caller = await seedCaller(t, null);
    const conn = await connect(t, caller.token);
    try {
      conn.subscribe("1", EVENTS, { id: project, after: "0" });
      assert.equal(codeOf(await conn.answerTo("1")), "FORBIDDEN");

      const binding = dataOf(
        await t.gql(`mutation($i: GrantRoleInput!) { grantRole(input: $i) { ... on RoleBindingPayload { roleBinding { id } } } }`, {
          i: { principalId: caller.principalId, role: "VIEWER", projectId: project },
        }),
      ).grantRole.roleBinding.id;
      conn.subscribe("2", EVENTS, { id: project, after: "0" });
      const allowed = await conn.answerTo("2");
      assert.equal(allowed.type, "next");
      assert.equal(allowed.payload.data.projectEvents.__typename, "ProjectEvent");
      conn.socket.send(JSON.stringify({ id: "2", type: "complete" }));

      dataOf(await t.gql(`mutation($i: IdInput!) { revokeRole(input: $i) { __typename } }`, { i: { id: binding } }));
      conn.subscribe("3", EVENTS, { id: project, after: "0" });
      assert.equal(codeOf(await conn.answerTo("3")), "FORBIDDEN");
      assert.equal(conn.closed, undefined);
    } finally {
      conn.close();
    }
  });
});
