/**
 * The remote agent: runs pipeline stages on any machine, speaking only the server's public API
 * (GraphQL at `/graphql`, artifact bytes at `/artifacts/…`) with a RUNNER token. It registers,
 * long-polls `leaseStageRuns` for as many stage runs as it has free slots, downloads their inputs
 * into a local cache, runs each on a local runner (TypeScript modules and operators, in worker
 * threads) or a process runner (commands) hosted in-process, streams logs and metrics while they
 * run, heartbeats every few seconds (stopping attempts whose lease was lost or whose run was
 * canceled), uploads the outputs and completes the attempt, fenced by its lease epoch.
 * `runners/PROTOCOL.md` ("Remote agent") is the wire protocol; `sluice runner` the command.
 *
 * ```ts
 * const agent = createRemoteAgent({ server: "http://sluice:4000", token, labels: ["gpu"], concurrency: 2 });
 * await agent.start();
 * process.once("SIGTERM", () => void agent.stop().then(() => process.exit(0)));
 * ```
 */
import { existsSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runKindOf, type ResolvedInput, type Runner, type StageOutcome, type StageRun, type StageTask } from "../contract";
import { FailureType } from "../failures";
import { type OperatorRef, createLocalRunner } from "../local";
import type { WarmPoolOptions } from "../local/warm-hosts";
import { type StageIsolation } from "../sandbox";
import { createProcessRunner, DEFAULT_ENV_PASSTHROUGH } from "../process";
import { maskingReporter, maskOutcome, secretMasker } from "../secret-mask";
import type { ArtifactKind } from "../../src/artifacts/kind";
import {
  type Completion,
  completeStageRun,
  deregisterRunner,
  heartbeat,
  leaseStageRuns,
  type Registration,
  registerRunner,
  RunnerGoneError,
} from "./api";
import type { LeasedTask, UploadedOutput } from "./wire";
import { AgentClient, type AgentLogger, AuthError, silentLogger, TransientError } from "./client";
import { LogShipper, MetricShipper } from "./shipping";
import { InputCache, UploadRefused, uploadOutput } from "./transfer";

/** A project id usable as a folder name (the server's are UUIDs). */
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export type { AgentLogger } from "./client";

export interface RemoteAgentOptions {
  /** The server's base URL, e.g. `http://sluice.internal:4000` (the API is `<server>/graphql`). */
  server: string;
  /** A token of a principal holding the RUNNER role (globally, or in the projects it should run for). */
  token: string;
  /** The runner's name, unique per server; registering the same name again updates it. @default os.hostname() */
  name?: string;
  /** What the runner offers; it takes stage runs whose runner labels are all among these. @default ["local"] */
  labels?: readonly string[];
  /** Attempts it runs at once. @default 1 */
  concurrency?: number;
  /** Where inputs are cached (`cache/`) and attempts get scratch folders (`attempts/`). @default `<os.tmpdir()>/sluice-agent-<name>` */
  workDir?: string;
  /**
   * The folder stage modules and command `cwd`s resolve against, instead of the pipeline's
   * `baseDir` on the server (when the agent's checkout of the pipeline lives elsewhere). @default the task's baseDir
   */
  baseDir?: string;
  /** On `stop()`, how long running attempts may go on before they are stopped and given back. @default 30000 */
  drainGraceMs?: number;
  /** How long one lease request waits for work (capped by the server). @default 30000 */
  pollWaitMs?: number;
  /** The longest pause between attempts to reach an unreachable server. @default 10000 */
  maxBackoffMs?: number;
  /** Worker threads of the hosted local runner. @default min(concurrency, max(1, cores - 1)) */
  threads?: number;
  /** How long a stopped stage may take to end before it is killed (local `cancelGraceMs`, process `killGraceMs`). @default 5000 */
  killGraceMs?: number;
  /** Variables the process runner passes through to commands. @default DEFAULT_ENV_PASSTHROUGH */
  env?: readonly string[];
  /**
   * Where command and module stages run (`runners/PROTOCOL.md`, "Isolation"); the agent's own work
   * folder (its input cache) is added to what a sandbox hides. `sluice runner` chooses from
   * `SLUICE_SANDBOX_BWRAP` and `SLUICE_TRUSTED_CODE` as a server does. @default { mode: "trusted" }
   */
  isolation?: StageIsolation;
  /** The hosted local runner's warm pool of sandboxed module hosts per project (`SLUICE_SANDBOX_POOL_*`). @default the local runner's */
  warmPool?: WarmPoolOptions;
  /** The version reported at registration. @default the version in the package.json above this file */
  version?: string;
  /** Where the agent reports what it does (pino's shape). @default a logger that drops everything */
  /** Operators beyond the built-in ones (`sluice runner` passes the data plane's: ingest, validate…). */
  operators?: Record<string, OperatorRef>;
  log?: AgentLogger;
}

