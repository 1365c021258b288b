import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { ResolvedInput, Runner, StageFailure, StageOutcome, StageTask } from "../../../runners/contract";
import { type Masker, maskingReporter, maskOutcome, secretMasker } from "../../../runners/secret-mask";
import { runSystemChange } from "../../events/system-change";
import type { Database } from "../../db/data-source";
import type { EventBus } from "../../events/event-bus";
import type { SecretService } from "../../secrets";
import type { StageHooks } from "./output-hooks";
import type { ArtifactStore } from "../../artifacts/store";
import type { EventDraft } from "../../events/event.store";
import type { EntityManager } from "typeorm";
import { claimStageRuns, renewLeases } from "./claims";
import {
  type AttemptResult,
  type CompletionOutcome,
  completeAttempt,
  completeAttempts,
  reclaimExpiredLeases,
  releaseLeases,
} from "./completion";
import { resolveInputArtifacts } from "./inputs";
import type { LogService } from "../streams/logs";
import type { MetricPoint, MetricsService } from "../streams/metrics.service";
import { planForVersion } from "./plan";
import { RunEvents } from "./run-events";
import { runRef } from "./run-meta";
import { stageWrite } from "./run-state";
import type { StageRunRow } from "../stage-run.entity";
import { revealStageSecrets } from "./stage-secrets";

/** What the engine uses of the server: storage, events, stage secrets and the stage hooks. */
export interface EngineDeps {
  db: Database;
  events: EventBus;
  secrets: SecretService;
  stageHooks: StageHooks;
}

export interface EngineOptions {
  /** This process's name as a lease holder, e.g. `server:host:1234:ab12`. */
  owner: string;
  /** The runners this process hosts (local worker threads, process). */
  runners: readonly Runner[];
  store: ArtifactStore;
  logs: LogService;
  metrics: MetricsService;
  /** Where attempts get their scratch folders. */
  workRoot: string;
  /** How long a lease lasts without renewal. @default 30000 */
  leaseMs?: number;
  /** Most RUNNING stage runs per label, across every runner. */
  labelLimits?: Readonly<Record<string, number>>;
  /** Stage logs older than this many days are deleted (hourly). @default keep for ever */
  logRetentionDays?: number;
  log: Logger;
}

interface Inflight {
  runner: Runner;
  controller: AbortController;
  epoch: number;
}

/** How often old stage logs are looked for. */
const LOG_EXPIRY_INTERVAL_MS = 60 * 60 * 1000;
const DISPATCH_EVENTS = [RunEvents.stageQueued, RunEvents.stageRetrying, RunEvents.cancelRequested];
/** Most attempt completions recorded in one transaction. */
const MAX_COMPLETION_BATCH = 200;

interface PendingCompletion {
  stageRunId: string;
  epoch: number;
  result: AttemptResult;
  inputIds: Record<string, string>;
  settle: { resolve: (o: CompletionOutcome) => void; reject: (e: unknown) => void };
}

/**
 * The run engine of one server process: leases queued stage runs for the runners it hosts,
 * runs them, stores their outputs and records how they ended. Event driven — a queued stage
 * wakes every engine at once — with timers only for retry delays, lease renewal and taking back
 * leases from engines that died. Any number of processes may run one on the same database.
 */
export class RunEngine {
  private readonly inflight = new Map<string, Inflight>();
  private readonly busy = new Map<Runner, number>();
  private readonly leaseMs: number;
  private dispatching: Promise<void> | undefined;
  private wanted = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryAt = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private subscription: AsyncIterableIterator<{ type: string; payload: Record<string, unknown> }> | undefined;
  private readonly finished = new Set<Promise<void>>();
  private readonly pendingCompletions: PendingCompletion[] = [];
  private completing: Promise<void> | undefined;

