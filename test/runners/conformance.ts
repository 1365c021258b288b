/**
 * The runner conformance suite: the behaviours every runner plugin must show, run once per
 * runner with fixtures of its own kind (a TypeScript module for local, Python scripts for
 * process, …). `runners/PROTOCOL.md` ("The runner contract") is the specification it checks.
 *
 * ```ts
 * defineRunnerSuite("local runner", () => createLocalRunner({ threads: 2 }), localFixtures);
 * ```
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { ResolvedInput, Runner, StageOutcome, StageTask } from "../../runners/contract";
import type { StageRun } from "../../src/pipelines/spec";
import { makeTask, neverAborted, RecordingReporter, TempDirs, withoutUsage } from "./harness";

/** The same behaviours, written for one runner. Each entry says what the fixture must do. */
export interface RunnerFixtures {
  /** Folder the fixtures' relative paths resolve against (`task.baseDir`). */
  baseDir: string;
  /** Logs `writing outputs`; writes output `greeting` as a file holding `hello` and `bundle` as a folder holding `part.txt` (`part`). */
  succeed: StageRun;
  /** Logs `line 1`, waits until the file `params.release` exists (polling), logs `line 2` and `line 3`, returns. No outputs. */
  waitForRelease: StageRun;
  /** Reports metric `loss` = 1 / (step + 1) at steps 0, 1 and 2, then `accuracy` = 0.5 without a step. No outputs. */
  metrics: StageRun;
  /**
   * Reads input `text` (a file) and the params; writes output `echo` as the JSON
   * `{ text, kind, hash, size, metadata, params }` (the input's content and fields, and every param).
   */
  echo: StageRun;
  /** Logs `started`, then sleeps 30 s and returns (for cancel and timeout). */
  sleep: StageRun;
  /** Fails in a way the runner reports as retryable, with failure type `types.fail`. */
  fail: StageRun;
  /** Fails in a way the runner reports as non-retryable, with failure type `types.failNonRetryable`. */
  failNonRetryable: StageRun;
  /** Writes output `present` (any content) but not `missing`, and returns as if all went well. */
  skipOutput: StageRun;
  types: { fail: string; failNonRetryable: string };
}