/** A running agent. */
export interface RemoteAgent {
  readonly name: string;
  /** The id the server gave this runner; undefined until registered. */
  readonly runnerId: string | undefined;
  /** Attempts running now. */
  readonly running: number;
  /**
   * Registers (retrying with backoff until the server answers) and starts leasing.
   * @throws AuthError when the server refuses the token; Error for invalid options or registration input
   */
  start(): Promise<void>;
  /**
   * Drains: stops leasing, lets running attempts finish for up to `drainGraceMs`, then stops the
   * rest and gives them back to the queue (they run again elsewhere without charging their retry
   * budget), deregisters and frees the hosted runners. Idempotent.
   */
  stop(): Promise<void>;
  /** Settles when the agent has stopped: after `stop()`, or rejected by a fatal error (a refused token). */
  readonly done: Promise<void>;
}

type StopReason = "cancel" | "lost" | "drain";

interface Attempt {
  task: LeasedTask;
  controller: AbortController;
  /** Why it was stopped, once it was: decides whether (and how) it is completed. */
  reason: StopReason | undefined;
  /** Its outcome is in: lease news no longer changes anything. */
  settled: boolean;
}

/**
 * Creates a remote agent; nothing happens until `start()`.
 * @throws RangeError for a concurrency, drain grace or poll wait out of range
 */
