import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { waitUntil } from "../helpers/eventually";
import { spawnAgent, waitForRunner } from "../helpers/agents";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline, getRun, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type GqlResponse, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

const REPO = path.resolve(__dirname, "../../..");
const BWRAP = "/usr/bin/bwrap";
const FAKE_ADMIN_TOKEN = "slc_fake_admin_token_for_the_sandbox_test_0123456789";

/** A project module stage, plain CommonJS, written next to the data dir (so the pipeline's folder contains it). */
const STAGES_JS = `
const fs = require("node:fs");
const net = require("node:net");
exports.leak = async (ctx) => {
  ctx.log("ENV " + JSON.stringify(process.env));
  for (const file of ["/proc/1/environ", "/proc/self/environ", "/proc/" + process.ppid + "/environ"]) {
    try { ctx.log("PROC " + file + " " + fs.readFileSync(file, "utf8").split("\\0").join(" ")); } catch (err) { ctx.log("PROC " + file + " unreadable " + err.code); }
  }
};
exports.readPaths = async (ctx) => {
  for (const p of ctx.params.paths) {
    try { fs.readFileSync(p); ctx.log("READ OK " + p); } catch (err) { ctx.log("READ FAILED " + p + " " + err.code); }
  }
};
exports.hog = async (ctx) => {
  const big = Buffer.alloc(ctx.params.bytes, 1);
  ctx.log("ALLOCATED " + big.length);
};
exports.connect = (ctx) => new Promise((resolve, reject) => {
  const socket = net.connect(ctx.params.port, "127.0.0.1");
  socket.on("connect", () => { ctx.log("CONNECTED"); socket.end(); resolve(); });
  socket.on("error", (err) => reject(new Error("cannot connect: " + err.code)));
});
`;

/** Host pids whose command line holds `marker` (an argument no other process uses). */
function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv.includes(marker)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  await waitUntil(what, check, { timeoutMs, intervalMs: 50 });
}

async function logsOf(t: Pick<TestServer, "gql">, stageRunId: string): Promise<string> {
  const res = dataOf(await t.gql(`query($id: ID!) { stageLogs(stageRunId: $id) { nodes { stream text } } }`, { id: stageRunId }));
  return (res.stageLogs.nodes as Array<{ text: string }>).map((n) => n.text).join("\n");
}

