import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { ResolvedInput, StageOutcome, StageTask } from "../../runners/contract";
import { createLocalRunner, type LocalRunner } from "../../runners/local";
import { makeTask, neverAborted, RecordingReporter, TempDirs, withoutUsage } from "../runners/harness";
import { waitUntil } from "../helpers/eventually";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, stage, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

const BWRAP = "/usr/bin/bwrap";

/** Project stages, plain CommonJS: what a stage can tell about the host it runs in, and what it can reach. */
const STAGES_JS = `
const fs = require("node:fs");
const { spawn } = require("node:child_process");
let moduleRuns = 0;
exports.whoami = async (ctx) => {
  globalThis.hostToken ??= Math.random().toString(36).slice(2);
  moduleRuns++;
  ctx.log("TOKEN " + globalThis.hostToken);
  ctx.log("MODULE_RUNS " + moduleRuns);
  ctx.log("CWD " + process.cwd());
};
exports.probe = async (ctx) => {
  for (const p of ctx.params.paths ?? []) {
    try {
      const stat = fs.statSync(p);
      ctx.log("SEEN " + p + " " + (stat.isDirectory() ? fs.readdirSync(p).join(",") : fs.readFileSync(p, "utf8")));
    } catch (err) { ctx.log("UNSEEN " + p + " " + err.code); }
  }
  if (ctx.inputs.data) ctx.log("INPUT " + (await ctx.inputs.data.readText()) + " AT " + ctx.inputs.data.path);
};
exports.rawWrite = async (ctx) => {
  process.stdout.write("RAW " + ctx.params.tag + "\\n\\nRAW unfinished");
};
exports.produce = async (ctx) => {
  await ctx.outputs.model.writeText("weights of " + ctx.stageRunId);
  fs.writeFileSync(ctx.workDir + "/report.txt", "report");
  return { model: { metadata: { auc: 0.9 } }, report: { path: ctx.workDir + "/report.txt" } };
};
exports.leaveTimer = async (ctx) => {
  globalThis.hostToken ??= Math.random().toString(36).slice(2);
  ctx.log("TOKEN " + globalThis.hostToken);
  setInterval(() => console.log("TICK from an old attempt"), 20);
};
exports.pointOut = async (ctx) => {
  if (ctx.params.how === "absolute") return { out: { path: ctx.params.target } };
  if (ctx.params.how === "dotdot") return { out: { path: "../".repeat(20) + ctx.params.target.slice(1) } };
  // A link needs no access to its target: the sandbox cannot see it, the server can.
  const dir = require("node:path").dirname(ctx.params.target);
  if (ctx.params.how === "symlink") {
    fs.rmSync(ctx.workDir + "/outputs", { recursive: true, force: true });
    fs.symlinkSync(dir, ctx.workDir + "/outputs");
  } else {
    fs.rmSync(ctx.workDir, { recursive: true, force: true });
    fs.symlinkSync(dir, ctx.workDir);
  }
};
exports.hang = async (ctx) => {
  spawn("sleep", ["1000", ctx.params.marker], { stdio: "ignore" });
  ctx.log("STARTED");
  await new Promise(() => {});
};
exports.leaveBehind = async (ctx) => {
  spawn("sleep", ["1000", ctx.params.marker], { stdio: "ignore", detached: true }).unref();
  ctx.log("LEFT BEHIND");
};
`;

/** Host pids whose command line holds `marker` (an argument no other process uses). */
function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(marker)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  await waitUntil(what, check, { timeoutMs, intervalMs: 25 });
}

/** The text after `prefix` on the stage's first log line starting with it. */
function logged(reporter: RecordingReporter, prefix: string): string | undefined {
  return reporter.logs.find((l) => l.text.startsWith(prefix))?.text.slice(prefix.length);
}

/** A unique `sleep` argument that is also a valid duration. */
function marker(): string {
  return `0.${Date.now()}${Math.floor(Math.random() * 1000)}`;
}

