import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { ResolvedInput, StageTask } from "../../runners/contract";
import type { Runner } from "../../runners/contract";
import { createProcessRunner, envName } from "../../runners/process";
import type { StageRun } from "../../src/pipelines/spec";
import { defineRunnerSuite, failedWith, type RunnerFixtures, succeeded } from "./conformance";
import { fixturePath, makeTask, neverAborted, RecordingReporter, TempDirs, withoutUsage } from "./harness";
import { waitUntil } from "../helpers/eventually";
import { assertNames } from "../helpers/names";

const baseDir = fixturePath("process");
/** A fixture script under /usr/bin/python3 (standard library only); -B keeps __pycache__ out of the source tree. */
const python = (script: string, ...args: string[]): StageRun => ({ command: ["/usr/bin/python3", "-B", script, ...args] });
const sh = (script: string): StageRun => ({ command: ["sh", "-c", script] });

const FIXTURES: RunnerFixtures = {
  baseDir,
  succeed: python("succeed.py"),
  waitForRelease: python("wait_for_release.py"),
  metrics: python("metrics.py"),
  echo: python("echo.py"),
  sleep: python("sleep.py"),
  fail: sh("echo 'something went wrong' >&2; exit 1"),
  failNonRetryable: { command: ["node", "-e", "console.error('usage: stage <file>'); process.exit(2)"] },
  skipOutput: python("skip_output.py"),
  types: { fail: "EXIT_CODE", failNonRetryable: "EXIT_CODE" },
};

defineRunnerSuite("process runner", () => createProcessRunner({ capacity: 3, killGraceMs: 1000 }), FIXTURES);

/** The same contract with project code in a bubblewrap sandbox (PROTOCOL.md, "Isolation"). */
const BWRAP = "/usr/bin/bwrap";
if (existsSync(BWRAP))
  defineRunnerSuite(
    "process runner, sandboxed",
    () => createProcessRunner({ capacity: 3, killGraceMs: 1000, isolation: { mode: "sandbox", bwrap: BWRAP } }),
    FIXTURES,
  );