/** A real `sluice server` process (bin/sluice.js) with secrets in its environment, as an operator starts it. */
async function startServerProcess(
  root: string,
  testDb: TestDatabase,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; t: Pick<TestServer, "gql">; url: string }> {
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    SLUICE_ADMIN_TOKEN: FAKE_ADMIN_TOKEN,
    SLUICE_RATE_LIMIT: "0",
    SLUICE_SANDBOX_BWRAP: BWRAP,
    SLUICE_TRUSTED_CODE: "0",
    LOG_LEVEL: "warn",
    ...env,
  };
  if (testDb.url) childEnv.DATABASE_URL = testDb.url;
  else delete childEnv.DATABASE_URL;
  const child = spawn(
    process.execPath,
    [path.join(REPO, "bin/sluice.js"), "server", "--port", "0", "--host", "127.0.0.1", "--data-dir", path.join(root, "data")],
    {
      env: childEnv,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /serving GraphQL at (\S+)\/graphql/.exec(text);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}: ${text}`)));
  });
  child.stdout!.resume();
  const t = {
    async gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>> {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${FAKE_ADMIN_TOKEN}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: GqlResponse["errors"] };
      return { status: res.status, headers: res.headers, data: body.data, errors: body.errors };
    },
  };
  return { child, t, url };
}

describe(
  "stage sandbox (a server started from bin/sluice.js, bubblewrap installed)",
  { skip: !fs.existsSync(BWRAP) && "bubblewrap is not installed" },
  () => {
    let root: string;
    let testDb: TestDatabase;
    let server: { child: ChildProcess; t: Pick<TestServer, "gql"> };
    let projectId: string;
    let listener: net.Server;
    let port: number;

    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-sandbox-test-"));
      fs.writeFileSync(path.join(root, "stages.js"), STAGES_JS);
      testDb = await createTestDatabase();
      server = await startServerProcess(root, testDb, {
        SLUICE_RUNNER_LABELS: "local,network",
        SLUICE_CODE_ROOTS: root,
        SLUICE_STAGE_MEMORY: "1gb",
      });
      projectId = await seedProject(server.t as TestServer);
      listener = net.createServer((socket) => socket.end());
      await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
      port = (listener.address() as net.AddressInfo).port;
    });
    after(async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill("SIGTERM");
        await new Promise((r) => server.child.once("exit", r));
      }
      listener.close();
      await testDb.drop();
      fs.rmSync(root, { recursive: true, force: true });
    });

    async function runPipeline(spec: Record<string, unknown>): Promise<Awaited<ReturnType<typeof waitForRun>>> {
      const t = server.t as TestServer;
      const { pipelineId } = await applyPipeline(t, projectId, spec, root);
      return waitForRun(t, await triggerRun(t, pipelineId), 30_000);
    }

    it("keeps the server's admin token, database URL and secret key out of command and module stages", async () => {
      const run = await runPipeline({
        name: "leak",
        stages: [
          {
            name: "command",
            run: { command: ["sh", "-c", "tr '\\0' '\\n' < /proc/$PPID/environ; tr '\\0' '\\n' < /proc/1/environ; env; ls /proc"] },
          },
          { name: "module", run: { module: "./stages.js", export: "leak" } },
        ],
      });
      assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => s.failure)));
      for (const name of ["command", "module"]) {
        const logs = await logsOf(server.t, stage(run, name).id);
        // The stage did print its environment and the /proc environments it could read.
        assert.match(
          logs,
          name === "command" ? /SLUICE_STAGE_RUN_ID=/ : /ENV \{.*"PATH"[\s\S]*PROC \/proc\/1\/environ /,
          `the ${name} stage's log`,
        );
        assert.ok(!logs.includes(FAKE_ADMIN_TOKEN), `the ${name} stage saw the admin token`);
        assert.ok(!logs.includes("SLUICE_ADMIN_TOKEN"), `the ${name} stage saw SLUICE_ADMIN_TOKEN`);
        assert.ok(!logs.includes("DATABASE_URL"), `the ${name} stage saw DATABASE_URL`);
        if (testDb.url) assert.ok(!logs.includes(testDb.url), `the ${name} stage saw the database URL`);
      }
      // The stage's /proc is its own: the server's process is not in it.
      const commandLogs = await logsOf(server.t, stage(run, "command").id);
      assert.ok(!commandLogs.split("\n").includes(String(server.child.pid)), "the server's pid is visible in the stage's /proc");
    });

    it("shows a stage neither the server's data dir and secret.key nor other host paths", async () => {
      const secretKey = path.join(root, "data", "secret.key");
      assert.ok(fs.existsSync(secretKey), "the server made its key file");
      const paths = [secretKey, path.join(REPO, "package.json"), "/etc/shadow", path.join(os.homedir(), ".bashrc")];
      const run = await runPipeline({
        name: "snoop",
        stages: [
          { name: "command", run: { command: ["sh", "-c", `ls -a ${path.join(root, "data")}; cat ${secretKey}; echo exit=$?`] } },
          { name: "module", run: { module: "./stages.js", export: "readPaths" }, params: { paths } },
        ],
      });
      assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => s.failure)));
      const key = fs.readFileSync(secretKey, "utf8").trim();
      const commandLogs = await logsOf(server.t, stage(run, "command").id);
      assert.ok(!commandLogs.includes(key), "the command read secret.key");
      assert.match(commandLogs, /exit=1/);
      assert.ok(!/pglite|PG_VERSION|base/i.test(commandLogs.replace(/exit=1/, "")), `the data dir is visible: ${commandLogs}`);
      const moduleLogs = await logsOf(server.t, stage(run, "module").id);
      for (const p of paths)
        assert.match(moduleLogs, new RegExp(`READ FAILED ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} (ENOENT|EACCES)`));
    });

    it("keeps a stage without the network label off the network, and lets one with it connect", async () => {
      const run = await runPipeline({
        name: "net",
        stages: [
          { name: "closed-module", run: { module: "./stages.js", export: "connect" }, params: { port } },
          {
            name: "closed-command",
            run: {
              command: ["/usr/bin/python3", "-c", `import socket; socket.create_connection(("127.0.0.1", ${port}), 2); print("CONNECTED")`],
            },
          },
          { name: "open", run: { module: "./stages.js", export: "connect" }, params: { port }, runner: { labels: ["local", "network"] } },
        ],
      });
      assert.equal(stage(run, "closed-module").status, "FAILED");
      assert.match(stage(run, "closed-module").failure?.message, /cannot connect: ECONNREFUSED/);
      assert.equal(stage(run, "closed-command").status, "FAILED");
      assert.ok(!(await logsOf(server.t, stage(run, "closed-command").id)).includes("CONNECTED"));
      assert.equal(stage(run, "open").status, "SUCCEEDED", JSON.stringify(stage(run, "open").failure));
    });

    it("stops a stage that allocates more than SLUICE_STAGE_MEMORY, and runs one within it", async () => {
      const gib3 = 3 * 1024 ** 3;
      const run = await runPipeline({
        name: "memory",
        stages: [
          { name: "module-hog", run: { module: "./stages.js", export: "hog" }, params: { bytes: gib3 } },
          { name: "command-hog", run: { command: ["/usr/bin/python3", "-c", `b = bytearray(${gib3}); print("ALLOCATED", len(b))`] } },
          { name: "module-fits", run: { module: "./stages.js", export: "hog" }, params: { bytes: 64 * 1024 ** 2 } },
        ],
      });
      assert.equal(stage(run, "module-hog").status, "FAILED");
      assert.match(stage(run, "module-hog").failure?.message, /allocation failed/i);
      assert.equal(stage(run, "command-hog").status, "FAILED");
      assert.match(await logsOf(server.t, stage(run, "command-hog").id), /MemoryError/);
      assert.equal(stage(run, "module-fits").status, "SUCCEEDED", JSON.stringify(stage(run, "module-fits").failure));
    });

    it("refuses to show a stage a pipeline folder inside the server's data dir, without naming the path", async () => {
      const t = server.t as TestServer;
      const inside = path.join(root, "data");
      const { pipelineId } = await applyPipeline(
        t,
        projectId,
        { name: "inside", stages: [{ name: "peek", run: { command: ["ls"] } }] },
        inside,
      );
      const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000);
      const s = stage(run, "peek");
      assert.equal(s.status, "FAILED");
      assert.equal(s.failure?.type, "SANDBOX_REFUSED");
      assert.equal(s.failure?.nonRetryable, true);
      assert.ok(!s.failure?.message.includes(root), "the refusal names a server path");
    });

    it("refuses to show a stage a pipeline folder outside SLUICE_CODE_ROOTS, naming the setting", async () => {
      const t = server.t as TestServer;
      const { pipelineId } = await applyPipeline(
        t,
        projectId,
        { name: "elsewhere", stages: [{ name: "peek", run: { command: ["ls"] } }] },
        os.homedir(),
      );
      const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000);
      const s = stage(run, "peek");
      assert.equal(s.status, "FAILED");
      assert.equal(s.failure?.type, "SANDBOX_REFUSED");
      assertNames(s.failure?.message, "SLUICE_CODE_ROOTS");
      assert.ok(!s.failure?.message.includes(os.homedir()), "the refusal names a server path");
    });

    it("leaves none of a command's processes alive after cancelRun, its background children included", async () => {
      const t = server.t as TestServer;
      const { pipelineId } = await applyPipeline(
        t,
        projectId,
        { name: "cancel", stages: [{ name: "sleepy", run: { command: ["sh", "-c", "sleep 30101 & sleep 30102"] } }] },
        root,
      );
      const runId = await triggerRun(t, pipelineId);
      await until("the stage's processes", () => pidsWith("30101").length === 1 && pidsWith("30102").length === 1);
      const res = dataOf(await t.gql(`mutation($id: ID!) { cancelRun(input: { id: $id }) { __typename } }`, { id: runId }));
      assert.equal(res.cancelRun.__typename, "RunPayload");
      await until("the stage's processes to end", () => pidsWith("30101").length === 0 && pidsWith("30102").length === 0, 10_000);
      assert.equal((await waitForRun(t, runId)).status, "CANCELED");
    });

    it("ends a stage's processes when the server is killed with SIGKILL", async () => {
      const t = server.t as TestServer;
      const { pipelineId } = await applyPipeline(
        t,
        projectId,
        { name: "orphan", stages: [{ name: "sleepy", run: { command: ["sh", "-c", "sleep 30201 & sleep 30202"] } }] },
        root,
      );
      const runId = await triggerRun(t, pipelineId);
      await until("the stage's processes", () => pidsWith("30201").length === 1 && pidsWith("30202").length === 1);
      assert.equal((await getRun(t, runId)).status, "RUNNING");
      server.child.kill("SIGKILL");
      await new Promise((r) => server.child.once("exit", r));
      await until("the stage's processes to end", () => pidsWith("30201").length === 0 && pidsWith("30202").length === 0, 5_000);
    });
  },
);

