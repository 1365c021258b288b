import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { generateSecret, verifyWebhook } from "../../plugins/webhook";
import { runSystemChange } from "../../src/events/system-change";
import { openDatabase, type Database } from "../../src/db/data-source";
import { entities } from "../../src/app/entities";
import { appendEvents } from "../../src/events/event.store";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { TestReceiver, waitFor } from "./receiver";

const CHANNEL_FIELDS = `id projectId name kind config secretName eventTypes enabled createdBy createdAt updatedAt`;
const CREATE = `mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) {
  __typename
  ... on NotificationChannelPayload { notificationChannel { ${CHANNEL_FIELDS} } }
  ... on InvalidInputError { code problems { field message } }
  ... on Error { code message } } }`;
const UPDATE = `mutation($i: UpdateNotificationChannelInput!) { updateNotificationChannel(input: $i) {
  __typename
  ... on NotificationChannelPayload { notificationChannel { ${CHANNEL_FIELDS} } }
  ... on InvalidInputError { code problems { field message } }
  ... on Error { code message } } }`;
const DELETE = `mutation($i: NotificationChannelIdInput!) { deleteNotificationChannel(input: $i) { __typename ... on Error { code message } } }`;
const DELIVERIES = `query($c: ID!) { notificationDeliveries(channelId: $c, first: 100) { totalCount nodes {
  id channelId eventId eventType attempt status dueAt httpStatus error responseExcerpt durationMs finishedAt createdAt } } }`;

/** Emits an event the way services do: written in a transaction, published on the bus after commit. */
async function emit(t: TestServer, projectId: string, type: string, payload: Record<string, unknown> = {}): Promise<string> {
  let id = "";
  await runSystemChange(t.server.services, async (tx) => {
    tx.emit({ type, projectId, subjectId: `subject-${type}`, payload });
  });
  const rows = await t.server.services.db.dataSource.query(`SELECT MAX(id)::text AS id FROM events WHERE type = $1`, [type]);
  id = rows[0].id;
  return id;
}

