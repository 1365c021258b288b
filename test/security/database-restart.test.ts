import "reflect-metadata";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { reconnectDelay } from "../../src/events/message-bus";
import { RunEvents } from "../../src/runs/engine/run-events";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, triggerRun, waitForRun } from "../helpers/pipelines";
import { startTestServer, type TestServer } from "../helpers/server";
import { TRIGGER_LEADER_LOCK } from "../../src/triggers/leader";
import { createEventRule, createSchedule, emitEvent, firesOf, scheduleMutation, sleep, waitFor } from "../triggers/support";

/** The newest PostgreSQL server binaries installed, or undefined. */
function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], "bin") : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway PostgreSQL cluster in a temp folder, run as the `postgres` user when we are root. */
class TempPostgres {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-pg-restart-"));
  readonly data = path.join(this.dir, "data");
  readonly socket = path.join(this.dir, "socket");
  constructor(
    private readonly bin: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private command(tool: string, args: string[]): [string, string[]] {
    const asRoot = process.getuid?.() === 0;
    return asRoot ? ["runuser", ["-u", "postgres", "--", path.join(this.bin, tool), ...args]] : [path.join(this.bin, tool), args];
  }

  private run(tool: string, args: string[]): void {
    const [cmd, argv] = this.command(tool, args);
    execFileSync(cmd, argv, { stdio: "pipe", cwd: this.dir });
  }

  /** Without blocking the event loop, so the server under test keeps running meanwhile. */
  private async runAsync(tool: string, args: string[]): Promise<void> {
    const [cmd, argv] = this.command(tool, args);
    await promisify(execFile)(cmd, argv, { cwd: this.dir });
  }

  init(): void {
    fs.mkdirSync(this.socket);
    if (process.getuid?.() === 0) execFileSync("chown", ["-R", "postgres", this.dir]);
    this.run("initdb", ["-D", this.data, "-U", "postgres", "--auth=trust", "--no-sync"]);
  }

  start(): Promise<void> {
    return this.runAsync("pg_ctl", [
      "-D",
      this.data,
      "-w",
      "-l",
      path.join(this.dir, "log"),
      "-o",
      `-p ${this.port} -k ${this.socket} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  }

  stop(): Promise<void> {
    return this.runAsync("pg_ctl", ["-D", this.data, "-w", "-m", "fast", "stop"]);
  }

  destroy(): void {
    try {
      this.run("pg_ctl", ["-D", this.data, "-w", "-m", "immediate", "stop"]);
    } catch {
      // already stopped
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

interface Readiness {
  status: number;
  checks: Record<string, boolean>;
}

async function readiness(t: TestServer): Promise<Readiness> {
  const res = await fetch(`${t.url}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
}

const bin = postgresBin();

describe(
  "a PostgreSQL restart",
  { skip: bin ? false : "initdb not found under /usr/lib/postgresql/*/bin: no PostgreSQL to restart" },
  () => {
    let pg: TempPostgres;
    let t: TestServer;
    let projectId: string;
    let pipelineId: string;
    const received: Array<{ cursor: string; type: string }> = [];
    let stopSubscription: () => void = () => undefined;

    before(async () => {
      pg = new TempPostgres(bin!, await freePort());
      pg.init();
      await pg.start();
      t = await startTestServer({ testDb: { url: pg.url, drop: async () => undefined }, env: { SLUICE_MIN_SCHEDULE_SECONDS: "1" } });
      projectId = await seedProject(t, "restart");
      pipelineId = (await applyPipeline(t, projectId, { name: "after-restart", stages: [{ name: "a", run: { operator: "noop" } }] }))
        .pipelineId;
      // A live subscription to every run of the pipeline, opened before the outage.
      const ws = t.ws();
      await new Promise<void>((resolve, reject) => {
        stopSubscription = ws.subscribe<{ runEvents: { cursor: string; type: string } }>(
          { query: `subscription($p: ID) { runEvents(pipelineId: $p) { cursor type } }`, variables: { p: pipelineId } },
          {
            next: (msg) => {
              if (msg.errors) reject(new Error(JSON.stringify(msg.errors)));
              else received.push(msg.data!.runEvents);
            },
            error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
            complete: () => undefined,
          },
        );
        ws.on("connected", () => setTimeout(resolve, 300)); // no signal says the server has subscribed; a short grace
      });
    });

    after(async () => {
      stopSubscription();
      await t?.close();
      pg?.destroy();
    });

    it("is survived: readiness names the listener while it is down, and runs, subscriptions and event rules resume without a gap", async (ctx) => {
      const before = await triggerRun(t, pipelineId);
      assert.equal((await waitForRun(t, before)).status, "SUCCEEDED");
      const rulePipeline = (await applyPipeline(t, projectId, { name: "on-restart", stages: [{ name: "b", run: { operator: "noop" } }] }))
        .pipelineId;
      const rule = await createEventRule(t, { pipelineId: rulePipeline, name: "after-restart", eventType: "restart.probe" });
      assert.equal(rule.__typename, "EventRulePayload", JSON.stringify(rule));
      assert.equal((await readiness(t)).status, 200);

      await pg.stop();
      const down = await waitFor("/readyz to answer 503", async () => {
        const r = await readiness(t);
        return r.status === 503 ? r : undefined;
      });
      assert.equal(down.checks.listener, false, "the readiness answer names the event listener");
      await sleep(10_000); // time must pass: the answer stays 503 for as long as the database is down
      assert.equal((await readiness(t)).status, 503);
      // As soon as the database takes it (the listener is most likely still waiting to reconnect): a run and an event.
      const starting = pg.start();
      const runId = await waitFor("the database to take a run", () => triggerRun(t, pipelineId).catch(() => undefined), 30_000);
      await starting;
      const probe = await emitEvent(t, projectId, "restart.probe", {});
      const whileDown = (await readiness(t)).checks.listener === false;
      await waitFor("/readyz to answer 200", async () => (await readiness(t)).status === 200, 30_000);

      const run = await waitForRun(t, runId, 30_000);
      assert.equal(run.status, "SUCCEEDED", "a run triggered after the restart is claimed and finishes");

      const [fire] = await waitFor("the event rule's fire", async () => {
        const f = await firesOf(t, "eventRule", rule.eventRule.id);
        return f.length > 0 ? f : undefined;
      });
      assert.equal(fire!.eventId, probe.event.cursor);
      // The trigger leader's lock died with its session: it is taken again, and schedules fire.
      const lockClient = new Client({ connectionString: pg.url });
      await lockClient.connect();
      await waitFor(
        "the trigger leader to hold its advisory lock again",
        async () => {
          const { rows } = await lockClient.query(
            `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.objid = $1 AND l.granted AND a.application_name = 'sluice-trigger-leader'`,
            [TRIGGER_LEADER_LOCK],
          );
          return rows.length === 1 && t.server.triggers.isLeader;
        },
        30_000,
      );
      await lockClient.end();
      const ticker = await createSchedule(t, { pipelineId: rulePipeline, name: "after-restart", cron: "* * * * * *" });
      assert.equal(ticker.__typename, "SchedulePayload", JSON.stringify(ticker));
      await waitFor("a schedule fire after the restart", async () => (await firesOf(t, "schedule", ticker.schedule.id)).length > 0, 30_000);
      await scheduleMutation(t, "deleteSchedule", ticker.schedule.id);

      // Every stored run event of the pipeline arrived on the subscription, in order, once.
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      const stored = await waitFor("the subscription to receive every stored event", async () => {
        const { rows } = await client.query<{ cursor: string; type: string }>(
          `SELECT id::text AS cursor, type FROM events WHERE payload ->> 'pipelineId' = $1 AND type = ANY($2) ORDER BY id`,
          [pipelineId, Object.values(RunEvents)],
        );
        return rows.length > 0 && received.length >= rows.length ? rows : undefined;
      });
      await client.end();
      assert.deepEqual(received, stored);
      assert.equal(received.filter((e) => e.type === "run.queued").length, 2, "both runs were seen");
      await sleep(1000); // time must pass: a duplicate fire or event, were there one, would arrive within it
      // Runs the schedule started are of the other pipeline: the subscription above does not see them.
      assert.equal((await firesOf(t, "eventRule", rule.eventRule.id)).length, 1, "the rule fired exactly once");
      assert.deepEqual(received, stored, "nothing arrived twice");
      ctx.diagnostic(`events emitted while the listener was still down: ${whileDown}`);
    });

    it("publishes here, in order and once, the events committed while its listener connection was cut", async () => {
      const admin = new Client({ connectionString: pg.url });
      await admin.connect();
      const caughtUpBefore = t.server.services.bus.caughtUpMessages;
      const runIds: string[] = [];
      // Cut the LISTEN connection and commit a run's first events before it reconnects; a reconnect
      // that wins the race catches nothing up, so try again (a few times at most).
      for (let i = 0; i < 10 && t.server.services.bus.caughtUpMessages === caughtUpBefore; i++) {
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice-bus'`);
        runIds.push(await triggerRun(t, pipelineId));
        await waitFor("/readyz to answer 200", async () => (await readiness(t)).status === 200, 30_000);
      }
      assert.ok(t.server.services.bus.caughtUpMessages > caughtUpBefore, "events were read back from the table after the reconnect");
      for (const id of runIds) assert.equal((await waitForRun(t, id, 30_000)).status, "SUCCEEDED");
      const stored = await waitFor("the subscription to receive every stored event", async () => {
        const { rows } = await admin.query<{ cursor: string; type: string }>(
          `SELECT id::text AS cursor, type FROM events WHERE payload ->> 'pipelineId' = $1 AND type = ANY($2) ORDER BY id`,
          [pipelineId, Object.values(RunEvents)],
        );
        return received.length >= rows.length ? rows : undefined;
      });
      await admin.end();
      await sleep(500); // time must pass: a duplicate, were there one, would arrive within it
      assert.deepEqual(received, stored, "every event arrived, in order, none twice");
    });

    it("replays a stage log stream from its cursor after the listener reconnects, missing no chunk", async () => {
      const runId = await triggerRun(t, pipelineId);
      const run = await waitForRun(t, runId, 30_000);
      const ref = { runId, stageRunId: run.stageRuns[0]!.id, attempt: 1 };
      const chunks: string[] = [];
      const ws = t.ws();
      const stop = ws.subscribe<{ stageLogStream: { text: string } }>(
        { query: `subscription($s: ID!) { stageLogStream(stageRunId: $s, after: "0") { text } }`, variables: { s: ref.stageRunId } },
        { next: (msg) => msg.data && chunks.push(msg.data.stageLogStream.text), error: () => undefined, complete: () => undefined },
      );
      await t.server.services.logs.append(ref, "stdout", "before the cut\n");
      await waitFor("the first chunk", async () => chunks.includes("before the cut\n"));
      const admin = new Client({ connectionString: pg.url });
      await admin.connect();
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice-bus'`);
      await admin.end();
      // Written while this process may not be listening: its NOTIFY is then heard by nobody here.
      await t.server.services.logs.append(ref, "stdout", "during the cut\n");
      await waitFor("/readyz to answer 200", async () => (await readiness(t)).status === 200, 30_000);
      await t.server.services.logs.append(ref, "stdout", "after the cut\n");
      await waitFor("every chunk", async () => chunks.length >= 3);
      await sleep(300); // time must pass: a duplicate chunk, were there one, would arrive within it
      stop();
      assert.deepEqual(chunks, ["before the cut\n", "during the cut\n", "after the cut\n"]);
    });
  },
);

describe("the listener's reconnection backoff", () => {
  const settings = { reconnectBaseMs: 250, reconnectMaxMs: 5_000, checkIntervalMs: 10_000 };

  it("doubles from the base, stops growing at the cap, and spreads each wait over its upper half", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 10, 100].map((n) => reconnectDelay(n, settings, () => 1)),
      [250, 500, 1000, 2000, 4000, 5000, 5000, 5000],
    );
    assert.equal(
      reconnectDelay(3, settings, () => 0),
      1000,
    );
    for (let i = 0; i < 100; i++) {
      const d = reconnectDelay(20, settings);
      assert.ok(d >= 2500 && d <= 5000, String(d));
    }
  });
});
