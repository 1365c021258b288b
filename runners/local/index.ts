/**
 * The local runner: runs `{ module }` and `{ operator }` stages in a pool of worker threads in
 * this process. Each worker runs one attempt at a time and is reused across attempts, so a stage
 * costs a message round trip rather than a thread start. `runners/PROTOCOL.md` describes the
 * contract ("The runner contract", "The local runner"); stage code imports its types from
 * `./stage` and `NonRetryableError` from `./errors`.
 *
 * ```ts
 * const runner = createLocalRunner({ threads: 4 });
 * const outcome = await runner.run(task, { log: console.log, metric: () => {} }, AbortSignal.timeout(60_000));
 * await runner.close();
 * ```
 */
import { availableParallelism } from "node:os";
import path from "node:path";
import type { ResourceLimits } from "node:worker_threads";
import { runKindOf, type RunKind, type Runner, type StageOutcome, type StageReporter, type StageTask } from "../contract";
import { FailureType, STAGE_DECLARED_FAILURES, failed, runnerClosed, runnerError, timedOut } from "../failures";
import { collectOutputs, prepareOutputDir } from "../outputs";
import { safeLog, safeMetric } from "../reporting";
import { type StageIsolation, sandboxUnavailable } from "../sandbox";
import { Slots } from "../slots";
import type { DoneMessage, WorkerTask } from "./messages";
import { runModuleProcess } from "./module-process";
import { createOperatorRegistry, type OperatorRef } from "./operators";
import { type JobResult, WorkerPool } from "./pool";
import { WarmHostPool, type WarmPoolOptions } from "./warm-hosts";

export { NonRetryableError } from "./errors";
export type { StageContext, StageFunction, StageInput, StageOutputResult, StageOutputTarget } from "./stage";
export { BUILTIN_OPERATORS, type OperatorRef } from "./operators";

export interface LocalRunnerOptions {
  /** The runner's name, as the engine and logs show it. @default "local" */
  name?: string;
  /** What the runner offers; a stage's selector labels must all be among them. @default ["local"] */
  labels?: string[];
  /** Worker threads in the pool (started lazily, kept for reuse). @default max(1, os.availableParallelism() - 1) */
  threads?: number;
  /** Attempts the runner advertises it runs at once; beyond `threads` they queue for a worker. @default threads */
  capacity?: number;
  /** How long a canceled or timed-out stage may take to return before its worker is terminated. @default 2000 */
  cancelGraceMs?: number;
  /** Operators beyond the built-in ones (`noop`), by name; an entry replaces a built-in of the same name. @default {} */
  operators?: Record<string, OperatorRef>;
  /** V8 heap limits of each worker, so a stage running out of memory kills its worker, not the server. @default Node's defaults */
  resourceLimits?: ResourceLimits;
  /**
   * Where project modules (`{ module }` stages) run: in sandboxed processes, a warm one of the
   * attempt's project or one of its own (`{ mode: "sandbox", bwrap, hide }`, see `warmPool`), in this process's worker threads as operators do
   * (`trusted`: only for code as trusted as the runner's own), or not at all (`refuse`:
   * `SANDBOX_UNAVAILABLE`). A server chooses from `SLUICE_SANDBOX_BWRAP` and
   * `SLUICE_TRUSTED_CODE`. @default { mode: "trusted" }
   */
  isolation?: StageIsolation;
  /**
   * The warm pool of sandboxed hosts per project (`isolation.mode` `sandbox` only): an attempt
   * with a `projectId` reuses an idle host of the same project, code folders and network label
   * (see `warm-hosts.ts`). A server sets it from `SLUICE_SANDBOX_POOL_*`.
   * @default { idleMs: 60000, max: 8, perProject: 2, copyInputsMaxBytes: 64 MiB }
   */
  warmPool?: WarmPoolOptions;
}

/** A local runner, with a look at its pool. */
export interface LocalRunner extends Runner {
  /** Worker threads in the pool. */
  readonly threads: number;
  /** Live workers, busy ones, and attempts waiting for a worker. */
  stats(): { workers: number; busy: number; queued: number };
  /** The warm sandboxed hosts alive now, by project (their host pids: the `bwrap` process leading each sandbox). */
  warmHosts(): Array<{ projectId: string; pid: number | undefined; busy: boolean }>;
}

/**
 * Creates a local runner. Workers start on first use; `close()` terminates them.
 * @throws RangeError when `threads` or `capacity` is not a positive integer, or `cancelGraceMs` is negative.
 * @throws Error when an extra operator's module path is not absolute.
 */