describe("notification channels and signed webhooks", () => {
  let t: TestServer;
  let receiver: TestReceiver;
  let projectId: string;
  const secret = generateSecret();

  async function createChannel(input: Record<string, unknown>, token?: string) {
    return dataOf(
      await t.gql(
        CREATE,
        { i: { projectId, kind: "webhook", secretName: "HOOK_SECRET", signingSecret: secret, eventTypes: ["*"], ...input } },
        token,
      ),
    ).createNotificationChannel;
  }

  async function channel(name: string, url: string, eventTypes: string[], extra: Record<string, unknown> = {}): Promise<string> {
    const res = await createChannel({ name, config: { url, timeoutMs: 2000 }, eventTypes, ...extra });
    assert.equal(res.__typename, "NotificationChannelPayload", JSON.stringify(res));
    return res.notificationChannel.id;
  }

  async function deliveries(channelId: string): Promise<Array<Record<string, any>>> {
    const nodes = dataOf(await t.gql(DELIVERIES, { c: channelId })).notificationDeliveries.nodes as Array<Record<string, any>>;
    return nodes.sort((a, b) => Number(a.eventId) - Number(b.eventId) || a.attempt - b.attempt);
  }

  /**
   * Waits until the channel's log holds `n` attempts none of which is PENDING; with `types`, only
   * attempts for events of those types count (a `*` channel also hears channel and secret changes).
   */
  async function settled(channelId: string, n: number, types?: string[]): Promise<Array<Record<string, any>>> {
    return waitFor(`${n} settled deliveries`, async () => {
      const log = (await deliveries(channelId)).filter((d) => !types || types.includes(d.eventType));
      return log.length === n && log.every((d) => d.status !== "PENDING") ? log : undefined;
    });
  }

  before(async () => {
    receiver = await TestReceiver.start();
    t = await startTestServer({
      env: { SLUICE_NOTIFY_RETRY_MS: "100", SLUICE_NOTIFY_MAX_ATTEMPTS: "3", SLUICE_WEBHOOK_ALLOW: "127.0.0.1" },
    });
    projectId = await seedProject(t, "notify");
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  it("POSTs the event as JSON, signed so that the receiver's verify function accepts it", async () => {
    const url = receiver.url("/signed");
    const channelId = await channel("signed", url, ["approval.*"]);
    const eventId = await emit(t, projectId, "approval.decided", { decision: "APPROVED", comment: "fine by me", decidedBy: "alice" });
    const [log] = [await settled(channelId, 1)];
    assert.equal(log[0]!.status, "SUCCEEDED");
    assert.equal(log[0]!.httpStatus, 200);
    assert.equal(log[0]!.attempt, 1);
    assert.equal(log[0]!.eventId, eventId);
    assert.equal(log[0]!.eventType, "approval.decided");
    assert.ok(log[0]!.durationMs >= 0 && log[0]!.finishedAt);

    const [req] = receiver.at("/signed");
    assert.ok(req);
    assert.equal(req.headers["content-type"], "application/json");
    assert.equal(req.headers["webhook-id"], `evt_${eventId}`);
    assert.match(String(req.headers["webhook-signature"]), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.ok(Math.abs(Number(req.headers["webhook-timestamp"]) - Date.now() / 1000) < 60);
    assert.deepEqual(verifyWebhook(secret, req.headers, req.rawBody), {
      id: `evt_${eventId}`,
      timestamp: Number(req.headers["webhook-timestamp"]),
    });
    const body = JSON.parse(req.rawBody.toString("utf8"));
    assert.deepEqual(
      { ...body, timestamp: undefined },
      {
        id: eventId,
        type: "approval.decided",
        timestamp: undefined,
        projectId,
        subjectId: "subject-approval.decided",
        actorId: null,
        data: { decision: "APPROVED", comment: "fine by me", decidedBy: "alice" },
      },
    );
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    // The signature covers the body: a receiver refuses one that was changed on the way.
    assert.throws(() => verifyWebhook(secret, req.headers, req.rawBody.toString().replace("APPROVED", "REJECTED")), /no v1 signature/);
    dataOf(await t.gql(DELETE, { i: { id: channelId } }));
  });

  it("retries a receiver that answers 500, with the same webhook-id, until it answers 200", async () => {
    const channelId = await channel("flaky", receiver.url("/flaky", [500, 200]), ["approval.requested"]);
    const eventId = await emit(t, projectId, "approval.requested", { modelVersionId: "v1" });
    const log = await settled(channelId, 2);
    assert.deepEqual(
      log.map((d) => [d.attempt, d.status, d.httpStatus]),
      [
        [1, "RETRYING", 500],
        [2, "SUCCEEDED", 200],
      ],
    );
    assert.equal(log[0]!.error, "HTTP 500");
    assert.match(log[0]!.responseExcerpt, /refused with 500/, "the admin reads the receiver's answer");
    const reqs = receiver.at("/flaky");
    assert.equal(reqs.length, 2);
    for (const r of reqs) {
      assert.equal(r.headers["webhook-id"], `evt_${eventId}`);
      verifyWebhook(secret, r.headers, r.rawBody);
    }
    assert.ok(reqs[1]!.at - reqs[0]!.at >= 90, "the retry waited for the back-off");
    dataOf(await t.gql(DELETE, { i: { id: channelId } }));
  });

  it("does not retry a 400, and gives up on network errors after the last attempt", async () => {
    const bad = await channel("bad-request", receiver.url("/bad", [400]), ["validation.failed"]);
    // A port nothing listens on: the connection is refused.
    const down = await channel("down", "http://127.0.0.1:9/hook", ["validation.failed"]);
    await emit(t, projectId, "validation.failed", { suite: "orders" });
    const badLog = await settled(bad, 1);
    assert.deepEqual(
      badLog.map((d) => [d.attempt, d.status, d.httpStatus]),
      [[1, "FAILED", 400]],
    );
    const downLog = await settled(down, 3);
    assert.deepEqual(
      downLog.map((d) => [d.attempt, d.status, d.httpStatus]),
      [
        [1, "RETRYING", null],
        [2, "RETRYING", null],
        [3, "FAILED", null],
      ],
    );
    assert.match(downLog[0]!.error, /network error/);
    const failed = dataOf(
      await t.gql(
        `query($c: ID!) { notificationDeliveries(channelId: $c, filter: { status: FAILED }, orderBy: { field: CREATED_AT, direction: ASC }) { totalCount nodes { attempt } } }`,
        { c: down },
      ),
    ).notificationDeliveries;
    assert.deepEqual(failed, { totalCount: 1, nodes: [{ attempt: 3 }] }, "the log filters by status");
    await new Promise((r) => setTimeout(r, 300)); // time must pass: a retry, were there one, would arrive within it
    assert.equal(receiver.at("/bad").length, 1, "a 400 is never retried");
    assert.equal((await deliveries(bad)).length, 1);
    for (const id of [bad, down]) dataOf(await t.gql(DELETE, { i: { id } }));
  });

  it("sends only the types a channel's patterns match, only from its own project, and nothing to a disabled channel", async () => {
    const other = await seedProject(t, "elsewhere");
    const picky = await channel("picky", receiver.url("/picky"), ["approval.decided", "validation.*", "alert.*"]);
    const all = await channel("all", receiver.url("/all"), ["*"]);
    const off = await channel("off", receiver.url("/off"), ["*"], { enabled: false });
    const types = ["approval.requested", "approval.decided", "validation.failed", "dataset.version.created", "alert.fired"];
    for (const type of types) await emit(t, projectId, type);
    await emit(t, other, "approval.decided");
    const picked = await settled(picky, 3);
    assert.deepEqual(
      picked.map((d) => d.eventType),
      ["approval.decided", "validation.failed", "alert.fired"],
    );
    const everything = await settled(all, types.length, types);
    assert.deepEqual(
      everything.map((d) => d.eventType),
      types,
    );
    await new Promise((r) => setTimeout(r, 300)); // time must pass: a stray delivery, were there one, would arrive within it
    assert.equal((await deliveries(off)).length, 0, "a disabled channel gets nothing");
    assert.equal(receiver.at("/off").length, 0);
    assert.equal(receiver.at("/picky").length, 3);

    // Enabled later, it hears what comes next.
    const enabled = dataOf(await t.gql(UPDATE, { i: { id: off, enabled: true } })).updateNotificationChannel;
    assert.equal(enabled.notificationChannel?.enabled, true, JSON.stringify(enabled));
    await emit(t, projectId, "alert.resolved");
    assert.deepEqual(
      (await settled(off, 1, ["alert.resolved"])).map((d) => d.eventType),
      ["alert.resolved"],
    );
    for (const id of [picky, all, off]) dataOf(await t.gql(DELETE, { i: { id } }));
  });

  it("never returns or audits the signing secret", async () => {
    const res = await createChannel({ name: "secretive", config: { url: receiver.url("/secretive") } });
    assert.equal(res.__typename, "NotificationChannelPayload");
    const id = res.notificationChannel.id;
    assert.equal(res.notificationChannel.secretName, "HOOK_SECRET");
    assert.deepEqual(res.notificationChannel.config, { url: receiver.url("/secretive"), timeoutMs: 10_000 });
    const rotated = generateSecret();
    const texts = [
      JSON.stringify(res),
      JSON.stringify(await t.gql(UPDATE, { i: { id, signingSecret: rotated, eventTypes: ["approval.*"] } })),
      JSON.stringify(
        await t.gql(`query($p: ID!) { notificationChannels(projectId: $p) { totalCount nodes { ${CHANNEL_FIELDS} } } }`, { p: projectId }),
      ),
      JSON.stringify(await t.gql(`query($id: ID!) { notificationChannel(id: $id) { ${CHANNEL_FIELDS} } }`, { id })),
      JSON.stringify(await t.gql(`{ auditEvents(first: 500) { nodes { action input result } } }`)),
    ];
    for (const value of [secret, rotated]) {
      const core = value.slice("whsec_".length);
      for (const text of texts) assert.ok(!text.includes(core), "the secret value never appears");
    }
    const audit = dataOf(await t.gql(`{ auditEvents(filter: { action: "notification_channel.update" }) { nodes { input outcome } } }`))
      .auditEvents.nodes;
    assert.equal(audit[0].input.signingSecret, "[redacted]");
    // The rotated secret is the one used from now on.
    await emit(t, projectId, "approval.expired");
    const req = await waitFor("a delivery", () => receiver.at("/secretive").find((r) => r.rawBody.toString().includes("approval.expired")));
    verifyWebhook(rotated, req.headers, req.rawBody);
    assert.throws(() => verifyWebhook(secret, req.headers, req.rawBody));
    dataOf(await t.gql(DELETE, { i: { id } }));
  });

  it("refuses callers who are not ADMIN in the project, and audits the refusal", async () => {
    const editor = await seedCaller(t, "EDITOR", projectId);
    const refused = await t.gql(
      CREATE,
      {
        i: {
          projectId,
          name: "nope",
          kind: "webhook",
          config: { url: receiver.url("/nope") },
          eventTypes: ["*"],
          secretName: "HOOK_SECRET",
        },
      },
      editor.token,
    );
    assert.equal(refused.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const id = await channel("guarded", receiver.url("/guarded"), ["*"]);
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const listed = dataOf(
      await t.gql(`query($p: ID!) { notificationChannels(projectId: $p) { nodes { name } } }`, { p: projectId }, viewer.token),
    );
    assert.ok(
      listed.notificationChannels.nodes.some((n: { name: string }) => n.name === "guarded"),
      "viewers may read channels",
    );
    const update = await t.gql(UPDATE, { i: { id, enabled: false } }, viewer.token);
    assert.equal(update.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const remove = await t.gql(DELETE, { i: { id } }, editor.token);
    assert.equal(remove.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const outsider = await seedCaller(t, "ADMIN", await seedProject(t));
    const peek = await t.gql(DELIVERIES, { c: id }, outsider.token);
    assert.equal(peek.errors?.[0]?.extensions?.code, "FORBIDDEN", "an admin of another project cannot read the log");
    const denied = dataOf(await t.gql(`{ auditEvents(filter: { action: "notification_channel.create" }) { nodes { outcome } } }`));
    assert.ok(denied.auditEvents.nodes.some((n: { outcome: string }) => n.outcome === "DENIED"));
    dataOf(await t.gql(DELETE, { i: { id } }));
  });

  it("names the field of each bad input", async () => {
    const fields = async (input: Record<string, unknown>) => {
      const res = await createChannel({ name: "bad", config: { url: receiver.url("/x") }, ...input });
      assert.equal(res.__typename, "InvalidInputError", JSON.stringify(res));
      return (res.problems as Array<{ field: string }>).map((p) => p.field).sort();
    };
    assert.deepEqual(await fields({ config: { url: "ftp://example.org/x" } }), ["config.url"]);
    assert.deepEqual(await fields({ config: { url: "not a url" } }), ["config.url"]);
    assert.deepEqual(await fields({ config: { url: "https://user:pw@example.org/" } }), ["config.url"]);
    assert.deepEqual(await fields({ config: { url: 42 } }), ["config.url"]);
    assert.deepEqual(await fields({ config: {} }), ["config.url"]);
    assert.deepEqual(await fields({ config: { url: "https://example.org", timeoutMs: 100, color: "red" } }), [
      "config.color",
      "config.timeoutMs",
    ]);
    assert.deepEqual(await fields({ kind: "carrier-pigeon" }), ["kind"]);
    assert.deepEqual(await fields({ eventTypes: ["approval..decided", "ok.*"] }), ["eventTypes.0"]);
    assert.deepEqual(await fields({ eventTypes: [] }), ["eventTypes"]);
    assert.deepEqual(await fields({ name: "Bad Name", eventTypes: ["a b"] }), ["eventTypes.0", "name"]);
    assert.deepEqual(await fields({ signingSecret: "hunter2" }), ["signingSecret"]);
    assert.deepEqual(await fields({ secretName: null, signingSecret: null }), ["secretName"]);
    assert.deepEqual(await fields({ secretName: "NO_SUCH_SECRET", signingSecret: null }), ["secretName"]);
    const first = await channel("taken", receiver.url("/taken"), ["*"]);
    const dup = await createChannel({ name: "taken", config: { url: receiver.url("/taken") } });
    assert.equal(dup.__typename, "ConflictError");
    const gone = dataOf(await t.gql(UPDATE, { i: { id: randomUuid(), enabled: false } })).updateNotificationChannel;
    assert.equal(gone.__typename, "NotFoundError");
    // Reusing a secret the project already holds, by name only.
    const reuse = await createChannel({ name: "reuse", config: { url: receiver.url("/reuse") }, signingSecret: null });
    assert.equal(reuse.__typename, "NotificationChannelPayload", JSON.stringify(reuse));
    for (const id of [first, reuse.notificationChannel.id]) dataOf(await t.gql(DELETE, { i: { id } }));
  });
});

function randomUuid(): string {
  const h = randomBytes(16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

describe("notification dispatch across a restart", () => {
  let testDb: TestDatabase;
  let db: Database;
  let receiver: TestReceiver;
  const env = { SLUICE_SECRET_KEY: randomBytes(32).toString("base64"), SLUICE_NOTIFY_RETRY_MS: "100", SLUICE_WEBHOOK_ALLOW: "127.0.0.1" };

  before(async () => {
    receiver = await TestReceiver.start();
    testDb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
  });
  after(async () => {
    await db.close();
    await testDb.drop();
    await receiver.close();
  });

  it("delivers events committed while no dispatcher ran, once the server is back", async () => {
    const secret = generateSecret();
    const first = await startTestServer({ db, testDb, env });
    const projectId = await seedProject(first, "restart");
    const created = dataOf(
      await first.gql(CREATE, {
        i: {
          projectId,
          name: "resume",
          kind: "webhook",
          config: { url: receiver.url("/resume") },
          eventTypes: ["approval.*"],
          secretName: "S",
          signingSecret: secret,
        },
      }),
    ).createNotificationChannel;
    assert.equal(created.__typename, "NotificationChannelPayload", JSON.stringify(created));
    await first.close();

    // Committed to the stream while no server runs (as if one had died right after the commit).
    await db.dataSource.transaction((m) => appendEvents(m, [{ type: "approval.requested", projectId, payload: { n: 1 } }], null));

    const second = await startTestServer({ db, testDb, env });
    try {
      const req = await waitFor("the missed event", () => receiver.at("/resume")[0]);
      const body = JSON.parse(req.rawBody.toString());
      assert.equal(body.type, "approval.requested");
      verifyWebhook(secret, req.headers, req.rawBody);
      await new Promise((r) => setTimeout(r, 200)); // time must pass: a second delivery, were there one, would arrive within it
      assert.equal(receiver.at("/resume").length, 1, "delivered once");
    } finally {
      await second.close();
    }
  });
});

describe(
  "notification dispatch by two server processes on one PostgreSQL",
  { skip: !process.env.DATABASE_URL && "PostgreSQL only" },
  () => {
    let testDb: TestDatabase;
    let receiver: TestReceiver;
    const env = { SLUICE_SECRET_KEY: randomBytes(32).toString("base64"), SLUICE_WEBHOOK_ALLOW: "127.0.0.1" };

    before(async () => {
      receiver = await TestReceiver.start();
      testDb = await createTestDatabase();
    });
    after(async () => {
      await testDb.drop();
      await receiver.close();
    });

    it("sends each event once, whichever process sweeps and sends it", async () => {
      const a = await startTestServer({ testDb, env });
      const b = await startTestServer({ testDb, env });
      try {
        const projectId = await seedProject(a, "shared");
        const secret = generateSecret();
        const created = dataOf(
          await b.gql(CREATE, {
            i: {
              projectId,
              name: "shared",
              kind: "webhook",
              config: { url: receiver.url("/shared") },
              eventTypes: ["approval.*"],
              secretName: "S",
              signingSecret: secret,
            },
          }),
        ).createNotificationChannel;
        assert.equal(created.__typename, "NotificationChannelPayload", JSON.stringify(created));
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) ids.push(await emit(i % 2 ? a : b, projectId, "approval.requested", { i }));
        await waitFor("20 deliveries", () => (receiver.at("/shared").length >= 20 ? true : undefined));
        await new Promise((r) => setTimeout(r, 500)); // time must pass: a duplicate, were there one, would arrive within it
        const got = receiver.at("/shared").map((r) => String(r.headers["webhook-id"]));
        assert.deepEqual([...got].sort(), ids.map((id) => `evt_${id}`).sort(), "every event exactly once");
        for (const r of receiver.at("/shared")) verifyWebhook(secret, r.headers, r.rawBody);
      } finally {
        await b.close();
        await a.close();
      }
    });
  },
);
