import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { eventually } from "../helpers/eventually";
import { createTestDatabase, type TestDatabase } from "../helpers/database";

const ROOT = path.resolve(__dirname, "../../..");
const BIN = path.join(ROOT, "bin", "sluice.js");
const ADMIN_TOKEN = "slc_shutdown_test_admin_0123456789abcdef"; // 40 characters
const STARTUP_TIMEOUT_MS = 60_000;

/** A `sluice server` child process. */
interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** The environment of the child: ours minus every setting the server reads, plus `extra`. */
function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SLUICE_|NODE_TEST|DATABASE_URL$|PORT$|HOST$|NODE_ENV$|LOG_LEVEL$)/.test(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Spawns `node bin/sluice.js server --port 0` and waits for the line that names its URL. */
async function spawnServer(env: Record<string, string | undefined>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, "server", "--port", "0"], {
    cwd: ROOT,
    env: childEnv({ HOST: "127.0.0.1", LOG_LEVEL: "warn", SLUICE_ADMIN_TOKEN: ADMIN_TOKEN, ...env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const started = Date.now();
  for (;;) {
    const m = /Sluice is serving GraphQL at (http:\/\/127\.0\.0\.1:(\d+))\/graphql/.exec(out);
    if (m) return { child, port: Number(m[2]), url: m[1]!, exited, output: () => out };
    if (child.exitCode !== null || child.signalCode !== null) assert.fail(`the server exited before serving:\n${out}`);
    if (Date.now() - started > STARTUP_TIMEOUT_MS) {
      child.kill("SIGKILL");
      assert.fail(`the server did not start within ${STARTUP_TIMEOUT_MS} ms:\n${out}`);
    }
    await sleep(25); // reads the child's output as it comes; fails at once if the child exits
  }
}

async function gql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; data?: any; errors?: any[] }> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}`, connection: "close" },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: any[] }) };
}

/** Rejects when `promise` takes longer than `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the error code of a fresh TCP connection attempt, or "connected". */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
  });
}

describe("sluice server process", () => {
  let dataDir: string;
  let testDb: TestDatabase;
  const children: ChildProcess[] = [];
  const projectName = "survives-restart";
  let projectId: string | undefined;

  /** The embedded database in a temporary folder, or a fresh PostgreSQL database. */
  const databaseEnv = () => (testDb.url ? { DATABASE_URL: testDb.url } : { SLUICE_DATA_DIR: dataDir });

  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-shutdown-"));
    testDb = await createTestDatabase();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await testDb.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it("on SIGTERM finishes the in-flight request, closes subscriptions, refuses new connections and exits 0", async () => {
    const server = await spawnServer(databaseEnv());
    children.push(server.child);

    const created = await gql(
      server.url,
      `mutation($n: String!) { createProject(input: { name: $n }) { ... on ProjectPayload { project { id } } } }`,
      { n: projectName },
    );
    assert.equal(created.status, 200, JSON.stringify(created));
    projectId = created.data.createProject.project.id as string;

    // A live subscription: wait until it delivers an event, so it is really open.
    const ws = createClient({
      url: `ws://127.0.0.1:${server.port}/graphql`,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: () => undefined, // the close below is expected; the default logs it
      connectionParams: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const closed = new Promise<{ code: number }>((resolve) => ws.on("closed", (e) => resolve(e as { code: number })));
    const events: unknown[] = [];
    const subscriptionEnded = new Promise<string>((resolve) => {
      ws.subscribe(
        { query: `subscription($p: ID!) { projectEvents(projectId: $p) { type } }`, variables: { p: projectId } },
        { next: (v) => events.push(v), error: () => resolve("error"), complete: () => resolve("complete") },
      );
    });
    for (let i = 0; events.length === 0; i++) {
      assert.ok(i < 50, "the subscription delivered an event");
      await gql(
        server.url,
        `mutation($id: ID!) { archiveProject(input: { id: $id }) { __typename } restoreProject(input: { id: $id }) { __typename } }`,
        { id: projectId },
      );
      await sleep(50); // a pause between the changes this loop makes until the subscription reports one
    }

    // An HTTP request whose body is half sent when the signal arrives.
    const body = JSON.stringify({ query: `query InFlight($id: ID) { project(id: $id) { id name } }`, variables: { id: projectId } });
    const half = Math.floor(body.length / 2);
    const req = http.request({
      host: "127.0.0.1",
      port: server.port,
      path: "/graphql",
      method: "POST",
      agent: false,
      // With Expect: 100-continue the server's "100 Continue" tells us it has taken the request.
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${ADMIN_TOKEN}`,
        expect: "100-continue",
      },
    });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.once("response", (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.once("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.once("error", reject);
      });
      req.once("error", reject);
    });
    answer.catch(() => undefined); // awaited below; a failure before that must not go unhandled
    req.flushHeaders();
    await within(5000, "the server accepts the request headers", once(req, "continue"));
    req.write(body.slice(0, half));
    await sleep(50); // no signal says the half body has reached the server; a grace

    const signalled = Date.now();
    server.child.kill("SIGTERM");

    const close = await within(5000, "the server closes the WebSocket", closed);
    assert.equal(close.code, 1001, "closed by the server as going away");
    await within(1000, "the subscription ends", subscriptionEnded);

    // Draining: while the request is still open, a new connection is refused.
    await eventually(async () => assert.equal(await tryConnect(server.port), "ECONNREFUSED"), { timeoutMs: 2000 });
    assert.equal(server.child.exitCode, null, "still running while a request is in flight");

    req.end(body.slice(half));
    const res = await within(5000, "the in-flight request is answered", answer);
    assert.equal(res.status, 200, res.body);
    const json = JSON.parse(res.body) as { data?: any; errors?: unknown };
    assert.equal(json.errors, undefined);
    assert.deepEqual(json.data, { project: { id: projectId, name: projectName } });

    const exit = await within(5000, "the process exits", server.exited);
    assert.deepEqual(exit, { code: 0, signal: null }, server.output());
    assert.ok(Date.now() - signalled < 5000);
    assert.doesNotMatch(server.output(), /"level":"(error|fatal)"/, server.output());
    await ws.dispose();
  });

  it("keeps its data across a restart on the same database", async () => {
    assert.ok(projectId, "the previous test created a project");
    const server = await spawnServer(databaseEnv());
    children.push(server.child);
    const res = await gql(server.url, `query($n: String) { project(name: $n) { id name } }`, { n: projectName });
    assert.equal(res.status, 200, JSON.stringify(res));
    assert.deepEqual(res.data, { project: { id: projectId, name: projectName } });

    server.child.kill("SIGTERM");
    const exit = await within(5000, "the process exits", server.exited);
    assert.deepEqual(exit, { code: 0, signal: null }, server.output());
  });
});