  constructor(
    private readonly services: EngineDeps,
    private readonly options: EngineOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  start(): void {
    this.subscription = this.services.events.subscribe({ types: DISPATCH_EVENTS });
    void this.listen(this.subscription);
    this.timers.push(setInterval(() => void this.renew(), Math.max(200, this.leaseMs / 3)).unref());
    this.timers.push(setInterval(() => void this.sweep(), Math.max(200, this.leaseMs / 2)).unref());
    if (this.options.logRetentionDays) {
      this.timers.push(setInterval(() => void this.expireLogs(), LOG_EXPIRY_INTERVAL_MS).unref());
      void this.expireLogs();
    }
    this.wake();
    // Retries already waiting when this process started announce themselves no more.
    void this.services.db.dataSource
      .query(`SELECT min(not_before) AS next FROM stage_runs WHERE ${stageWrite("claimed").guard} AND not_before > now()`)
      .then((rows: Array<{ next: Date | null }>) => rows[0]?.next && this.wakeAt(new Date(rows[0].next).getTime()))
      .catch(() => undefined);
  }

  private async listen(events: AsyncIterableIterator<{ type: string; payload: Record<string, unknown> }>): Promise<void> {
    try {
      for await (const e of events) {
        if (e.type === RunEvents.cancelRequested) {
          for (const id of (e.payload.stageRunIds as string[] | undefined) ?? []) this.inflight.get(id)?.controller.abort();
        } else if (e.type === RunEvents.stageRetrying && typeof e.payload.notBefore === "string") {
          this.wakeAt(new Date(e.payload.notBefore).getTime());
        } else this.wake();
      }
    } catch (err) {
      if (!this.closed) this.options.log.error({ err }, "run engine stopped listening to events");
    }
  }

  /** Asks for a dispatch pass; passes never overlap, and a request during one runs another. */
  wake(): void {
    if (this.closed) return;
    this.wanted = true;
    this.dispatching ??= this.dispatchLoop().finally(() => {
      this.dispatching = undefined;
      if (this.wanted) this.wake();
    });
  }

  private async dispatchLoop(): Promise<void> {
    while (this.wanted && !this.closed) {
      this.wanted = false;
      for (const runner of this.options.runners) {
        const free = runner.capacity - (this.busy.get(runner) ?? 0);
        if (free <= 0) continue;
        let claimed: StageRunRow[];
        try {
          claimed = await runSystemChange(this.services, (tx) =>
            claimStageRuns(tx, {
              owner: this.options.owner,
              labels: runner.labels,
              kinds: runner.kinds,
              max: free,
              leaseMs: this.leaseMs,
              labelLimits: this.options.labelLimits,
            }),
          );
        } catch (err) {
          this.options.log.error({ err }, "could not claim stage runs");
          continue;
        }
        for (const sr of claimed) this.track(this.execute(runner, sr));
        // A full batch may mean more is waiting.
        if (claimed.length === free) this.wanted = true;
      }
    }
  }

  private track(p: Promise<void>): void {
    this.finished.add(p);
    void p.finally(() => this.finished.delete(p));
  }

  /**
   * Wakes at `at` (a retry's delay ending). One timer, kept at the earliest time asked for; the
   * pass it triggers finds any other due retries too.
   */
  private wakeAt(at: number): void {
    if (this.closed) return;
    if (this.retryTimer && this.retryAt <= at) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAt = at;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.wake();
      },
      Math.max(0, at - Date.now()) + 5,
    ).unref();
  }

  private async execute(runner: Runner, sr: StageRunRow): Promise<void> {
    const controller = new AbortController();
    this.inflight.set(sr.id, { runner, controller, epoch: sr.leaseEpoch });
    this.busy.set(runner, (this.busy.get(runner) ?? 0) + 1);
    // The runner is free once the stage returns: it may take new work while this attempt's
    // outputs are stored and its completion commits.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.busy.set(runner, (this.busy.get(runner) ?? 1) - 1);
      this.wake();
    };
    if (sr.cancelRequested) controller.abort();
    const ref = { runId: sr.runId, stageRunId: sr.id, attempt: sr.attempt };
    const logWriter = this.options.logs.writer(ref, this.options.log);
    const metrics = new MetricBuffer(this.options.metrics, sr.runId, sr.id, this.options.log);
    // Known once the run's project is: `<work root>/<projectId>/<attempt>` (see `prepare`).
    let workDir: string | undefined;
    let inputIds: Record<string, string> = {};
    let result: AttemptResult;
    // The stage's secret values are masked in everything it reports before it is stored.
    let mask: Masker = (text) => text;
    try {
      const prepared = await this.prepare(sr, (dir) => (workDir = dir));
      inputIds = prepared.inputIds;
      if ("failure" in prepared) {
        result = { status: "failed", failure: prepared.failure };
      } else {
        mask = secretMasker(Object.values(prepared.task.secrets ?? {}));
        const reporter = maskingReporter(
          { log: (stream, text) => logWriter.write(stream, text), metric: (k, v, s) => metrics.add(k, v, s) },
          mask,
        );
        const outcome = maskOutcome(await runner.run(prepared.task, reporter, controller.signal), mask);
        release();
        result = await this.storeOutputs(outcome);
      }
    } catch (err) {
      const message = mask((err as Error).message);
      const error = { name: (err as Error).name, message, stack: mask((err as Error).stack ?? "") };
      this.options.log.error({ err: error, stageRunId: sr.id }, "stage attempt failed inside the engine");
      result = { status: "failed", failure: { type: "ENGINE_ERROR", message, nonRetryable: false } };
    }
    release();
    await Promise.all([logWriter.close(), metrics.close()]);
    try {
      const done = await this.complete({ stageRunId: sr.id, epoch: sr.leaseEpoch, result, inputIds });
      if (!done.accepted) this.options.log.warn({ stageRunId: sr.id, reason: done.reason }, "completion refused: the lease was lost");
    } catch (err) {
      this.options.log.error({ err, stageRunId: sr.id }, "could not record a stage attempt; its lease will expire and it will be retried");
    } finally {
      this.inflight.delete(sr.id);
      if (workDir) await fs.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      this.wake();
    }
  }

  /**
   * Records an attempt's end. Completions that arrive together share one transaction (group
   * commit): a wide fan-out finishes hundreds of short stages at once, and one commit, one
   * event-ordering lock and one publication for all of them is what makes it fast.
   */
  private complete(item: Omit<PendingCompletion, "settle">): Promise<CompletionOutcome> {
    return new Promise((resolve, reject) => {
      this.pendingCompletions.push({ ...item, settle: { resolve, reject } });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    this.completing ??= new Promise<void>((r) => setImmediate(r))
      .then(() => this.flushCompletions())
      .finally(() => {
        this.completing = undefined;
        if (this.pendingCompletions.length > 0) this.scheduleFlush();
      });
  }

  /** A transaction that runs this server's stage hooks (outputs that become dataset versions, reports…). */
  private withHooks(tx: { manager: EntityManager; emit(e: EventDraft): void }) {
    return { manager: tx.manager, emit: (e: EventDraft) => tx.emit(e), hooks: this.services.stageHooks };
  }

  private async flushCompletions(): Promise<void> {
    while (this.pendingCompletions.length > 0) {
      const batch = this.pendingCompletions.splice(0, MAX_COMPLETION_BATCH);
      try {
        const outcomes = await runSystemChange(this.services, (tx) =>
          completeAttempts(
            this.withHooks(tx),
            batch.map((c) => ({ stageRunId: c.stageRunId, epoch: c.epoch, result: c.result, inputs: c.inputIds })),
          ),
        );
        batch.forEach((c, i) => c.settle.resolve(outcomes[i]!));
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.settle.reject(err);
          continue;
        }
        // One bad completion must not sink the others: record them one by one.
        for (const c of batch) {
          await runSystemChange(this.services, (tx) =>
            completeAttempt(this.withHooks(tx), c.stageRunId, c.epoch, c.result, c.inputIds),
          ).then(c.settle.resolve, c.settle.reject);
        }
      }
    }
  }

  /**
   * The task of an attempt: its inputs resolved, its work folder made, the secrets it is granted
   * decrypted (from the run's project only); or the failure that stops it before it runs.
   */
  private async prepare(
    sr: StageRunRow,
    onWorkDir: (workDir: string) => void,
  ): Promise<{ task: StageTask; inputIds: Record<string, string> } | { failure: StageFailure; inputIds: Record<string, string> }> {
    const manager = this.services.db.dataSource.manager;
    const run = await runRef(manager, sr.runId);
    // One folder per project holds its attempts' work folders (and the folders of the project's
    // warm sandboxed hosts, which sit next to them: see runners/local/warm-hosts.ts).
    const workDir = path.join(this.options.workRoot, run.projectId, `${sr.id}-${sr.attempt}`);
    onWorkDir(workDir);
    const plan = await planForVersion(manager, run.pipelineVersionId);
    const stage = plan.stages.get(sr.stageName)!;
    const artifacts = await resolveInputArtifacts(manager, plan, sr.runId, sr.stageName);
    const inputIds = Object.fromEntries(Object.entries(artifacts).map(([n, a]) => [n, a.id]));
    const secrets = await revealStageSecrets(this.services.secrets, manager, run.projectId, stage.spec);
    if ("failure" in secrets) return { failure: secrets.failure, inputIds };
    const inputs: Record<string, ResolvedInput> = {};
    for (const [name, a] of Object.entries(artifacts)) {
      inputs[name] = {
        artifactId: a.id,
        kind: a.kind,
        hash: a.hash,
        size: Number(a.size),
        path: await this.options.store.localPath(a.uri),
        metadata: a.metadata,
      };
    }
    await fs.rm(workDir, { recursive: true, force: true });
    await fs.mkdir(path.join(workDir, "outputs"), { recursive: true });
    const task: StageTask = {
      stageRunId: sr.id,
      runId: sr.runId,
      projectId: run.projectId,
      attempt: sr.attempt,
      stageName: sr.stageName,
      run: stage.spec.run,
      baseDir: plan.baseDir || process.cwd(),
      params: sr.params,
      inputs,
      outputs: Object.fromEntries(Object.entries(stage.spec.outputs ?? {}).map(([n, o]) => [n, { kind: o.kind }])),
      workDir,
      labels: stage.spec.runner?.labels ?? [],
      timeoutMs: stage.spec.timeoutMs,
      secrets: secrets.values,
    };
    return { task, inputIds };
  }

  /** Moves a successful attempt's outputs into the artifact store. */
  private async storeOutputs(outcome: StageOutcome): Promise<AttemptResult> {
    if (outcome.status !== "succeeded") return outcome;
    const usage = outcome.usage ? { usage: outcome.usage } : {};
    const outputs: Extract<AttemptResult, { status: "succeeded" }>["outputs"] = {};
    for (const [name, out] of Object.entries(outcome.outputs)) {
      try {
        outputs[name] = { stored: await this.options.store.put(out.path, { move: true }), metadata: out.metadata ?? {} };
      } catch (err) {
        return {
          status: "failed",
          failure: { type: "OUTPUT_NOT_STORED", message: `Output ${name}: ${(err as Error).message}`, nonRetryable: false },
          ...usage,
        };
      }
    }
    return { status: "succeeded", outputs, ...usage };
  }

  /** Renews this process's leases; a stage whose lease is gone, or whose run was canceled, is stopped. */
  private async renew(): Promise<void> {
    const ids = [...this.inflight.keys()];
    if (ids.length === 0 || this.closed) return;
    try {
      const held = await renewLeases(this.services.db.dataSource.manager, this.options.owner, ids, this.leaseMs);
      const alive = new Map(held.map((h) => [h.id, h]));
      for (const id of ids) {
        const entry = this.inflight.get(id);
        const h = alive.get(id);
        if (!entry) continue;
        if (!h || h.leaseEpoch !== entry.epoch || h.cancelRequested) entry.controller.abort();
      }
    } catch (err) {
      this.options.log.warn({ err }, "could not renew stage leases");
    }
  }

  /** Takes back stage runs whose holder stopped renewing (any process may; rows are skip-locked). */
  private async sweep(): Promise<void> {
    if (this.closed) return;
    try {
      const n = await runSystemChange(this.services, (tx) => reclaimExpiredLeases(tx));
      if (n > 0) {
        this.options.log.info({ reclaimed: n }, "took back stage runs with expired leases");
        this.wake();
      }
    } catch (err) {
      this.options.log.warn({ err }, "could not sweep expired leases");
    }
  }

  /**
   * Deletes stage log chunks older than the retention. Every server may run it: the delete is
   * idempotent, and a second one finds nothing.
   */
  async expireLogs(): Promise<number> {
    const days = this.options.logRetentionDays;
    if (!days || this.closed) return 0;
    try {
      const n = await this.options.logs.purge(new Date(Date.now() - days * 86_400_000));
      if (n > 0) this.options.log.info({ deleted: n, retentionDays: days }, "expired old stage logs");
      return n;
    } catch (err) {
      this.options.log.warn({ err }, "could not expire old stage logs");
      return 0;
    }
  }

  /** Running attempts in this process. */
  get running(): number {
    return this.inflight.size;
  }

  /**
   * Stops claiming and gives the running attempts back to the queue (another server, or this
   * one after a restart, runs them again without charging their retry budget), then stops them.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.subscription?.return?.();
    await this.dispatching;
    const held = [...this.inflight.keys()];
    if (held.length > 0) {
      await runSystemChange(this.services, (tx) => releaseLeases(tx, this.options.owner, held)).catch((err) =>
        this.options.log.error({ err }, "could not give back running stage runs; their leases will expire"),
      );
      for (const entry of this.inflight.values()) entry.controller.abort();
    }
    await Promise.all([...this.finished]);
    await Promise.all(this.options.runners.map((r) => r.close()));
  }
}

/** Batches a stage's metric points, written every 200 ms or 1,000 points. */
class MetricBuffer {
  private points: MetricPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly metrics: MetricsService,
    private readonly runId: string,
    private readonly stageRunId: string,
    private readonly log: Logger,
  ) {}

  add(key: string, value: number, step?: number): void {
    this.points.push({ key, value, step, timestamp: new Date() });
    if (this.points.length >= 1000) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 200);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.points;
    this.points = [];
    if (batch.length === 0) return;
    this.chain = this.chain
      .then(() => this.metrics.record(this.runId, this.stageRunId, batch))
      .catch((err) => this.log.warn({ err, stageRunId: this.stageRunId }, "could not store metric points from a stage"));
  }

  async close(): Promise<void> {
    this.flush();
    await this.chain;
  }
}