export function createRemoteAgent(options: RemoteAgentOptions): RemoteAgent {
  const name = options.name ?? os.hostname();
  const labels = [...(options.labels ?? ["local"])];
  const concurrency = options.concurrency ?? 1;
  const drainGraceMs = options.drainGraceMs ?? 30_000;
  const pollWaitMs = options.pollWaitMs ?? 30_000;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const killGraceMs = options.killGraceMs ?? 5000;
  const log = options.log ?? silentLogger;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  if (!(drainGraceMs >= 0)) throw new RangeError(`drainGraceMs must be 0 or more, got ${drainGraceMs}`);
  if (!(pollWaitMs >= 0)) throw new RangeError(`pollWaitMs must be 0 or more, got ${pollWaitMs}`);
  const workDir = path.resolve(options.workDir ?? path.join(os.tmpdir(), `sluice-agent-${name.replace(/[^A-Za-z0-9_.-]/g, "_")}`));
  const client = new AgentClient(options.server, options.token, log, maxBackoffMs);
  const cache = new InputCache(client, path.join(workDir, "cache"));
  const isolation: StageIsolation | undefined =
    options.isolation?.mode === "sandbox"
      ? { ...options.isolation, hide: [...(options.isolation.hide ?? []), workDir] }
      : options.isolation;
  const threads = options.threads ?? Math.min(concurrency, Math.max(1, os.availableParallelism() - 1));
  let local: Runner | undefined;
  let processRunner: Runner | undefined;

  const attempts = new Map<string, Attempt>();
  const finished = new Set<Promise<void>>();
  let registration: Registration | undefined;
  let stopping: Promise<void> | undefined;
  let draining = false;
  let pollAbort: AbortController | undefined;
  let slotWaiter: (() => void) | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let heartbeating = false;
  let registering: Promise<void> | undefined;
  let settleDone: { resolve: () => void; reject: (err: unknown) => void };
  const done = new Promise<void>((resolve, reject) => (settleDone = { resolve, reject }));
  done.catch(() => undefined); // observed by whoever awaits it

  const wakeLeaser = () => {
    const w = slotWaiter;
    slotWaiter = undefined;
    w?.();
  };

  async function register(): Promise<void> {
    registering ??= (async () => {
      const reg = await client.retrying("register", { retryForMs: Number.POSITIVE_INFINITY, signal: pollAbort?.signal }, () =>
        registerRunner(client, { name, labels, concurrency, hostname: os.hostname(), version: options.version ?? packageVersion() }),
      );
      const changed = registration?.heartbeatIntervalMs !== reg.heartbeatIntervalMs;
      registration = reg;
      log.info({ runnerId: reg.runnerId, name, labels, concurrency, leaseMs: reg.leaseMs }, "registered with the server");
      if (changed) {
        if (heartbeatTimer) clearInterval(heartbeatTimer);
        heartbeatTimer = setInterval(() => void beat(), reg.heartbeatIntervalMs);
      }
    })().finally(() => (registering = undefined));
    return registering;
  }

  /** One heartbeat: renews the leases of running attempts; stops those lost or canceled. */
  async function beat(): Promise<void> {
    if (heartbeating || !registration) return;
    heartbeating = true;
    try {
      const ids = [...attempts.keys()];
      const leases = await heartbeat(client, registration.runnerId, ids);
      for (const lease of leases) {
        const attempt = attempts.get(lease.stageRunId);
        if (!attempt || attempt.settled) continue;
        if (!lease.held || lease.epoch !== attempt.task.epoch) stopAttempt(attempt, "lost");
        else if (lease.cancelRequested) stopAttempt(attempt, "cancel");
      }
    } catch (err) {
      if (err instanceof RunnerGoneError && !draining) {
        log.warn({ err: err.message }, "the server no longer knows this runner; registering again");
        await register().catch((e) => log.error({ err: (e as Error).message }, "could not register again"));
      } else if (err instanceof AuthError) fatal(err);
      else log.warn({ err: (err as Error).message }, "heartbeat failed; leases will be lost if the server stays unreachable");
    } finally {
      heartbeating = false;
    }
  }

  function stopAttempt(attempt: Attempt, reason: StopReason): void {
    if (attempt.reason) return;
    attempt.reason = reason;
    log.info(
      { stageRunId: attempt.task.stageRunId, reason },
      reason === "cancel" ? "run canceled: stopping the stage" : "stopping the stage",
    );
    attempt.controller.abort();
  }

  function fatal(err: unknown): void {
    log.error({ err: (err as Error).message }, "the server refused this runner's token; stopping");
    settleDone.reject(err);
    void shutdown(0);
  }

  function runnerFor(run: StageRun): Runner {
    if (runKindOf(run) === "command") {
      processRunner ??= createProcessRunner({
        name: `${name}/process`,
        labels,
        capacity: concurrency,
        killGraceMs,
        env: options.env ?? DEFAULT_ENV_PASSTHROUGH,
        isolation,
      });
      return processRunner;
    }
    local ??= createLocalRunner({
      name: `${name}/local`,
      labels,
      threads,
      capacity: concurrency,
      cancelGraceMs: killGraceMs,
      operators: options.operators,
      isolation,
      warmPool: options.warmPool,
    });
    return local;
  }

  async function leaseLoop(): Promise<void> {
    while (!draining) {
      const reg = registration!;
      const free = concurrency - attempts.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (slotWaiter = resolve));
        continue;
      }
      pollAbort = new AbortController();
      let tasks: LeasedTask[];
      try {
        const signal = pollAbort.signal;
        tasks = await client.retrying("lease", { retryForMs: Number.POSITIVE_INFINITY, signal }, () =>
          leaseStageRuns(client, reg.runnerId, Math.min(free, 1024), Math.min(pollWaitMs, reg.maxWaitMs), signal),
        );
      } catch (err) {
        if (draining) break;
        if (err instanceof RunnerGoneError) {
          log.warn({ err: err.message }, "the server no longer knows this runner; registering again");
          await register();
          continue;
        }
        if (err instanceof AuthError) throw err;
        log.error({ err: (err as Error).message }, "lease request failed; trying again shortly");
        await sleep(Math.min(maxBackoffMs, 1000));
        continue;
      }
      for (const task of tasks) {
        const p = runAttempt(task);
        finished.add(p);
        void p.finally(() => finished.delete(p));
      }
    }
  }

  async function runAttempt(task: LeasedTask): Promise<void> {
    const attempt: Attempt = { task, controller: new AbortController(), reason: undefined, settled: false };
    // Leased again while an older attempt of ours still runs (its lease was lost meanwhile): that one is stale.
    const stale = attempts.get(task.stageRunId);
    if (stale) stopAttempt(stale, "lost");
    attempts.set(task.stageRunId, attempt);
    const ref = { stageRunId: task.stageRunId, epoch: task.epoch, runId: task.runId };
    log.info({ ...ref, stage: task.stageName, attempt: task.attempt }, "running a stage");
    const logs = new LogShipper(client, ref, log, () => stopAttempt(attempt, "lost"));
    const metrics = new MetricShipper(client, ref, log);
    // The stage's secret values are masked in its log lines and failure before they are shipped.
    const mask = secretMasker(Object.values(task.secrets ?? {}));
    const reporter = maskingReporter({ log: (stream, text) => logs.write(stream, text), metric: (k, v, s) => metrics.add(k, v, s) }, mask);
    // Per project, as on a server (the project's warm sandboxed hosts keep their folders next to its attempts').
    const projectFolder = task.projectId && PROJECT_ID.test(task.projectId) ? [task.projectId] : [];
    const scratch = path.join(workDir, "attempts", ...projectFolder, `${task.stageRunId}-${task.attempt}`);
    let completion: Completion;
    try {
      let outcome: StageOutcome;
      try {
        const stageTask = await prepare(task, scratch, attempt.controller.signal);
        outcome = maskOutcome(await runnerFor(task.run as StageRun).run(stageTask, reporter, attempt.controller.signal), mask);
      } catch (err) {
        outcome = attempt.controller.signal.aborted
          ? { status: "canceled" }
          : {
              status: "failed",
              failure: {
                type: err instanceof InputUnavailable ? FailureType.INPUT_UNAVAILABLE : FailureType.RUNNER_ERROR,
                message: `the remote runner ${name} failed before the stage ran: ${(err as Error).message}`,
                nonRetryable: false,
              },
            };
      }
      await Promise.all([logs.close(), metrics.close()]);
      attempt.settled = true;
      if (attempt.reason === "lost" || attempt.reason === "drain") {
        log.info({ ...ref, reason: attempt.reason }, "the stage was stopped and its lease given up; not completing it");
        return;
      }
      completion = await completionOf(task, outcome);
      // The usage the runner measured here travels with the outcome (PROTOCOL.md section 4).
      if (outcome.usage) completion = { ...completion, usage: outcome.usage };
      await complete(task, completion);
    } catch (err) {
      log.error({ ...ref, err: (err as Error).message }, "could not finish a stage attempt; its lease will expire and it will run again");
    } finally {
      if (attempts.get(task.stageRunId) === attempt) attempts.delete(task.stageRunId);
      await fs.rm(scratch, { recursive: true, force: true }).catch(() => undefined);
      wakeLeaser();
    }
  }

  async function prepare(task: LeasedTask, scratch: string, signal: AbortSignal): Promise<StageTask> {
    await fs.rm(scratch, { recursive: true, force: true });
    await fs.mkdir(path.join(scratch, "outputs"), { recursive: true });
    const inputs: Record<string, ResolvedInput> = {};
    for (const input of task.inputs) {
      let local: string;
      try {
        local = await cache.fetch(input, signal);
      } catch (err) {
        throw new InputUnavailable((err as Error).message);
      }
      inputs[input.name] = {
        artifactId: input.artifactId,
        kind: input.kind as ArtifactKind,
        hash: input.hash,
        size: input.size,
        path: local,
        metadata: input.metadata,
      };
    }
    return {
      stageRunId: task.stageRunId,
      runId: task.runId,
      ...(task.projectId ? { projectId: task.projectId } : {}),
      attempt: task.attempt,
      stageName: task.stageName,
      run: task.run as StageRun,
      baseDir: options.baseDir ? path.resolve(options.baseDir) : task.baseDir,
      params: task.params,
      inputs,
      outputs: Object.fromEntries(task.outputs.map((o) => [o.name, { kind: o.kind as ArtifactKind }])),
      workDir: scratch,
      labels: task.labels ?? [],
      ...(task.timeoutMs !== null ? { timeoutMs: task.timeoutMs } : {}),
      secrets: { ...task.secrets },
    };
  }

  /** The completion for an outcome; a success's outputs are uploaded first. */
  async function completionOf(task: LeasedTask, outcome: StageOutcome): Promise<Completion> {
    if (outcome.status === "canceled") return { status: "CANCELED" };
    if (outcome.status === "failed") return { status: "FAILED", failure: outcome.failure };
    const uploaded: UploadedOutput[] = [];
    for (const [outName, out] of Object.entries(outcome.outputs)) {
      try {
        uploaded.push(
          await uploadOutput(client, task, outName, out.path, out.metadata, Math.max(60_000, 2 * (registration?.leaseMs ?? 0))),
        );
      } catch (err) {
        const refused = err instanceof UploadRefused ? err : undefined;
        return {
          status: "FAILED",
          failure: {
            // A lost lease ends here too; the completion is then refused, which is all that remains to do.
            type: refused && refused.type !== "LEASE_LOST" ? refused.type : FailureType.OUTPUT_NOT_STORED,
            message: `could not upload output ${outName}: ${(err as Error).message}`,
            nonRetryable: refused !== undefined && refused.type !== "LEASE_LOST",
          },
        };
      }
    }
    return { status: "SUCCEEDED", outputs: uploaded };
  }

  async function complete(task: LeasedTask, completion: Completion): Promise<void> {
    const ref = { stageRunId: task.stageRunId, epoch: task.epoch };
    const retryForMs = Math.max(30_000, 3 * (registration?.leaseMs ?? 0));
    const answer = await client.retrying("complete", { retryForMs }, () =>
      completeStageRun(client, task.stageRunId, task.epoch, completion),
    );
    switch (answer.__typename) {
      case "CompleteStageRunPayload":
        log.info({ ...ref, outcome: completion.status, status: (answer as { status: string }).status }, "completed a stage attempt");
        return;
      case "LeaseLostError":
        log.warn({ ...ref, err: (answer as { message: string }).message }, "completion refused: the lease was lost meanwhile");
        return;
      case "InvalidInputError":
        if (completion.status === "SUCCEEDED") {
          // Outputs the server would not take (e.g. gone from its store): fail the attempt rather than leave it to expire.
          const message = `the server refused the outputs: ${(answer as { message: string }).message}`;
          log.error({ ...ref, err: message }, "completion refused");
          await complete(task, { status: "FAILED", failure: { type: FailureType.OUTPUT_NOT_STORED, message, nonRetryable: false } });
          return;
        }
        throw new Error(`completeStageRun: ${(answer as { message: string }).message}`);
      default:
        throw new Error(`completeStageRun: ${answer.__typename} ${(answer as { message: string }).message}`);
    }
  }

  /** Gives back what is still running, deregisters, closes the runners; `graceMs` lets attempts finish first. */
  async function shutdown(graceMs: number): Promise<void> {
    stopping ??= (async () => {
      draining = true;
      pollAbort?.abort();
      wakeLeaser();
      if (attempts.size > 0 && graceMs > 0) {
        log.info({ running: attempts.size, graceMs }, "draining: letting running stages finish");
        const grace = sleep(graceMs, undefined, { ref: false }).catch(() => undefined);
        while (finished.size > 0) {
          const ended = await Promise.race([Promise.allSettled([...finished]).then(() => false), grace.then(() => true)]);
          if (ended) break;
        }
      }
      for (const attempt of attempts.values()) {
        if (!attempt.settled) attempt.reason ??= "drain";
      }
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      heartbeatTimer = undefined;
      if (registration) {
        try {
          const released = await client.retrying("deregister", { retryForMs: 10_000 }, () =>
            deregisterRunner(client, registration!.runnerId),
          );
          log.info({ released }, "deregistered");
        } catch (err) {
          log.warn({ err: (err as Error).message }, "could not deregister; the leases still held will expire");
        }
      }
      for (const attempt of attempts.values()) if (attempt.reason === "drain") attempt.controller.abort();
      await Promise.allSettled([...finished]);
      await Promise.all([local?.close(), processRunner?.close()]);
      settleDone.resolve();
    })();
    return stopping;
  }

  return {
    name,
    get runnerId() {
      return registration?.runnerId;
    },
    get running() {
      return attempts.size;
    },
    async start() {
      await fs.mkdir(path.join(workDir, "attempts"), { recursive: true });
      pollAbort = new AbortController();
      try {
        await register();
      } catch (err) {
        if (err instanceof AuthError) settleDone.reject(err);
        throw err;
      }
      void leaseLoop().catch((err) => {
        if (err instanceof AuthError) fatal(err);
        else {
          log.error({ err: (err as Error).message }, "the lease loop failed; stopping");
          settleDone.reject(err);
          void shutdown(0);
        }
      });
    },
    stop() {
      return shutdown(drainGraceMs);
    },
    done,
  };
}

/** An input could not be downloaded (or did not match its hash). */
class InputUnavailable extends Error {}

/** The version in the nearest package.json above this file. */
function packageVersion(): string {
  let dir = __dirname;
  for (;;) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      try {
        return String((JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version ?? "unknown");
      } catch {
        return "unknown";
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}

export { AuthError, TransientError };