export function createLocalRunner(options: LocalRunnerOptions = {}): LocalRunner {
  const threads = options.threads ?? Math.max(1, availableParallelism() - 1);
  const capacity = options.capacity ?? threads;
  const cancelGraceMs = options.cancelGraceMs ?? 2000;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  if (!(cancelGraceMs >= 0)) throw new RangeError(`cancelGraceMs must be 0 or more, got ${cancelGraceMs}`);
  const name = options.name ?? "local";
  const operators = createOperatorRegistry(options.operators);
  const pool = new WorkerPool({ size: threads, cancelGraceMs, resourceLimits: options.resourceLimits });
  const isolation = options.isolation;
  const warmHosts = new WarmHostPool(options.warmPool);
  /** Module processes running at once: as many as worker threads. */
  const processSlots = new Slots(threads);
  const active = new Set<Promise<StageOutcome>>();
  let closing: Promise<void> | undefined;

  /** Where the stage function lives, or the failure that says why there is none. */
  function entryOf(task: StageTask): WorkerTask["entry"] | StageOutcome {
    const run = task.run;
    switch (runKindOf(run)) {
      case "module": {
        const { module, export: exportName } = run as { module: string; export?: string };
        return { module: path.resolve(task.baseDir, module), export: exportName ?? "default" };
      }
      case "operator": {
        const { operator } = run as { operator: string };
        const ref = operators.get(operator);
        if (ref) return ref;
        return failed(FailureType.UNKNOWN_OPERATOR, `no operator named "${operator}" (known: ${[...operators.keys()].join(", ")})`, true, {
          operator,
        });
      }
      case "command":
        return failed(FailureType.UNSUPPORTED_RUN, `the ${name} runner does not run commands; use the process runner`, true, {
          kind: "command",
        });
    }
  }

  async function execute(task: StageTask, reporter: StageReporter, signal: AbortSignal): Promise<StageOutcome> {
    const entry = entryOf(task);
    if ("status" in entry) return entry;
    const invalid = await prepareOutputDir(task);
    if (invalid) return invalid;
    if (signal.aborted) return { status: "canceled" };
    const workerTask: WorkerTask = {
      runId: task.runId,
      stageRunId: task.stageRunId,
      stageName: task.stageName,
      attempt: task.attempt,
      workDir: task.workDir,
      params: task.params,
      inputs: task.inputs,
      outputNames: Object.keys(task.outputs),
      entry,
      secrets: { ...task.secrets },
    };
    if (isolation && isolation.mode !== "trusted" && runKindOf(task.run) === "module") {
      // Project code: never in this process. See PROTOCOL.md, "Isolation".
      if (isolation.mode === "refuse") return sandboxUnavailable(name);
      if (!(await processSlots.acquire(signal))) return { status: "canceled" };
      try {
        if (signal.aborted) return { status: "canceled" };
        const hostOptions = {
          isolation,
          cancelGraceMs,
          resourceLimits: options.resourceLimits,
          onLog: (stream: "stdout" | "stderr", text: string) => safeLog(reporter, stream, text),
          onMetric: (key: string, value: number, step?: number) => safeMetric(reporter, key, value, step),
        };
        const result = warmHosts.accepts(task)
          ? await warmHosts.run(task, workerTask, signal, hostOptions)
          : await runModuleProcess(task, workerTask, signal, hostOptions);
        if (result.kind === "refused") return result.outcome;
        return outcomeOf(task, result, reporter);
      } finally {
        processSlots.release();
      }
    }
    const handle = pool.submit({
      task: workerTask,
      timeoutMs: task.timeoutMs,
      onLog: (stream, text) => safeLog(reporter, stream, text),
      onMetric: (key, value, step) => safeMetric(reporter, key, value, step),
    });
    const onAbort = () => handle.abort("cancel");
    signal.addEventListener("abort", onAbort, { once: true });
    let result: JobResult;
    try {
      result = await handle.result;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return outcomeOf(task, result, reporter);
  }

  return {
    name,
    labels: Object.freeze([...(options.labels ?? ["local"])]),
    kinds: Object.freeze<RunKind[]>(["module", "operator"]),
    capacity,
    threads,
    stats: () => pool.stats(),
    warmHosts: () => warmHosts.hosts(),
    run(task, reporter, signal) {
      if (closing) return Promise.resolve(runnerClosed(name));
      if (signal.aborted) return Promise.resolve({ status: "canceled" });
      const attempt = execute(task, reporter, signal).catch((err: unknown) =>
        // Only the file system (creating workDir/outputs) or our own bugs end up here; the contract says resolve.
        runnerError(name, err),
      );
      active.add(attempt);
      void attempt.finally(() => active.delete(attempt));
      return attempt;
    },
    close() {
      closing ??= (async () => {
        while (active.size > 0) await Promise.allSettled([...active]);
        await Promise.all([pool.close(), warmHosts.close()]);
      })();
      return closing;
    },
  };
}

/** The contract's outcome for how the pool says a task ended. */
async function outcomeOf(task: StageTask, result: JobResult, reporter: StageReporter): Promise<StageOutcome> {
  switch (result.kind) {
    case "aborted":
      return result.reason === "timeout" ? timedOut(task.timeoutMs) : { status: "canceled" };
    case "crashed": {
      const why = result.error ? `: ${result.error.message}` : ` with exit code ${result.exitCode}`;
      return failed(FailureType.WORKER_CRASHED, `the worker running the stage died${why}`, false, {
        exitCode: result.exitCode,
        ...(result.error ? { error: result.error } : {}),
      });
    }
    case "done": {
      const done = result.message;
      const outcome = await outcomeOfDone(task, done, reporter);
      return done.usage ? { ...outcome, usage: done.usage } : outcome;
    }
  }
}

/** The outcome of a task that ran to its end (returned or threw). */
async function outcomeOfDone(task: StageTask, done: DoneMessage, reporter: StageReporter): Promise<StageOutcome> {
  if (done.status === "returned") return collectOutputs(task, done.outputs, reporter);
  const { error } = done;
  if (done.phase === "load") {
    return failed(FailureType.LOAD_FAILED, `could not load the stage function: ${error.message}`, true, {
      name: error.name,
      stack: error.stack,
      ...error.details,
    });
  }
  // A gate's breach is its own failure type (GATE_FAILED), so the engine and alerts can tell it from a crash.
  const { failureType, ...details } = error.details ?? {};
  const type =
    typeof failureType === "string" && STAGE_DECLARED_FAILURES.has(failureType) ? (failureType as FailureType) : FailureType.STAGE_ERROR;
  return failed(type, error.message, error.nonRetryable, { name: error.name, stack: error.stack, ...details });
}