/** Whether process `pid` is gone (or a zombie nobody has reaped yet). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? false;
  } catch {
    return true;
  }
}

async function waitUntilGone(pid: number, timeoutMs = 2000): Promise<boolean> {
  return waitUntil(`process ${pid} to end`, () => isGone(pid), { timeoutMs, intervalMs: 20 }).catch(() => false);
}

describe("createProcessRunner", () => {
  const temp = new TempDirs();
  let runner: Runner;
  const task = (fields: Partial<StageTask> & { run: StageRun }) => makeTask(temp, { baseDir, ...fields });
  const run = (fields: Partial<StageTask> & { run: StageRun }, reporter = new RecordingReporter()) =>
    runner.run(task(fields), reporter, neverAborted());

  before(() => {
    runner = createProcessRunner({ capacity: 4, killGraceMs: 300 });
  });
  after(async () => {
    await runner.close();
    temp.cleanup();
  });

  it("has the documented defaults", async () => {
    const defaults = createProcessRunner();
    assert.equal(defaults.name, "process");
    assert.deepEqual(defaults.labels, ["local"]);
    assert.deepEqual(defaults.kinds, ["command"]);
    assert.ok(defaults.capacity >= 1);
    await defaults.close();
    assert.throws(() => createProcessRunner({ capacity: 0 }), RangeError);
  });

  it("maps exit codes: 2, 126 and 127 are non-retryable, 1 and 75 retryable, with the code in details", async () => {
    const cases: Array<[string, number, boolean]> = [
      ["exit 1", 1, false],
      ["exit 75", 75, false],
      ["exit 3", 3, false],
      ["exit 2", 2, true],
      ["exec /dev/null", 126, true],
      ["no-such-command-in-this-shell", 127, true],
    ];
    const outcomes = await Promise.all(cases.map(([script]) => run({ run: sh(script) })));
    outcomes.forEach((outcome, i) => {
      const [script, exitCode, nonRetryable] = cases[i];
      const failure = failedWith(outcome, "EXIT_CODE");
      assert.deepEqual(failure.details, { exitCode, signal: null }, script);
      assert.equal(failure.nonRetryable, nonRetryable, script);
    });
  });

  it("reports a command killed by a signal it was not sent by us as a retryable EXIT_SIGNAL", async () => {
    const failure = failedWith(await run({ run: sh("kill -KILL $$") }), "EXIT_SIGNAL");
    assert.deepEqual(failure.details, { exitCode: null, signal: "SIGKILL" });
    assert.equal(failure.nonRetryable, false);
  });

  it("reports a command that cannot be started as a non-retryable SPAWN_FAILED with the paths searched", async () => {
    const bare = failedWith(await run({ run: { command: ["no-such-program-xyz"] } }), "SPAWN_FAILED");
    assert.equal(bare.nonRetryable, true);
    assert.equal(bare.details?.code, "ENOENT");
    const searched = bare.details?.searched as string[];
    assert.ok(searched.length > 0 && searched.every((p) => p.endsWith("/no-such-program-xyz")));
    assert.ok(searched.includes("/usr/bin/no-such-program-xyz"));
    const relative = failedWith(await run({ run: { command: ["./missing.sh"] } }), "SPAWN_FAILED");
    assert.deepEqual(relative.details?.searched, [path.join(baseDir, "missing.sh")]);
    const badCwd = failedWith(await run({ run: { command: ["true"], cwd: "no-such-folder" } }), "SPAWN_FAILED");
    assert.equal(badCwd.nonRetryable, true);
  });

  it("runs in resolve(baseDir, cwd) with argv passed as given, no shell", async () => {
    const reporter = new RecordingReporter();
    succeeded(
      await run(
        { run: { command: ["node", "-e", "console.log(process.cwd()); console.log(process.argv[1])", "$HOME *"], cwd: ".." } },
        reporter,
      ),
    );
    assert.deepEqual(reporter.lines("stdout"), [path.dirname(baseDir), "$HOME *"]);
  });

  it("attaches ::output metadata to outputs, merging several lines, and does not log the directives", async () => {
    const reporter = new RecordingReporter();
    const script = [
      'echo weights > "$SLUICE_OUTPUT_MODEL"',
      `echo '::output model {"auc": 0.9, "framework": "x"}'`,
      `echo '::output model {"auc": 0.91}'`,
      `echo '::output other {"a": 1}'`,
      "echo done",
    ].join("; ");
    const outputs = succeeded(await run({ run: sh(script), outputs: { model: { kind: "Model" } } }, reporter));
    assert.deepEqual(outputs.model.metadata, { auc: 0.91, framework: "x" });
    assert.deepEqual(reporter.lines("stdout"), ["done"]);
    assert.match(reporter.lines("stderr").join("\n"), /undeclared output "other"/);
  });

  it("runs a Python script that reads SLUICE_INPUTS_FILE and SLUICE_PARAMS_FILE and writes an output folder", async () => {
    const dir = temp.make();
    const csv = path.join(dir, "train.csv");
    writeFileSync(csv, "id,value\n1,2\n2,4\n3,6\n");
    const input: ResolvedInput = {
      artifactId: "a1",
      kind: "Dataset",
      hash: "sha256:" + "cd".repeat(32),
      size: 22,
      path: csv,
      metadata: {},
    };
    const reporter = new RecordingReporter();
    const outcome = await run(
      { run: python("train.py"), inputs: { "train-set": input }, params: { epochs: 2, scale: 0.5 }, outputs: { model: { kind: "Model" } } },
      reporter,
    );
    const model = succeeded(outcome).model;
    assert.deepEqual(model.metadata, { rows: 3, framework: "plain-python" });
    assert.deepEqual(readdirSync(model.path).sort(), ["config.json", "weights"]);
    assert.deepEqual(JSON.parse(readFileSync(path.join(model.path, "weights", "w.json"), "utf8")), { weight: 2 });
    assert.deepEqual(JSON.parse(readFileSync(path.join(model.path, "config.json"), "utf8")), { epochs: 2, trained_on: input.hash });
    assert.deepEqual(reporter.metrics, [
      { key: "loss", value: 1, step: 0 },
      { key: "loss", value: 0.5, step: 1 },
    ]);
    assert.deepEqual(reporter.lines("stdout"), [`trained on 3 rows from ${csv}`]);
    // The same script exits 2 (a usage error: not retryable) on an empty training set.
    writeFileSync(csv, "id,value\n");
    const empty = new RecordingReporter();
    const failure = failedWith(
      await run(
        { run: python("train.py"), inputs: { "train-set": input }, params: { epochs: 1, scale: 1 }, outputs: { model: { kind: "Model" } } },
        empty,
      ),
      "EXIT_CODE",
    );
    assert.equal(failure.nonRetryable, true);
    assert.deepEqual(empty.lines("stderr"), ["no rows to train on"]);
  });

  it("sets the SLUICE_* variables, passes the stage's env, and keeps other server variables out", async () => {
    process.env.SLUICE_TEST_SECRET = "do-not-leak";
    try {
      const reporter = new RecordingReporter();
      const input: ResolvedInput = { artifactId: "a", kind: "File", hash: "sha256:00", size: 0, path: "/tmp/in", metadata: {} };
      const t = task({
        run: {
          command: ["node", "-e", "for (const [k, v] of Object.entries(process.env).sort()) console.log(k + '=' + v)"],
          env: { STAGE_VAR: "yes", SLUICE_STAGE: "overridden?" },
        },
        inputs: { "train-set": input },
        outputs: { "my.model": { kind: "Model" } },
        params: { a: 1 },
        attempt: 2,
      });
      const outcome = await runner.run(t, reporter, neverAborted());
      assert.equal(outcome.status, "failed"); // the output was not written; the environment is what we check
      const env = Object.fromEntries(
        reporter.lines("stdout").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      assert.equal(env.SLUICE_RUN_ID, t.runId);
      assert.equal(env.SLUICE_STAGE_RUN_ID, t.stageRunId);
      assert.equal(env.SLUICE_STAGE, t.stageName);
      assert.equal(env.SLUICE_ATTEMPT, "2");
      assert.equal(env.SLUICE_WORK_DIR, t.workDir);
      assert.equal(env.SLUICE_OUTPUT_DIR, path.join(t.workDir, "outputs"));
      assert.equal(env.SLUICE_INPUT_TRAIN_SET, "/tmp/in");
      assert.equal(env.SLUICE_OUTPUT_MY_MODEL, path.join(t.workDir, "outputs", "my.model"));
      assert.equal(env.STAGE_VAR, "yes");
      assert.equal(env.PYTHONUNBUFFERED, "1");
      assert.equal(env.PATH, process.env.PATH);
      assert.equal(env.SLUICE_TEST_SECRET, undefined);
      assert.deepEqual(JSON.parse(readFileSync(env.SLUICE_PARAMS_FILE, "utf8")), { a: 1 });
      assert.deepEqual(JSON.parse(readFileSync(env.SLUICE_INPUTS_FILE, "utf8")), { "train-set": input });
      assert.equal(envName("train-set.v2"), "TRAIN_SET_V2");
    } finally {
      delete process.env.SLUICE_TEST_SECRET;
    }
  });

  it("kills the whole process group on cancel: a child `sleep 100` of a shell script dies too", async () => {
    const reporter = new RecordingReporter();
    const controller = new AbortController();
    const outcome = runner.run(task({ run: { command: ["./spawn_child.sh"] } }), reporter, controller.signal);
    const line = await reporter.waitForLine(/^child \d+$/);
    const child = Number(line.text.split(" ")[1]);
    assert.equal(isGone(child), false);
    controller.abort();
    assert.deepEqual(withoutUsage(await outcome), { status: "canceled" });
    assert.ok(await waitUntilGone(child), `sleep ${child} is still running`);
  });

  it("kills what a command left running in its process group when it exits", async () => {
    const reporter = new RecordingReporter();
    succeeded(await run({ run: { command: ["./leave_child.sh"] } }, reporter));
    const child = Number(reporter.lines("stdout")[0].split(" ")[1]);
    assert.ok(await waitUntilGone(child), `sleep ${child} is still running`);
  });

  it("sends SIGKILL after killGraceMs to a command that ignores SIGTERM", async () => {
    const reporter = new RecordingReporter();
    const controller = new AbortController();
    const outcome = runner.run(task({ run: { command: ["./ignore_term.sh"] } }), reporter, controller.signal);
    await reporter.waitForLine("started");
    const start = Date.now();
    controller.abort();
    assert.deepEqual(withoutUsage(await outcome), { status: "canceled" });
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 250 && elapsed < 1500, `stopped after ${elapsed} ms`);
  });

  it("streams stderr as stderr, keeps a last line without a newline, and caps a line at 64 KiB", async () => {
    const reporter = new RecordingReporter();
    const script =
      "process.stdout.write('x'.repeat(100000) + '\\nshort\\r\\n'); console.error('on stderr'); process.stdout.write('no newline')";
    succeeded(await run({ run: { command: ["node", "-e", script] } }, reporter));
    const stdout = reporter.lines("stdout");
    assert.equal(stdout.length, 3);
    assert.equal(stdout[0], "x".repeat(65536) + `… [truncated ${100000 - 65536} bytes]`);
    assert.deepEqual(stdout.slice(1), ["short", "no newline"]);
    assert.deepEqual(reporter.lines("stderr"), ["on stderr"]);
  });

  it("accepts the JSON form of ::metric and notes malformed directives on stderr", async () => {
    const reporter = new RecordingReporter();
    const script = [
      `echo '::metric {"key": "auc", "value": 0.75, "step": 4}'`,
      `echo '::metric {"key": "f1", "value": 0.5}'`,
      "echo '::metric loss=abc'",
      "echo '::metric loss=1 step=-1'",
      "echo '::output model not-json'",
      "echo '::metrics are just text'",
    ].join("; ");
    succeeded(await run({ run: sh(script) }, reporter));
    assert.deepEqual(reporter.metrics, [
      { key: "auc", value: 0.75, step: 4 },
      { key: "f1", value: 0.5 },
    ]);
    assert.equal(reporter.lines("stderr").filter((l) => l.startsWith("sluice: ignored a malformed directive")).length, 3);
    assert.deepEqual(reporter.lines("stdout"), ["::metrics are just text"]);
  });

  it("refuses a module stage as UNSUPPORTED_RUN", async () => {
    assert.equal(failedWith(await run({ run: { module: "x.ts" } }), "UNSUPPORTED_RUN").nonRetryable, true);
  });

  it("holds attempts beyond capacity until a slot frees, and drops one canceled while waiting", async () => {
    const single = createProcessRunner({ capacity: 1 });
    try {
      const release = path.join(temp.make(), "release");
      const first = new RecordingReporter();
      const running = single.run(task({ run: python("wait_for_release.py"), params: { release } }), first, neverAborted());
      await first.waitForLine("line 1");
      const waiting = new RecordingReporter();
      const queued = single.run(task({ run: sh("echo second") }), waiting, neverAborted());
      const controller = new AbortController();
      const dropped = single.run(task({ run: sh("echo third") }), new RecordingReporter(), controller.signal);
      controller.abort();
      assert.deepEqual(withoutUsage(await dropped), { status: "canceled" });
      await new Promise((r) => setTimeout(r, 100)); // time must pass: the second attempt, were it not held, would start within it
      assert.deepEqual(waiting.lines(), [], "the second attempt must wait for the first");
      writeFileSync(release, "");
      succeeded(await running);
      succeeded(await queued);
      assert.deepEqual(waiting.lines(), ["second"]);
    } finally {
      await single.close();
    }
  });
});

describe("createProcessRunner, sandboxed", { skip: !existsSync(BWRAP) && "bubblewrap is not installed" }, () => {
  const temp = new TempDirs();
  let runner: Runner;
  const task = (fields: Partial<StageTask> & { run: StageRun }) => makeTask(temp, { baseDir, ...fields });

  before(() => {
    runner = createProcessRunner({ killGraceMs: 2000, isolation: { mode: "sandbox", bwrap: BWRAP } });
  });
  after(async () => {
    await runner.close();
    temp.cleanup();
  });

  it("gives a canceled command its SIGTERM and grace inside the sandbox, then ends what it left running", async () => {
    const reporter = new RecordingReporter();
    const controller = new AbortController();
    const script = "trap 'echo got TERM; sleep 0.2; echo cleaned up; exit 0' TERM; echo started; sleep 30303 & wait";
    const outcome = runner.run(task({ run: sh(script) }), reporter, controller.signal);
    await reporter.waitForLine("started");
    controller.abort();
    assert.deepEqual(withoutUsage(await outcome), { status: "canceled" });
    assert.deepEqual(reporter.lines("stdout"), ["started", "got TERM", "cleaned up"]);
    const leftovers = readdirSync("/proc").filter((p) => {
      try {
        return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").includes("30303");
      } catch {
        return false;
      }
    });
    assert.deepEqual(leftovers, [], "the background sleep outlived its sandbox");
  });

  it("reports a program missing in the sandbox as a non-retryable SPAWN_FAILED", async () => {
    const failure = failedWith(
      await runner.run(task({ run: { command: ["no-such-program-here"] } }), new RecordingReporter(), neverAborted()),
      "SPAWN_FAILED",
    );
    assert.equal(failure.nonRetryable, true);
    assertNames(failure.message, "no-such-program-here");
  });
});