/** Defines the suite for one runner. `makeRunner` is called once; the runner is closed at the end. */
export function defineRunnerSuite(name: string, makeRunner: () => Runner | Promise<Runner>, fixtures: RunnerFixtures): void {
  describe(`${name} (runner conformance)`, () => {
    const temp = new TempDirs();
    let runner: Runner;
    const task = (fields: Partial<StageTask> & { run: StageRun }) => makeTask(temp, { baseDir: fixtures.baseDir, ...fields });

    before(async () => {
      runner = await makeRunner();
    });
    after(async () => {
      await runner.close();
      temp.cleanup();
    });

    it("describes itself: a name, labels, run kinds and a positive capacity", () => {
      assert.ok(runner.name.length > 0);
      assert.ok(runner.labels.length > 0);
      assert.ok(runner.kinds.length > 0);
      assert.ok(Number.isInteger(runner.capacity) && runner.capacity >= 1);
    });

    it("runs a stage that succeeds and returns its declared outputs, a file and a folder", async () => {
      const t = task({ run: fixtures.succeed, outputs: { greeting: { kind: "File" }, bundle: { kind: "Dataset" } } });
      const reporter = new RecordingReporter();
      const outcome = await runner.run(t, reporter, neverAborted());
      const outputs = succeeded(outcome);
      assert.deepEqual(Object.keys(outputs).sort(), ["bundle", "greeting"]);
      assert.equal(outputs.greeting.path, path.join(t.workDir, "outputs", "greeting"));
      assert.equal(readFileSync(outputs.greeting.path, "utf8").trim(), "hello");
      assert.ok(statSync(outputs.bundle.path).isDirectory());
      assert.deepEqual(readdirSync(outputs.bundle.path), ["part.txt"]);
      assert.ok(reporter.lines("stdout").includes("writing outputs"));
    });

    it("streams log lines in order while the stage runs: the first arrives before the stage finishes", async () => {
      // The release file sits in the attempt's own work folder: a sandboxed stage sees nothing else.
      const t = task({ run: fixtures.waitForRelease });
      const release = path.join(t.workDir, "release");
      t.params = { release };
      const reporter = new RecordingReporter();
      let finished = false;
      const outcome = runner.run(t, reporter, neverAborted());
      void outcome.then(() => (finished = true));
      await reporter.waitForLine("line 1");
      assert.equal(finished, false, "the stage must still be running when its first line arrives");
      writeFileSync(release, "");
      succeeded(await outcome);
      assert.deepEqual(reporter.lines("stdout"), ["line 1", "line 2", "line 3"]);
    });

    it("reports metrics with their steps, in order", async () => {
      const reporter = new RecordingReporter();
      succeeded(await runner.run(task({ run: fixtures.metrics }), reporter, neverAborted()));
      assert.deepEqual(reporter.metrics, [
        { key: "loss", value: 1, step: 0 },
        { key: "loss", value: 0.5, step: 1 },
        { key: "loss", value: 1 / 3, step: 2 },
        { key: "accuracy", value: 0.5 },
      ]);
    });

    it("passes inputs (path, kind, hash, size, metadata) and params to the stage", async () => {
      const dir = temp.make();
      const file = path.join(dir, "input.txt");
      writeFileSync(file, "hello input\n");
      const input: ResolvedInput = {
        artifactId: "art-1",
        kind: "Dataset",
        hash: "sha256:" + "ab".repeat(32),
        size: 12,
        path: file,
        metadata: { rows: 1, source: "test" },
      };
      const params = { factor: 3, label: "x", nested: { list: [1, 2], flag: true } };
      const t = task({ run: fixtures.echo, inputs: { text: input }, params, outputs: { echo: { kind: "Report" } } });
      const outputs = succeeded(await runner.run(t, new RecordingReporter(), neverAborted()));
      const echo = JSON.parse(readFileSync(outputs.echo.path, "utf8"));
      assert.deepEqual(echo, { text: "hello input\n", kind: "Dataset", hash: input.hash, size: 12, metadata: input.metadata, params });
    });

    it("honours a cancel mid-stage within a second and resolves canceled", async () => {
      const reporter = new RecordingReporter();
      const controller = new AbortController();
      const outcome = runner.run(task({ run: fixtures.sleep }), reporter, controller.signal);
      await reporter.waitForLine("started");
      const start = Date.now();
      controller.abort();
      assert.deepEqual(withoutUsage(await outcome), { status: "canceled" });
      assert.ok(Date.now() - start < 1000, `canceled after ${Date.now() - start} ms`);
    });

    it("resolves canceled without starting when the signal is already aborted", async () => {
      const reporter = new RecordingReporter();
      assert.deepEqual(withoutUsage(await runner.run(task({ run: fixtures.sleep }), reporter, AbortSignal.abort())), {
        status: "canceled",
      });
      assert.deepEqual(reporter.lines(), []);
    });

    it("times out a stage that runs past timeoutMs with a retryable TIMEOUT failure", async () => {
      const start = Date.now();
      const outcome = await runner.run(task({ run: fixtures.sleep, timeoutMs: 300 }), new RecordingReporter(), neverAborted());
      const failure = failedWith(outcome, "TIMEOUT");
      assert.equal(failure.nonRetryable, false);
      assert.ok(Date.now() - start < 1500, `timed out after ${Date.now() - start} ms`);
    });

    it("reports a retryable failure as retryable", async () => {
      const failure = failedWith(
        await runner.run(task({ run: fixtures.fail }), new RecordingReporter(), neverAborted()),
        fixtures.types.fail,
      );
      assert.equal(failure.nonRetryable, false);
      assert.ok(failure.message.length > 0);
    });

    it("reports a non-retryable failure as non-retryable", async () => {
      const outcome = await runner.run(task({ run: fixtures.failNonRetryable }), new RecordingReporter(), neverAborted());
      assert.equal(failedWith(outcome, fixtures.types.failNonRetryable).nonRetryable, true);
    });

    it("reports a declared output the stage did not write as a non-retryable MISSING_OUTPUT naming it", async () => {
      const t = task({ run: fixtures.skipOutput, outputs: { present: { kind: "File" }, missing: { kind: "Model" } } });
      const failure = failedWith(await runner.run(t, new RecordingReporter(), neverAborted()), "MISSING_OUTPUT");
      assert.equal(failure.nonRetryable, true);
      assert.deepEqual(failure.details?.missing, ["missing"]);
    });

    it("refuses an output name that is not a single path segment", async () => {
      const t = task({ run: fixtures.succeed, outputs: { "../escape": { kind: "File" } } });
      const failure = failedWith(await runner.run(t, new RecordingReporter(), neverAborted()), "UNSUPPORTED_RUN");
      assert.equal(failure.nonRetryable, true);
    });

    it("runs `capacity` attempts at the same time", async () => {
      const tasks = Array.from({ length: runner.capacity }, () => task({ run: fixtures.waitForRelease }));
      for (const t of tasks) t.params = { release: path.join(t.workDir, "release") };
      const reporters = tasks.map(() => new RecordingReporter());
      const outcomes = tasks.map((t, i) => runner.run(t, reporters[i]!, neverAborted()));
      // Every attempt must be running (have logged its first line) before any is released.
      await Promise.all(reporters.map((reporter) => reporter.waitForLine("line 1")));
      for (const t of tasks) writeFileSync(t.params.release as string, "");
      for (const outcome of await Promise.all(outcomes)) succeeded(outcome);
    });
  });
}

/** The outputs of a succeeded outcome; fails the test with the outcome otherwise. */
export function succeeded(outcome: StageOutcome): Record<string, { path: string; metadata?: Record<string, unknown> }> {
  if (outcome.status !== "succeeded") assert.fail(`expected success, got ${JSON.stringify(outcome, null, 2)}`);
  return outcome.outputs;
}

/** The failure of a failed outcome of `type`; fails the test otherwise. */
export function failedWith(
  outcome: StageOutcome,
  type: string,
): { type: string; message: string; nonRetryable: boolean; details?: Record<string, unknown> } {
  if (outcome.status !== "failed" || outcome.failure.type !== type)
    assert.fail(`expected failure ${type}, got ${JSON.stringify(outcome, null, 2)}`);
  return outcome.failure;
}