describe("stage sandbox: a server without bubblewrap", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_SANDBOX_BWRAP: "/nonexistent/bwrap", SLUICE_TRUSTED_CODE: "0" } });
    projectId = await seedProject(t);
  });
  after(() => t.close());

  it("refuses command and module stages, non-retryable, naming SLUICE_TRUSTED_CODE", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "refused",
      stages: [
        { name: "command", run: { command: ["true"] }, retries: { max: 2, initialDelayMs: 1 } },
        { name: "module", run: { module: "./stages.ts", export: "produce" }, outputs: { out: { kind: "File" } } },
        { name: "operator", run: { operator: "noop" }, outputs: { out: { kind: "File" } } },
      ],
    });
    const run = await waitForRun(t, await triggerRun(t, pipelineId));
    for (const name of ["command", "module"]) {
      const s = stage(run, name);
      assert.equal(s.status, "FAILED");
      assert.equal(s.failure?.type, "SANDBOX_UNAVAILABLE");
      assert.equal(s.failure?.nonRetryable, true);
      assert.equal(s.attempts.length, 1, "a refusal is not retried");
      assertNames(s.failure?.message, "SLUICE_TRUSTED_CODE=1");
      assert.ok(!s.failure?.message.includes("/nonexistent"), "the message names no server path");
    }
    assert.equal(stage(run, "operator").status, "SUCCEEDED", "built-in operators are the server's own code and still run");
  });

  it("runs project code unsandboxed with SLUICE_TRUSTED_CODE=1, still without the server's secrets", async () => {
    const trusted = await startTestServer({ env: { SLUICE_SANDBOX_BWRAP: "/nonexistent/bwrap", SLUICE_TRUSTED_CODE: "1" } });
    try {
      const pid = await seedProject(trusted);
      const { pipelineId } = await applyPipeline(trusted, pid, {
        name: "trusted",
        stages: [{ name: "command", run: { command: ["env"] } }],
      });
      const run = await waitForRun(trusted, await triggerRun(trusted, pipelineId));
      assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => s.failure)));
      const logs = await logsOf(trusted, stage(run, "command").id);
      assert.match(logs, /SLUICE_STAGE_RUN_ID=/);
      assert.ok(!logs.includes(trusted.adminToken) && !logs.includes("DATABASE_URL"));
    } finally {
      await trusted.close();
    }
  });
});

