import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { StageTask } from "../../runners/contract";
import { createLocalRunner, type LocalRunner } from "../../runners/local";
import type { StageRun } from "../../src/pipelines/spec";
import { defineRunnerSuite, failedWith, type RunnerFixtures, succeeded } from "./conformance";
import { fixturePath, makeTask, neverAborted, RecordingReporter, TempDirs, withoutUsage } from "./harness";
import { eventually } from "../helpers/eventually";

const baseDir = fixturePath("local");
const stage = (name: string): StageRun => ({ module: "stages.ts", export: name });

const FIXTURES: RunnerFixtures = {
  baseDir,
  succeed: stage("succeed"),
  waitForRelease: stage("waitForRelease"),
  metrics: stage("metrics"),
  echo: stage("echo"),
  sleep: stage("sleepLong"),
  fail: stage("fail"),
  failNonRetryable: stage("failNonRetryable"),
  skipOutput: stage("skipOutput"),
  types: { fail: "STAGE_ERROR", failNonRetryable: "STAGE_ERROR" },
};

defineRunnerSuite("local runner", () => createLocalRunner({ threads: 2, cancelGraceMs: 500 }), FIXTURES);

/** The same contract with project code in a bubblewrap sandbox (PROTOCOL.md, "Isolation"). */
const BWRAP = "/usr/bin/bwrap";
if (existsSync(BWRAP))
  defineRunnerSuite(
    "local runner, sandboxed",
    () => createLocalRunner({ threads: 2, cancelGraceMs: 500, isolation: { mode: "sandbox", bwrap: BWRAP } }),
    FIXTURES,
  );

