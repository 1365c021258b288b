/**
 * What runners measure of an attempt (runners/usage/): a command that burns a known amount of CPU
 * or holds a known amount of memory, children of children included, and a worker-thread stage.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createProcessRunner } from "../../runners/process";
import { createLocalRunner } from "../../runners/local";
import type { StageOutcome, StageUsage } from "../../runners/contract";
import { makeTask, RecordingReporter, TempDirs } from "../runners/harness";

const linux = process.platform === "linux";
const temp = new TempDirs();
after(() => temp.cleanup());

/** A Node program that keeps one CPU busy until this process has used `seconds` of CPU. */
const burn = (seconds: number) =>
  `const t0 = process.cpuUsage(); let x = 0; for (;;) { for (let i = 0; i < 1e5; i++) x += i; const u = process.cpuUsage(t0); if ((u.user + u.system) / 1e6 >= ${seconds}) break; }`;

async function runCommand(script: string): Promise<StageOutcome> {
  const runner = createProcessRunner({ capacity: 1 });
  try {
    const base = temp.make();
    return await runner.run(
      makeTask(temp, { run: { command: [process.execPath, "-e", script] }, baseDir: base }),
      new RecordingReporter(),
      new AbortController().signal,
    );
  } finally {
    await runner.close();
  }
}

function usageOf(outcome: StageOutcome): StageUsage {
  assert.equal(outcome.status, "succeeded", JSON.stringify(outcome));
  assert.ok(outcome.usage, "the outcome carries usage");
  return outcome.usage;
}

describe("stage usage", { skip: linux ? false : "usage is read from Linux's /proc" }, () => {
  test("a command that burns 1.5 s of CPU reports 1.5 s within 20 %", async () => {
    const usage = usageOf(await runCommand(burn(1.5)));
    assert.equal(usage.method, "process-tree");
    assert.ok(Math.abs(usage.cpuSeconds - 1.5) <= 0.3, `cpuSeconds ${usage.cpuSeconds}`);
    assert.ok(usage.wallSeconds >= usage.cpuSeconds * 0.8, `wallSeconds ${usage.wallSeconds}`);
  });

  test("CPU of a child's child counts: a command whose grandchild burns 1 s and which burns 0.5 s itself reports 1.5 s", async () => {
    // node -e → sh → node (the grandchild), each waited for by its parent.
    const grandchild = JSON.stringify(`${JSON.stringify(process.execPath)} -e ${JSON.stringify(burn(1))}`);
    const script = `require("node:child_process").execSync("sh -c " + ${JSON.stringify(grandchild)}); ${burn(0.5)}`;
    const usage = usageOf(await runCommand(script));
    assert.ok(Math.abs(usage.cpuSeconds - 1.5) <= 0.3, `cpuSeconds ${usage.cpuSeconds}`);
  });

  test("a command that holds 200 MB reports a peak 200 MB above an idle one's, within 20 %", async () => {
    const hold = `setTimeout(() => {}, 800);`;
    const idle = usageOf(await runCommand(hold));
    const busy = usageOf(await runCommand(`globalThis.b = Buffer.alloc(200e6, 1); ${hold}`));
    assert.ok(idle.peakMemoryBytes! > 0, "an idle Node has some memory");
    const extra = busy.peakMemoryBytes! - idle.peakMemoryBytes!;
    assert.ok(Math.abs(extra - 200e6) <= 40e6, `extra peak ${extra} (busy ${busy.peakMemoryBytes}, idle ${idle.peakMemoryBytes})`);
  });

  test("bytes a command writes are counted", async () => {
    const usage = usageOf(
      // Held a moment after writing: what the root process does after its last sample is not seen (runners/usage/process-tree.ts).
      await runCommand(`require("node:fs").writeFileSync("out.bin", Buffer.alloc(8e6, 7)); setTimeout(() => {}, 300);`),
    );
    assert.ok(usage.bytesWritten! >= 8e6, `bytesWritten ${usage.bytesWritten}`);
    assert.ok(usage.bytesRead! > 0, "node read its own files");
  });

  test("a worker-thread stage reports its thread's CPU within 20 % and no memory", async () => {
    const base = temp.make();
    writeFileSync(path.join(base, "burn.js"), `exports.default = async () => { ${burn(1)} return {}; };`);
    const runner = createLocalRunner({ threads: 1 });
    try {
      const outcome = await runner.run(
        makeTask(temp, { run: { module: "burn.js" }, baseDir: base }),
        new RecordingReporter(),
        new AbortController().signal,
      );
      const usage = usageOf(outcome);
      assert.equal(usage.method, "worker-thread");
      // The loop stops at 1 s of the whole process's CPU; the worker's own thread did nearly all of it.
      assert.ok(usage.cpuSeconds <= 1.05 && usage.cpuSeconds >= 0.8, `cpuSeconds ${usage.cpuSeconds}`);
      assert.equal(usage.peakMemoryBytes, undefined);
    } finally {
      await runner.close();
    }
  });
});

const BWRAP = "/usr/bin/bwrap";

describe("stage usage in a warm sandboxed module process", { skip: (!linux || !existsSync(BWRAP)) && "needs Linux and bubblewrap" }, () => {
  test("measures each attempt of a reused host alone: CPU within 20 %, and a peak reset between attempts", async () => {
    const code = temp.make("sluice-usage-code-");
    const workRoot = temp.make("sluice-usage-work-");
    writeFileSync(
      path.join(code, "stages.js"),
      `exports.burn = async () => { ${burn(1)} return {}; };
       exports.hold = async () => { globalThis.held = Buffer.alloc(200e6, 1); await new Promise((r) => setTimeout(r, 100)); globalThis.held = undefined;
         // Give the memory back now, so that the next attempt starts low (a Buffer is freed by the garbage collector).
         require("v8").setFlagsFromString("--expose-gc"); require("vm").runInNewContext("gc")(); return {}; };
       exports.idle = async () => ({});`,
    );
    const runner = createLocalRunner({
      threads: 1,
      isolation: { mode: "sandbox", bwrap: BWRAP, hide: [workRoot] },
      warmPool: { idleMs: 60_000, max: 1, perProject: 1 },
    });
    let n = 0;
    const attempt = async (exportName: string) => {
      const workDir = path.join(workRoot, "proj", `attempt-${++n}`);
      mkdirSync(path.join(workDir, "outputs"), { recursive: true });
      const task = makeTask(temp, { baseDir: code, run: { module: "stages.js", export: exportName }, projectId: "proj", workDir });
      return usageOf(await runner.run(task, new RecordingReporter(), new AbortController().signal));
    };
    try {
      const burnt = await attempt("burn");
      assert.equal(burnt.method, "process");
      // The loop stops at 1 s of the host process's CPU; the host measures the same process.
      assert.ok(Math.abs(burnt.cpuSeconds - 1) <= 0.2, `cpuSeconds ${burnt.cpuSeconds}`);
      const held = await attempt("hold");
      const idle = await attempt("idle");
      assert.equal(runner.warmHosts().length, 1, "one host ran all three");
      assert.ok(held.peakMemoryBytes! - idle.peakMemoryBytes! >= 160e6, `held ${held.peakMemoryBytes}, idle ${idle.peakMemoryBytes}`);
    } finally {
      await runner.close();
    }
  });
});