describe("warm sandbox pool", { skip: !fs.existsSync(BWRAP) && "bubblewrap is not installed" }, () => {
  const temp = new TempDirs();
  let code: string;
  let workRoot: string;
  let store: string;
  let runner: LocalRunner;
  let counter = 0;

  /** An attempt of `projectId`, its work folder laid out as the engine does (`<work root>/<projectId>/<attempt>`). */
  function task(projectId: string, exportName: string, fields: Partial<StageTask> = {}): StageTask {
    counter++;
    const workDir = path.join(workRoot, projectId, `attempt-${counter}`);
    fs.mkdirSync(path.join(workDir, "outputs"), { recursive: true });
    return makeTask(temp, { baseDir: code, run: { module: "stages.js", export: exportName }, projectId, workDir, ...fields });
  }

  function input(name: string, text: string): ResolvedInput {
    const file = path.join(store, name);
    fs.writeFileSync(file, text);
    return { artifactId: name, kind: "File", hash: "sha256:0", size: Buffer.byteLength(text), path: file, metadata: {} };
  }

  async function run(t: StageTask, signal = neverAborted()): Promise<{ outcome: StageOutcome; reporter: RecordingReporter }> {
    const reporter = new RecordingReporter();
    const outcome = await runner.run(t, reporter, signal);
    return { outcome, reporter };
  }

  before(() => {
    code = temp.make("sluice-pool-code-");
    workRoot = temp.make("sluice-pool-work-");
    store = temp.make("sluice-pool-store-");
    fs.writeFileSync(path.join(code, "stages.js"), STAGES_JS);
    runner = createLocalRunner({
      threads: 2,
      cancelGraceMs: 300,
      isolation: { mode: "sandbox", bwrap: BWRAP, hide: [workRoot, store] },
      warmPool: { idleMs: 60_000, max: 4, perProject: 1 },
    });
  });
  after(async () => {
    await runner.close();
    assert.deepEqual(runner.warmHosts(), [], "closing the runner leaves a warm host alive");
    temp.cleanup();
  });

  it("reuses one host for two attempts of the same project, loading the stage module afresh each time", async () => {
    const first = await run(task("proj-a", "whoami"));
    const second = await run(task("proj-a", "whoami"));
    assert.equal(first.outcome.status, "succeeded", JSON.stringify(first.outcome));
    assert.equal(second.outcome.status, "succeeded", JSON.stringify(second.outcome));
    assert.equal(logged(second.reporter, "TOKEN "), logged(first.reporter, "TOKEN "), "the second attempt ran in another host");
    assert.equal(logged(first.reporter, "MODULE_RUNS "), "1");
    assert.equal(logged(second.reporter, "MODULE_RUNS "), "1", "module-level state carried over between attempts");
    assert.match(logged(second.reporter, "CWD ") ?? "", /\/proj-a\/\.warm-[0-9a-f]+\/work$/);
    assert.equal(runner.warmHosts().filter((h) => h.projectId === "proj-a").length, 1);
  });

  it("hands a warm stage's outputs over in the attempt's own work folder", async () => {
    for (let i = 0; i < 2; i++) {
      const t = task("proj-a", "produce", { outputs: { model: { kind: "Model" }, report: { kind: "Report" } } });
      const { outcome } = await run(t);
      assert.equal(outcome.status, "succeeded", JSON.stringify(outcome));
      const outputs = (outcome as Extract<StageOutcome, { status: "succeeded" }>).outputs;
      assert.equal(outputs.model!.path, path.join(t.workDir, "outputs", "model"));
      assert.deepEqual(outputs.model!.metadata, { auc: 0.9 });
      assert.equal(fs.readFileSync(outputs.model!.path, "utf8"), `weights of ${t.stageRunId}`);
      assert.equal(outputs.report!.path, path.join(t.workDir, "report.txt"));
      assert.equal(fs.readFileSync(outputs.report!.path, "utf8"), "report");
    }
  });

  it("reports what a stage wrote to stdout as its own, never as the next attempt's", async () => {
    const raw = await run(task("proj-a", "rawWrite", { params: { tag: "first" } }));
    const next = await run(task("proj-a", "whoami"));
    assert.equal(raw.outcome.status, "succeeded", JSON.stringify(raw.outcome));
    assert.deepEqual(
      raw.reporter.logs.map((l) => l.text),
      ["RAW first", "", "RAW unfinished"],
    );
    assert.ok(!next.reporter.logs.some((l) => l.text.startsWith("RAW")), "the next attempt got the previous one's output");
    assert.equal(logged(next.reporter, "TOKEN "), logged(raw.reporter, "TOKEN ") ?? logged(next.reporter, "TOKEN "));
    assert.equal(runner.warmHosts().filter((h) => h.projectId === "proj-a").length, 1);
  });

  it("never shares a host between projects, and a stage of one project sees neither another's work folder nor its inputs", async () => {
    const b = task("proj-b", "probe", { inputs: { data: input("b-input.txt", "secret of B") } });
    const fromB = await run(b);
    assert.equal(fromB.outcome.status, "succeeded", JSON.stringify(fromB.outcome));
    assert.equal(logged(fromB.reporter, "INPUT ")?.split(" AT ")[0], "secret of B", "B's stage could not read its own input");
    const bInputCopy = logged(fromB.reporter, "INPUT ")!.split(" AT ")[1]!;
    // B's folder holds work of an attempt still going on, with its copied input.
    const bLive = path.join(workRoot, "proj-b", "attempt-live");
    fs.mkdirSync(path.join(bLive, "inputs", "data"), { recursive: true });
    fs.writeFileSync(path.join(bLive, "inputs", "data", "b.txt"), "secret of B");
    const bHosts = runner.warmHosts().filter((h) => h.projectId === "proj-b");
    assert.equal(bHosts.length, 1, "B has no warm host");

    // A's folder holds another attempt of A too: a warm host sees only its own attempt's folder.
    const aSibling = path.join(workRoot, "proj-a", "attempt-sibling");
    fs.mkdirSync(aSibling, { recursive: true });
    fs.writeFileSync(path.join(aSibling, "scratch.txt"), "another attempt of A");
    const a = task("proj-a", "probe", {
      inputs: { data: input("a-input.txt", "input of A") },
      params: {
        paths: [
          workRoot,
          path.join(workRoot, "proj-a"),
          path.join(aSibling, "scratch.txt"),
          path.join(workRoot, "proj-b"),
          bLive,
          path.join(bLive, "inputs", "data", "b.txt"),
          bInputCopy,
          path.join(store, "b-input.txt"),
          path.join(store, "a-input.txt"),
        ],
      },
    });
    const fromA = await run(a);
    assert.equal(fromA.outcome.status, "succeeded", JSON.stringify(fromA.outcome));
    const seen = fromA.reporter.logs.map((l) => l.text).filter((t) => t.startsWith("SEEN "));
    // The work root shows only A's folder, and that only the host's own: nothing of B, of A's other
    // attempts, nor the artifact store.
    assert.equal(seen.length, 2, `A saw: ${seen.join(" | ")}`);
    assert.equal(seen[0], `SEEN ${workRoot} proj-a`);
    assert.match(seen[1]!, new RegExp(`^SEEN ${path.join(workRoot, "proj-a")} \\.warm-[0-9a-f]+$`));
    assert.equal(logged(fromA.reporter, "INPUT ")?.split(" AT ")[0], "input of A");
    assert.match(logged(fromA.reporter, "INPUT ")!.split(" AT ")[1]!, /\/\.warm-[0-9a-f]+\/work\/inputs\/data\/a-input\.txt$/);
    const hosts = runner.warmHosts();
    const pidsA = hosts.filter((h) => h.projectId === "proj-a").map((h) => h.pid);
    const pidsB = hosts.filter((h) => h.projectId === "proj-b").map((h) => h.pid);
    assert.ok(pidsA.length > 0 && pidsB.length > 0);
    assert.ok(!pidsA.some((p) => pidsB.includes(p)), "two projects share a host");
  });

  it("ends everything a canceled stage started, host included, and the next attempt of the project still works", async () => {
    await run(task("proj-c", "whoami"));
    const warm = runner.warmHosts().find((h) => h.projectId === "proj-c");
    assert.ok(warm, "no warm host after the first attempt");
    const mark = marker();
    const controller = new AbortController();
    const reporter = new RecordingReporter();
    const pending = runner.run(task("proj-c", "hang", { params: { marker: mark } }), reporter, controller.signal);
    await until("the stage's child to start", () => pidsWith(mark).length > 0 && logged(reporter, "STARTED") !== undefined);
    controller.abort();
    const outcome = await pending;
    assert.deepEqual(withoutUsage(outcome), { status: "canceled" });
    await until("the stage's child to end", () => pidsWith(mark).length === 0, 5000);
    assert.ok(!alive(warm.pid), "the warm host of the canceled stage is still alive");
    const next = await run(task("proj-c", "whoami"));
    assert.equal(next.outcome.status, "succeeded", JSON.stringify(next.outcome));
  });

  it("does not reuse a host whose stage left a process running, and ends that process", async () => {
    const mark = marker();
    const left = await run(task("proj-d", "leaveBehind", { params: { marker: mark } }));
    assert.equal(left.outcome.status, "succeeded", JSON.stringify(left.outcome));
    await until("the left-behind process to end", () => pidsWith(mark).length === 0, 5000);
    await until("the host to end", () => runner.warmHosts().every((h) => h.projectId !== "proj-d"), 5000);
  });

  it("does not reuse a host whose stage left a timer running", async () => {
    const left = await run(task("proj-g", "leaveTimer"));
    assert.equal(left.outcome.status, "succeeded", JSON.stringify(left.outcome));
    await new Promise((r) => setTimeout(r, 100)); // time must pass: the left timer ticks within it, were its host reused
    const next = await run(task("proj-g", "whoami"));
    assert.equal(next.outcome.status, "succeeded", JSON.stringify(next.outcome));
    assert.notEqual(logged(next.reporter, "TOKEN "), logged(left.reporter, "TOKEN "), "the host with the timer was reused");
    assert.ok(!next.reporter.logs.some((l) => l.text.includes("TICK")), "an old attempt's timer logged into the next attempt");
  });

  for (const how of ["absolute", "dotdot", "symlink", "workdir"]) {
    it(`refuses an output that points outside the stage's work folder (${how}), leaving the host file in place`, async () => {
      const secretDir = temp.make("sluice-pool-secret-");
      const target = path.join(secretDir, "out");
      fs.writeFileSync(target, "a server file");
      const t = task("proj-h", "pointOut", { params: { how, target }, outputs: { out: { kind: "File" } } });
      const { outcome } = await run(t);
      assert.equal(outcome.status, "failed", JSON.stringify(outcome));
      const failure = (outcome as Extract<StageOutcome, { status: "failed" }>).failure;
      assert.equal(failure.type, "MISSING_OUTPUT");
      if (how !== "workdir") assertNames(failure.message, "out");
      assert.ok(!failure.message.includes(secretDir), "the refusal names a host path");
      assert.equal(fs.readFileSync(target, "utf8"), "a server file");
    });
  }

  it("ends an idle host after the idle timeout", async () => {
    const quick = createLocalRunner({
      threads: 1,
      isolation: { mode: "sandbox", bwrap: BWRAP, hide: [workRoot, store] },
      warmPool: { idleMs: 300 },
    });
    try {
      const outcome = await quick.run(task("proj-e", "whoami"), new RecordingReporter(), neverAborted());
      assert.equal(outcome.status, "succeeded", JSON.stringify(outcome));
      const [host] = quick.warmHosts();
      assert.ok(host && alive(host.pid), "no warm host after the attempt");
      await until("the idle host to end", () => quick.warmHosts().length === 0 && !alive(host.pid), 5000);
    } finally {
      await quick.close();
    }
  });

  it("runs an attempt without a project in a one-shot host", async () => {
    const t = makeTask(temp, { baseDir: code, run: { module: "stages.js", export: "whoami" } });
    const before = runner.warmHosts().length;
    const { outcome } = await run(t);
    assert.equal(outcome.status, "succeeded", JSON.stringify(outcome));
    assert.equal(runner.warmHosts().length, before);
  });
});

