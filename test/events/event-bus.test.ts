import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "graphql-ws";
import { eventually } from "../helpers/eventually";
import { createTestDatabase } from "../helpers/database";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

interface ProjectEvent {
  cursor: string;
  type: string;
  payload: Record<string, unknown>;
}

const SUBSCRIPTION = `subscription($p: ID!, $after: String) { projectEvents(projectId: $p, after: $after) { cursor type payload } }`;

/** Subscribes and collects events until `count` have arrived (or fails after a timeout). */
function collect(
  client: Client,
  variables: Record<string, unknown>,
  count: number,
): { done: Promise<ProjectEvent[]>; ready: Promise<void>; stop: () => void } {
  const events: ProjectEvent[] = [];
  let stop = () => undefined as void;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const done = new Promise<ProjectEvent[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${events.length} of ${count} events: ${JSON.stringify(events)}`)), 5000);
    stop = client.subscribe<{ projectEvents: ProjectEvent }>(
      { query: SUBSCRIPTION, variables },
      {
        next: (msg) => {
          if (msg.errors) return reject(new Error(JSON.stringify(msg.errors)));
          events.push(msg.data!.projectEvents);
          if (events.length === count) {
            clearTimeout(timer);
            resolve(events);
          }
        },
        error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
        complete: () => undefined,
      },
    );
  });
  // graphql-ws gives no "subscribed" signal; the connection being acknowledged plus a short
  // settle is when the server has attached the live listener.
  client.on("connected", () => setTimeout(markReady, 100));
  return { done, ready, stop: () => stop() };
}

async function rename(t: TestServer, id: string, name: string): Promise<void> {
  const res = dataOf(
    await t.gql(`mutation($id: ID!, $n: String!) { renameProject(input: { id: $id, name: $n }) { __typename } }`, { id, n: name }),
  );
  assert.equal(res.renameProject.__typename, "ProjectPayload");
}

describe("projectEvents subscription", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.close();
  });

  it("streams committed changes of one project, in order", async () => {
    const id = await seedProject(t, "stream-a");
    const other = await seedProject(t, "stream-other");
    const sub = collect(t.ws(), { p: id }, 2);
    await sub.ready;
    await rename(t, other, "stream-other-2"); // another project: not delivered
    await rename(t, id, "stream-b");
    await rename(t, id, "stream-c");
    const events = await sub.done;
    assert.deepEqual(
      events.map((e) => [e.type, e.payload.to]),
      [
        ["project.renamed", "stream-b"],
        ["project.renamed", "stream-c"],
      ],
    );
    assert.ok(BigInt(events[1]!.cursor) > BigInt(events[0]!.cursor));
  });

  it("delivers what a client missed when it reconnects with its last cursor, then live events", async () => {
    const id = await seedProject(t, "resume-0");
    const first = t.ws();
    const sub1 = collect(first, { p: id }, 1);
    await sub1.ready;
    await rename(t, id, "resume-1");
    const [seen] = await sub1.done;
    await first.dispose();

    // While disconnected:
    await rename(t, id, "resume-2");
    await rename(t, id, "resume-3");

    const sub2 = collect(t.ws(), { p: id, after: seen!.cursor }, 3);
    await sub2.ready;
    await rename(t, id, "resume-4");
    const events = await sub2.done;
    assert.deepEqual(
      events.map((e) => e.payload.to),
      ["resume-2", "resume-3", "resume-4"],
    );
  });

  it("replays a project's whole history from cursor 0", async () => {
    const id = await seedProject(t, "history-0");
    await rename(t, id, "history-1");
    const sub = collect(t.ws(), { p: id, after: "0" }, 2);
    const events = await sub.done;
    assert.deepEqual(
      events.map((e) => e.type),
      ["project.created", "project.renamed"],
    );
  });

  it("detaches the listener as soon as the client unsubscribes", async () => {
    const id = await seedProject(t, "detach");
    const bus = t.server.services.events;
    const base = bus.subscriberCount;
    const client = t.ws();
    const sub = collect(client, { p: id }, 1);
    await sub.ready;
    assert.equal(bus.subscriberCount, base + 1);
    sub.stop();
    sub.done.catch(() => undefined);
    await eventually(() => assert.equal(bus.subscriberCount, base), { intervalMs: 10 });
  });

  it("refuses a cursor that is not one", async () => {
    const id = await seedProject(t, "bad-cursor");
    const sub = collect(t.ws(), { p: id, after: "abc" }, 1);
    await assert.rejects(sub.done, /BAD_USER_INPUT/);
  });
});

describe("events across server processes", { skip: process.env.DATABASE_URL ? false : "needs PostgreSQL (LISTEN/NOTIFY)" }, () => {
  it("delivers a change committed on one server to a subscriber on another", async () => {
    const testDb = await createTestDatabase();
    const a = await startTestServer({ testDb });
    const b = await startTestServer({ testDb });
    try {
      const id = await seedProject(a, "two-servers");
      const sub = collect(b.ws(), { p: id }, 1);
      await sub.ready;
      await rename(a, id, "two-servers-2");
      const [event] = await sub.done;
      assert.equal(event!.payload.to, "two-servers-2");
    } finally {
      await a.close();
      await b.close();
      await testDb.drop();
    }
  });
});