describe("stage sandbox on a remote agent (sluice runner)", { skip: !fs.existsSync(BWRAP) && "bubblewrap is not installed" }, () => {
  let t: TestServer;
  let root: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_RUNNERS: "none" } });
    root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-agent-sandbox-"));
    fs.writeFileSync(path.join(root, "stages.js"), STAGES_JS);
  });
  after(async () => {
    await t.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("keeps the agent's RUNNER token and its input cache out of command and module stages", async () => {
    const projectId = await seedProject(t);
    const { token } = await seedCaller(t, "RUNNER");
    const agent = spawnAgent(t, token, ["--name", "sandboxed-agent", "--labels", "local"], {
      SLUICE_SANDBOX_BWRAP: BWRAP,
      SLUICE_TRUSTED_CODE: "0",
      SLUICE_CODE_ROOTS: root,
    });
    try {
      await waitForRunner(t, "sandboxed-agent");
      const cache = path.join(agent.workDir, "cache");
      const { pipelineId } = await applyPipeline(
        t,
        projectId,
        {
          name: "agent-leak",
          stages: [
            {
              name: "command",
              run: { command: ["sh", "-c", `tr '\\0' '\\n' < /proc/$PPID/environ; env; ls ${cache}; echo ls=$?`] },
            },
            { name: "module", run: { module: "./stages.js", export: "leak" } },
          ],
        },
        root,
      );
      const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000);
      assert.equal(run.status, "SUCCEEDED", `${JSON.stringify(run.stageRuns.map((s) => s.failure))}\n${agent.output()}`);
      for (const name of ["command", "module"]) {
        const logs = await logsOf(t, stage(run, name).id);
        assert.ok(logs.length > 0);
        assert.ok(!logs.includes(token), `the ${name} stage saw the agent's token`);
        assert.ok(!logs.includes("SLUICE_TOKEN"), `the ${name} stage saw SLUICE_TOKEN`);
      }
      assert.match(await logsOf(t, stage(run, "command").id), /ls=[12]/, "the agent's input cache is hidden");
    } finally {
      agent.child.kill("SIGTERM");
      await agent.exited;
    }
  });
});