describe("warm sandbox pool in a server", { skip: !fs.existsSync(BWRAP) && "bubblewrap is not installed" }, () => {
  let root: string;
  let t: TestServer;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-pool-server-"));
    fs.writeFileSync(
      path.join(root, "stages.js"),
      `const fs = require("node:fs");
const path = require("node:path");
exports.whoami = async (ctx) => {
  globalThis.hostToken ??= Math.random().toString(36).slice(2);
  const projectDir = path.dirname(path.dirname(ctx.workDir));
  ctx.log("TOKEN " + globalThis.hostToken);
  ctx.log("PROJECT_DIR " + path.basename(projectDir));
  ctx.log("PROJECT_LIST " + fs.readdirSync(projectDir).join(","));
  ctx.log("WORK_ROOT " + fs.readdirSync(path.dirname(projectDir)).join(","));
};
`,
    );
    t = await startTestServer({
      env: { SLUICE_SANDBOX_BWRAP: BWRAP, SLUICE_TRUSTED_CODE: "0", SLUICE_CODE_ROOTS: root, SLUICE_SANDBOX_POOL_IDLE_MS: "30000" },
    });
  });
  after(async () => {
    await t.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** One run of a one-stage pipeline of `projectId`; what its stage logged, by line prefix. */
  async function runOnce(projectId: string): Promise<Record<string, string>> {
    const { pipelineId } = await applyPipeline(
      t,
      projectId,
      { name: "who", stages: [{ name: "who", run: { module: "./stages.js", export: "whoami" } }] },
      root,
    );
    const run = await waitForRun(t, await triggerRun(t, pipelineId), 30_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.stageRuns.map((s) => s.failure)));
    const res = dataOf(await t.gql(`query($id: ID!) { stageLogs(stageRunId: $id) { nodes { text } } }`, { id: stage(run, "who").id }));
    const lines = (res.stageLogs.nodes as Array<{ text: string }>)
      .map((n) => n.text)
      .join("")
      .split("\n")
      .filter(Boolean);
    return Object.fromEntries(lines.map((l) => [l.split(" ")[0]!, l.slice(l.indexOf(" ") + 1)]));
  }

  it("runs the runs of one project in one warm host, in that project's own work folder, and another project's in another", async () => {
    const a = await seedProject(t);
    const b = await seedProject(t);
    const a1 = await runOnce(a);
    const a2 = await runOnce(a);
    const b1 = await runOnce(b);
    assert.equal(a1.PROJECT_DIR, a, "the attempt's work folder is not in its project's folder");
    assert.equal(b1.PROJECT_DIR, b);
    assert.match(a2.PROJECT_LIST!, /^\.warm-[0-9a-f]+$/, "a stage sees other attempts' work folders");
    assert.equal(a2.TOKEN, a1.TOKEN, "the second run of the project started another host");
    assert.notEqual(b1.TOKEN, a1.TOKEN, "two projects share a host");
    // Both projects have work folders on the server by now; each stage sees only its own.
    assert.equal(a2.WORK_ROOT, a);
    assert.equal(b1.WORK_ROOT, b);
  });
});