describe("createLocalRunner", () => {
  const temp = new TempDirs();
  let runner: LocalRunner;
  const task = (fields: Partial<StageTask> & { run: StageRun }) => makeTask(temp, { baseDir, ...fields });

  before(() => {
    runner = createLocalRunner({
      threads: 2,
      cancelGraceMs: 300,
      operators: { shout: { module: fixturePath("local", "operator.ts"), export: "shout" } },
    });
  });
  after(async () => {
    await runner.close();
    temp.cleanup();
  });

  it("has the documented defaults", async () => {
    const defaults = createLocalRunner();
    assert.equal(defaults.name, "local");
    assert.deepEqual(defaults.labels, ["local"]);
    assert.deepEqual([...defaults.kinds].sort(), ["module", "operator"]);
    assert.ok(defaults.threads >= 1);
    assert.equal(defaults.capacity, defaults.threads);
    await defaults.close();
    assert.throws(() => createLocalRunner({ threads: 0 }), RangeError);
  });

  it("reports a worker that exits under the stage as a retryable WORKER_CRASHED, and the pool recovers", async () => {
    const reporter = new RecordingReporter();
    const failure = failedWith(await runner.run(task({ run: stage("crash") }), reporter, neverAborted()), "WORKER_CRASHED");
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.details?.exitCode, 3);
    assert.deepEqual(reporter.lines(), ["about to exit"]);
    // Both threads are usable again.
    const outs = await Promise.all([1, 2].map(() => runner.run(task({ run: stage("metrics") }), new RecordingReporter(), neverAborted())));
    for (const outcome of outs) succeeded(outcome);
    assert.ok(runner.stats().workers <= runner.threads);
  });

  it("reports an exception thrown outside the stage's promise as WORKER_CRASHED with its message", async () => {
    const failure = failedWith(
      await runner.run(task({ run: stage("throwLater") }), new RecordingReporter(), neverAborted()),
      "WORKER_CRASHED",
    );
    assert.match(String((failure.details?.error as { message: string }).message), /thrown outside/);
    succeeded(await runner.run(task({ run: stage("metrics") }), new RecordingReporter(), neverAborted()));
  });

  it("terminates a stage that blocks its thread after cancelGraceMs, resolves canceled, and replaces the worker", async () => {
    const reporter = new RecordingReporter();
    const controller = new AbortController();
    const outcome = runner.run(task({ run: stage("blockThread") }), reporter, controller.signal);
    await reporter.waitForLine("blocking");
    const start = Date.now();
    controller.abort();
    assert.deepEqual(withoutUsage(await outcome), { status: "canceled" });
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 250 && elapsed < 1500, `canceled after ${elapsed} ms`);
    succeeded(await runner.run(task({ run: stage("metrics") }), new RecordingReporter(), neverAborted()));
  });

  it("times out a stage that blocks its thread, as TIMEOUT", async () => {
    const outcome = await runner.run(task({ run: stage("blockThread"), timeoutMs: 200 }), new RecordingReporter(), neverAborted());
    assert.equal(failedWith(outcome, "TIMEOUT").nonRetryable, false);
  });

  it("resolves canceled even when the stage ignores the signal but returns within the grace period", async () => {
    const reporter = new RecordingReporter();
    const controller = new AbortController();
    const outcome = runner.run(task({ run: stage("slowToStop"), outputs: { out: { kind: "File" } } }), reporter, controller.signal);
    await reporter.waitForLine("started");
    controller.abort();
    assert.deepEqual(withoutUsage(await outcome), { status: "canceled" });
  });

  it("loads a .ts stage module's default export, and a CommonJS module", async () => {
    const ts = await runner.run(
      task({ run: { module: "default-export.ts" }, outputs: { out: { kind: "File" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    assert.equal(readFileSync(succeeded(ts).out.path, "utf8"), "hello from the default export");
    const js = await runner.run(
      task({ run: { module: "./plain.js" }, outputs: { out: { kind: "File" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    assert.equal(readFileSync(succeeded(js).out.path, "utf8"), "hello from plain JavaScript");
  });

  it("fails with a non-retryable LOAD_FAILED when the module or its export cannot be loaded", async () => {
    for (const run of [{ module: "no-such-module.ts" }, { module: "broken.ts" }, stage("notAFunction"), stage("noSuchExport")]) {
      const failure = failedWith(await runner.run(task({ run }), new RecordingReporter(), neverAborted()), "LOAD_FAILED");
      assert.equal(failure.nonRetryable, true, JSON.stringify(run));
    }
  });

  it("puts a thrown error's name and stack, and a NonRetryableError's details, in the failure", async () => {
    const retryable = failedWith(await runner.run(task({ run: stage("fail") }), new RecordingReporter(), neverAborted()), "STAGE_ERROR");
    assert.equal(retryable.message, "flaky failure");
    assert.match(String(retryable.details?.stack), /stages\.ts/);
    const permanent = failedWith(
      await runner.run(task({ run: stage("failNonRetryable") }), new RecordingReporter(), neverAborted()),
      "STAGE_ERROR",
    );
    assert.equal(permanent.details?.name, "NonRetryableError");
    assert.equal(permanent.details?.input, "train");
  });

  it("runs the built-in noop operator: an empty file per declared output", async () => {
    const outcome = await runner.run(
      task({ run: { operator: "noop" }, outputs: { a: { kind: "Dataset" }, b: { kind: "Model" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    const outputs = succeeded(outcome);
    for (const name of ["a", "b"]) assert.equal(statSync(outputs[name].path).size, 0);
  });

  it("runs an operator registered by module path, and refuses an unknown one", async () => {
    const outcome = await runner.run(
      task({ run: { operator: "shout" }, params: { text: "quiet" }, outputs: { out: { kind: "File" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    assert.equal(readFileSync(succeeded(outcome).out.path, "utf8"), "QUIET");
    const unknown = failedWith(
      await runner.run(task({ run: { operator: "nope" } }), new RecordingReporter(), neverAborted()),
      "UNKNOWN_OPERATOR",
    );
    assert.equal(unknown.nonRetryable, true);
  });

  it("refuses a command stage as UNSUPPORTED_RUN", async () => {
    const failure = failedWith(
      await runner.run(task({ run: { command: ["true"] } }), new RecordingReporter(), neverAborted()),
      "UNSUPPORTED_RUN",
    );
    assert.equal(failure.nonRetryable, true);
  });

  it("routes console output to the reporter, one line per line", async () => {
    const reporter = new RecordingReporter();
    succeeded(await runner.run(task({ run: stage("usesConsole") }), reporter, neverAborted()));
    assert.deepEqual(reporter.lines("stdout"), ["to stdout { a: 1 }", "two", "lines"]);
    assert.deepEqual(reporter.lines("stderr"), ["to stderr"]);
  });

  it("waits for output writes the stage did not await before checking outputs", async () => {
    const outcome = await runner.run(
      task({ run: stage("forgetsToAwait"), outputs: { a: { kind: "File" }, b: { kind: "File" } } }),
      new RecordingReporter(),
      neverAborted(),
    );
    const outputs = succeeded(outcome);
    assert.equal(statSync(outputs.a.path).size, 1 << 20);
    assert.deepEqual(JSON.parse(readFileSync(outputs.b.path, "utf8")), { b: true });
  });

  it("attaches returned metadata and paths to outputs, and notes undeclared ones on stderr", async () => {
    const reporter = new RecordingReporter();
    const t = task({ run: stage("returnsMetadata"), outputs: { model: { kind: "Model" }, report: { kind: "Report" } } });
    const outputs = succeeded(await runner.run(t, reporter, neverAborted()));
    assert.deepEqual(outputs.model.metadata, { auc: 0.91, framework: "none" });
    assert.equal(outputs.report.path, path.join(t.workDir, "elsewhere.txt"));
    assert.match(reporter.lines("stderr").join("\n"), /undeclared output "undeclared"/);
  });

  it("gives the stage its run id, stage run id, stage name and attempt", async () => {
    const reporter = new RecordingReporter();
    const t = task({ run: stage("reportsAttempt"), attempt: 3 });
    succeeded(await runner.run(t, reporter, neverAborted()));
    assert.deepEqual(reporter.lines(), [`${t.runId} ${t.stageRunId} ${t.stageName} 3`]);
  });

  it("drops an attempt canceled while it waits for a worker", async () => {
    const busy = createLocalRunner({ threads: 1, capacity: 2 });
    const release = path.join(temp.make(), "release");
    try {
      const first = new RecordingReporter();
      const running = busy.run(task({ run: stage("waitForRelease"), params: { release } }), first, neverAborted());
      await first.waitForLine("line 1");
      const controller = new AbortController();
      const queued = busy.run(task({ run: stage("metrics") }), new RecordingReporter(), controller.signal);
      // It queues once its output folder is made: wait for that rather than a fixed time (a loaded machine is slow).
      await eventually(() => assert.equal(busy.stats().queued, 1), { intervalMs: 10 });
      controller.abort();
      assert.deepEqual(withoutUsage(await queued), { status: "canceled" });
      writeFileSync(release, "");
      succeeded(await running);
    } finally {
      // Released here too: a failed assertion above would otherwise leave close() waiting on the stage forever.
      writeFileSync(release, "");
      await busy.close();
    }
  });

  it("refuses work after close with a retryable RUNNER_CLOSED", async () => {
    const closed = createLocalRunner({ threads: 1 });
    await closed.close();
    const failure = failedWith(
      await closed.run(task({ run: { operator: "noop" } }), new RecordingReporter(), neverAborted()),
      "RUNNER_CLOSED",
    );
    assert.equal(failure.nonRetryable, false);
  });

  it("runs 200 noop stages quickly (prints the per-task overhead)", async () => {
    const bench = createLocalRunner();
    try {
      const outputs = { out: { kind: "File" as const } };
      const tasks = Array.from({ length: 200 }, () => task({ run: { operator: "noop" }, outputs }));
      succeeded(await bench.run(task({ run: { operator: "noop" }, outputs }), new RecordingReporter(), neverAborted())); // warm the pool
      const sequentialStart = performance.now();
      for (const t of tasks.slice(0, 100)) succeeded(await bench.run(t, new RecordingReporter(), neverAborted()));
      const sequential = (performance.now() - sequentialStart) / 100;
      const concurrentStart = performance.now();
      const outcomes = await Promise.all(tasks.slice(100).map((t) => bench.run(t, new RecordingReporter(), neverAborted())));
      const concurrent = (performance.now() - concurrentStart) / 100;
      for (const outcome of outcomes) succeeded(outcome);
      console.log(
        `local runner noop overhead (${bench.threads} thread${bench.threads > 1 ? "s" : ""}): ` +
          `${sequential.toFixed(2)} ms per task one at a time, ${concurrent.toFixed(2)} ms per task with 100 submitted at once`,
      );
      assert.ok(sequential < 25, `noop stages took ${sequential.toFixed(2)} ms each`);
    } finally {
      await bench.close();
    }
  });
});
