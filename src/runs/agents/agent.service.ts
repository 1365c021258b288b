/**
 * The server side of remote runners (`sluice runner`): registration, leasing with a long poll,
 * heartbeats, fenced log appends and completions, and giving back what a stopping runner held.
 * A remote agent holds leases exactly as an embedded engine does — `claimStageRuns` with the
 * owner `agent:<runner id>` — so fencing, lost-lease sweeping and retries are the engine's own.
 * `runners/PROTOCOL.md` ("Remote agent") is the wire protocol; `agent.resolver.ts` the API.
 */
import type { Logger } from "pino";
import { type EntityManager, In } from "typeorm";
import { ConflictError, ForbiddenError, InvalidInputError, type InputProblem } from "../../kernel/errors";
import { runSystemChange } from "../../events/system-change";
import { isUuid } from "../../kernel/ids";
import { type Page, type PageArgs, type SortSpec, paginate } from "../../kernel/pagination";
import type { StageUsage } from "../../../runners/contract";
import type { ArtifactStore, StoredObject } from "../../artifacts/store";
import type { Database } from "../../db/data-source";
import type { EventBus } from "../../events/event-bus";
import { PipelineVersionRow } from "../../pipelines";
import type { SecretService } from "../../secrets";
import { LeaseLostError } from "./agent.errors";
import { claimStageRuns, renewLeases } from "../engine/claims";
import { type AttemptResult, completeAttempt, reclaimExpiredLeases, releaseLeases } from "../engine/completion";
import { resolveInputArtifacts } from "../engine/inputs";
import type { StageHooks } from "../engine/output-hooks";
import { planFor } from "../engine/plan";
import { RunEvents } from "../engine/run-events";
import { ACTIVE_STAGE, stageWrite } from "../engine/run-state";
import { RunRow } from "../run.entity";
import { RunnerAgentRow } from "./runner-agent.entity";
import { StageRunRow } from "../stage-run.entity";
import { revealStageSecrets } from "../engine/stage-secrets";
import type { LeasedTask, LeaseState, UploadedOutput } from "../../../runners/remote/wire";

/** The longest a lease request may wait for work. */
export const MAX_LEASE_WAIT_MS = 30_000;
/** The most stage runs one lease request may take. */
export const MAX_LEASE_BATCH = 1024;
/** The most log chunks one `appendStageLogs` call may carry, and the most bytes of one chunk. */
export const MAX_LOG_CHUNKS = 100;
export const MAX_LOG_CHUNK_BYTES = 256 * 1024;

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const LABEL = /^[A-Za-z0-9_.-]{1,64}$/;
const HASH = /^sha256:[0-9a-f]{64}$/;
/** An agent hosts a local and a process runner, so it runs every kind of stage. */
const AGENT_KINDS = ["operator", "module", "command"] as const;
/** Events after which something may have become claimable: new work, or a limit that freed up. */
const WAKE_EVENTS = [
  RunEvents.stageQueued,
  RunEvents.stageRetrying,
  RunEvents.stageSucceeded,
  RunEvents.stageFailed,
  RunEvents.stageCanceled,
  RunEvents.succeeded,
  RunEvents.failed,
  RunEvents.canceled,
];

/** The lease owner a runner's claims carry. */
export function agentOwner(runnerId: string): string {
  return `agent:${runnerId}`;
}

/** The runner id in a lease owner `agent:<id>`, or undefined for an embedded engine's. */
export function runnerIdOf(owner: string | null): string | undefined {
  return owner?.startsWith("agent:") ? owner.slice("agent:".length) : undefined;
}

export { isUuid };

/** Who asks: the principal, and whether it may act for runners of other principals (a global ADMIN). */
export interface RunnerCaller {
  principalId: string;
  isAdmin: boolean;
}

export interface RegisterRunner {
  name: string;
  labels: readonly string[];
  concurrency: number;
  hostname?: string | null;
  version?: string | null;
}

export interface AgentServiceDeps {
  db: Database;
  events: EventBus;
  /** Lease length, and how many attempts of each label may run at once (the server's settings). */
  config: { leaseMs: number; labelLimits: Readonly<Record<string, number>> };
  /** The server's stage hooks, run when a remote runner completes a stage. */
  hooks?: StageHooks;
  /** Project secrets, decrypted for the stages that are granted some. */
  secrets: SecretService;
}

/** Remote runners: their registry and the leasing protocol they speak. */
export class AgentService {
  /** How long a lease lasts without a heartbeat (`SLUICE_LEASE_MS`). */
  readonly leaseMs: number;
  /** How often agents heartbeat: a third of the lease, at most 5 s (so cancels arrive within seconds). */
  readonly heartbeatIntervalMs: number;
  private readonly closing = new AbortController();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: AgentServiceDeps) {
    this.leaseMs = deps.config.leaseMs;
    this.heartbeatIntervalMs = Math.min(5000, Math.max(100, Math.floor(this.leaseMs / 3)));
  }

  /** A runner unheard of for this long shows OFFLINE: three heartbeat intervals. */
  get offlineAfterMs(): number {
    return 3 * this.heartbeatIntervalMs;
  }

  /**
   * Starts the background work: with `sweepLeases` (a server that hosts no engine, which would
   * otherwise do it), taking back the stage runs of runners that stopped heartbeating.
   */
  start(options: { sweepLeases: boolean; log: Logger }): void {
    if (!options.sweepLeases || this.sweepTimer) return;
    this.sweepTimer = setInterval(() => void this.sweep(options.log), Math.max(200, this.leaseMs / 2)).unref();
  }

  /** Stops the sweeper and ends every waiting long poll (they answer with no tasks). */
  close(): void {
    this.closing.abort();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private async sweep(log: Logger): Promise<void> {
    if (this.closing.signal.aborted) return;
    try {
      const n = await runSystemChange(this.deps, (tx) => reclaimExpiredLeases(tx));
      if (n > 0) log.info({ reclaimed: n }, "took back stage runs with expired leases");
    } catch (err) {
      log.warn({ err }, "could not sweep expired leases");
    }
  }

  /** @throws InvalidInputError naming each bad field. */
  validateRegistration(input: RegisterRunner): void {
    const problems: InputProblem[] = [];
    if (!NAME.test(input.name)) problems.push({ field: "name", message: "must be 1-128 characters of letters, digits and _ . : -" });
    if (input.labels.length === 0 || input.labels.length > 32) problems.push({ field: "labels", message: "give 1 to 32 labels" });
    input.labels.forEach((l, i) => {
      if (!LABEL.test(l)) problems.push({ field: `labels[${i}]`, message: "must be 1-64 characters of letters, digits and _ . -" });
    });
    if (!Number.isInteger(input.concurrency) || input.concurrency < 1 || input.concurrency > 1024) {
      problems.push({ field: "concurrency", message: "must be a whole number from 1 to 1024" });
    }
    if ((input.hostname ?? "").length > 256) problems.push({ field: "hostname", message: "at most 256 characters" });
    if ((input.version ?? "").length > 256) problems.push({ field: "version", message: "at most 256 characters" });
    if (problems.length) throw new InvalidInputError(problems);
  }

  /**
   * Registers a runner, or updates the one of that name (a restarted agent keeps its id). A name
   * another principal registered is refused unless `caller` is an admin.
   * @throws InvalidInputError, ConflictError (`name`)
   */
  async register(manager: EntityManager, caller: RunnerCaller, input: RegisterRunner): Promise<RunnerAgentRow> {
    this.validateRegistration(input);
    const existing = await manager.findOne(RunnerAgentRow, { where: { name: input.name }, lock: { mode: "pessimistic_write" } });
    if (existing && existing.principalId !== null && existing.principalId !== caller.principalId && !caller.isAdmin) {
      throw new ConflictError(`A runner named ${JSON.stringify(input.name)} is registered by another principal; choose another name`, {
        field: "name",
      });
    }
    const values = {
      labels: [...new Set(input.labels)].sort(),
      concurrency: input.concurrency,
      hostname: input.hostname ?? "",
      version: input.version ?? "",
      principalId: caller.principalId,
      lastSeenAt: new Date(),
      stoppedAt: null,
    };
    if (existing) {
      await manager.update(RunnerAgentRow, { id: existing.id }, values);
      return Object.assign(existing, values);
    }
    return manager.save(manager.create(RunnerAgentRow, { name: input.name, registeredAt: new Date(), ...values }));
  }

  async get(id: string, manager: EntityManager = this.deps.db.dataSource.manager): Promise<RunnerAgentRow | null> {
    if (!isUuid(id)) return null;
    return manager.findOneBy(RunnerAgentRow, { id });
  }

  /** The runner `id` when `caller` may act for it (registered it, or is an admin); null otherwise. */
  async ownedBy(id: string, caller: RunnerCaller): Promise<RunnerAgentRow | null> {
    const runner = await this.get(id);
    return runner && (caller.isAdmin || runner.principalId === caller.principalId) ? runner : null;
  }

  /** Runners, optionally only those with `status` (as `RunnerAgent.status` computes it) or offering `label`. */
  async list(
    filter: { status?: "ONLINE" | "OFFLINE" | "STOPPED"; label?: string },
    page: PageArgs,
    sort: SortSpec<RunnerAgentRow>,
  ): Promise<Page<RunnerAgentRow>> {
    const qb = this.deps.db.dataSource.getRepository(RunnerAgentRow).createQueryBuilder("a");
    const seenSince = new Date(Date.now() - this.offlineAfterMs);
    if (filter.status === "STOPPED") qb.andWhere("a.stopped_at IS NOT NULL");
    if (filter.status === "ONLINE") qb.andWhere("a.stopped_at IS NULL AND a.last_seen_at >= :seenSince", { seenSince });
    if (filter.status === "OFFLINE") qb.andWhere("a.stopped_at IS NULL AND a.last_seen_at < :seenSince", { seenSince });
    if (filter.label) qb.andWhere(":label = ANY(a.labels)", { label: filter.label });
    return paginate(qb, page, sort);
  }

  /** The stage runs a runner holds now, with their runs' projects. */
  async heldBy(runnerId: string): Promise<Array<{ row: StageRunRow; projectId: string }>> {
    const rows = await this.deps.db.dataSource.getRepository(StageRunRow).find({
      where: { leaseOwner: agentOwner(runnerId), status: In([...ACTIVE_STAGE]) },
      relations: { run: true },
      order: { startedAt: "ASC" },
    });
    return rows.map((row) => ({ row, projectId: row.run!.projectId }));
  }

  /** Whether something is claimable now for these labels, and when the next delayed retry falls due. */
  private async probe(labels: readonly string[], projectIds: readonly string[] | null): Promise<{ ready: boolean; next: Date | null }> {
    const [row]: Array<{ ready: boolean | null; next: Date | null }> = await this.deps.db.dataSource.query(
      `SELECT bool_or(sr.not_before IS NULL OR sr.not_before <= now()) AS ready,
              min(sr.not_before) FILTER (WHERE sr.not_before > now()) AS next
         FROM stage_runs sr JOIN runs r ON r.id = sr.run_id
        WHERE ${stageWrite("claimed", "sr").guard} AND sr.runner_labels <@ $1::text[] AND sr.run_kind = ANY($2::text[])
          AND ($3::uuid[] IS NULL OR r.project_id = ANY($3::uuid[]))`,
      [labels, AGENT_KINDS, projectIds],
    );
    return { ready: Boolean(row?.ready), next: row?.next ? new Date(row.next) : null };
  }

  /**
   * The long poll: calls `claim` as soon as something is claimable for the runner, and returns
   * what it leased; when nothing is, waits for an event that may change that (a stage queued or
   * requeued, a stage or run ending and freeing a limit), a delayed retry falling due, `waitMs`
   * running out, the client going away (`signal`) or the server closing — then answers empty.
   * A poll that finds nothing claims nothing, so empty polls write nothing (no audit row).
   */
  async leaseWithWait(options: {
    runner: RunnerAgentRow;
    projectIds: readonly string[] | null;
    waitMs: number;
    signal?: AbortSignal;
    claim: () => Promise<StageRunRow[]>;
  }): Promise<StageRunRow[]> {
    const { runner, projectIds, signal } = options;
    const deadline = Date.now() + Math.min(Math.max(0, options.waitMs), MAX_LEASE_WAIT_MS);
    // Subscribed before the first look, so an event between the look and the wait is not missed.
    const events = options.waitMs > 0 ? this.deps.events.subscribe({ types: WAKE_EVENTS }) : undefined;
    let pending: Promise<void> | undefined;
    let ended = false;
    const nextEvent = (): Promise<void> =>
      (pending ??= events!.next().then(
        (r) => {
          pending = undefined;
          if (r.done) ended = true;
        },
        () => {
          pending = undefined;
          ended = true;
        },
      ));
    try {
      await this.touch(runner.id);
      for (;;) {
        if (this.closing.signal.aborted || signal?.aborted) return [];
        const probe = await this.probe(runner.labels, projectIds);
        if (probe.ready) {
          const claimed = await options.claim();
          if (claimed.length > 0) return claimed;
        }
        const now = Date.now();
        if (!events || ended || now >= deadline) return [];
        const until = Math.min(deadline, probe.next ? probe.next.getTime() + 5 : Number.POSITIVE_INFINITY);
        await waitFor(nextEvent(), until - now, [signal, this.closing.signal]);
      }
    } finally {
      await events?.return?.();
    }
  }

  /** Leases up to `max` stage runs for `runner`, in the caller's transaction. */
  async claim(
    tx: { manager: EntityManager; emit: Parameters<typeof claimStageRuns>[0]["emit"] },
    runner: RunnerAgentRow,
    max: number,
    projectIds: readonly string[] | null,
  ): Promise<StageRunRow[]> {
    await tx.manager.update(RunnerAgentRow, { id: runner.id }, { lastSeenAt: new Date() });
    return claimStageRuns(tx, {
      owner: agentOwner(runner.id),
      labels: runner.labels,
      kinds: AGENT_KINDS,
      max: Math.min(max, MAX_LEASE_BATCH),
      leaseMs: this.leaseMs,
      labelLimits: this.deps.config.labelLimits,
      projectIds: projectIds ?? undefined,
    });
  }

  /**
   * What a runner needs to run each leased stage run: the stage, its inputs with download URLs,
   * its outputs, and the secrets it is granted, decrypted from the run's project (the caller was
   * allowed to lease it, so holds RUN there). A stage whose secret is gone or unreadable is failed
   * here (`SECRET_UNAVAILABLE`, non-retryable) and left out.
   */
  async tasksFor(rows: readonly StageRunRow[]): Promise<LeasedTask[]> {
    const manager = this.deps.db.dataSource.manager;
    const tasks: LeasedTask[] = [];
    for (const sr of rows) {
      const run = await manager.findOneByOrFail(RunRow, { id: sr.runId });
      const plan = planFor(await manager.findOneByOrFail(PipelineVersionRow, { id: run.pipelineVersionId }));
      const stage = plan.stages.get(sr.stageName)!;
      const artifacts = await resolveInputArtifacts(manager, plan, sr.runId, sr.stageName);
      const secrets = await revealStageSecrets(this.deps.secrets, manager, run.projectId, stage.spec);
      if ("failure" in secrets) {
        const inputIds = Object.fromEntries(Object.entries(artifacts).map(([name, a]) => [name, a.id]));
        await runSystemChange(this.deps, (tx) =>
          this.complete(tx, sr.id, sr.leaseEpoch, { status: "failed", failure: secrets.failure }, inputIds),
        );
        continue;
      }
      tasks.push({
        stageRunId: sr.id,
        runId: sr.runId,
        projectId: run.projectId,
        attempt: sr.attempt,
        stageName: sr.stageName,
        epoch: sr.leaseEpoch,
        run: stage.spec.run as unknown as Record<string, unknown>,
        baseDir: plan.baseDir || process.cwd(),
        params: sr.params,
        inputs: Object.entries(artifacts).map(([name, a]) => ({
          name,
          artifactId: a.id,
          kind: a.kind,
          hash: a.hash,
          size: Number(a.size),
          isDirectory: a.isDirectory,
          metadata: a.metadata,
          downloadUrl: `/artifacts/${a.id}/content`,
        })),
        outputs: Object.entries(stage.spec.outputs ?? {}).map(([name, o]) => ({ name, kind: o.kind })),
        labels: [...(stage.spec.runner?.labels ?? [])],
        timeoutMs: stage.spec.timeoutMs ?? null,
        secrets: secrets.values,
      });
    }
    return tasks;
  }

  /** The inputs a stage run reads, by name (artifact ids), for its lineage. */
  async inputIdsOf(sr: StageRunRow, manager: EntityManager = this.deps.db.dataSource.manager): Promise<Record<string, string>> {
    const run = await manager.findOneByOrFail(RunRow, { id: sr.runId });
    const plan = planFor(await manager.findOneByOrFail(PipelineVersionRow, { id: run.pipelineVersionId }));
    const artifacts = await resolveInputArtifacts(manager, plan, sr.runId, sr.stageName);
    return Object.fromEntries(Object.entries(artifacts).map(([name, a]) => [name, a.id]));
  }

  private async touch(runnerId: string): Promise<void> {
    await this.deps.db.dataSource.getRepository(RunnerAgentRow).update({ id: runnerId }, { lastSeenAt: new Date() });
  }

  /**
   * Renews the leases `runner` holds among `stageRunIds` and notes that it is alive. Not audited:
   * it changes only lease deadlines and the runner's last-seen time, every few seconds.
   */
  async heartbeat(runner: RunnerAgentRow, stageRunIds: readonly string[]): Promise<LeaseState[]> {
    await this.touch(runner.id);
    const ids = [...new Set(stageRunIds)];
    const held = await renewLeases(this.deps.db.dataSource.manager, agentOwner(runner.id), ids.filter(isUuid), this.leaseMs);
    const byId = new Map(held.map((h) => [h.id, h]));
    return ids.map((id) => {
      const h = byId.get(id);
      return { stageRunId: id, held: Boolean(h), epoch: h?.leaseEpoch ?? null, cancelRequested: h?.cancelRequested ?? false };
    });
  }

  /**
   * Checks that `caller` holds lease `epoch` of `sr` through one of its runners (an admin may act
   * for any runner's lease).
   * @throws LeaseLostError when the stage run is not running or another lease replaced this one;
   * ForbiddenError when the lease is another principal's.
   */
  async checkLease(sr: StageRunRow, epoch: number, caller: RunnerCaller, manager?: EntityManager): Promise<void> {
    if (!ACTIVE_STAGE.includes(sr.status)) throw new LeaseLostError(sr.id, epoch, sr.leaseEpoch, "NOT_RUNNING");
    if (sr.leaseEpoch !== epoch) throw new LeaseLostError(sr.id, epoch, sr.leaseEpoch, "LEASE_LOST");
    if (caller.isAdmin) return;
    const runnerId = runnerIdOf(sr.leaseOwner);
    const runner = runnerId ? await this.get(runnerId, manager) : null;
    if (!runner || runner.principalId !== caller.principalId) {
      throw new ForbiddenError(`Stage run ${sr.id} is leased to a runner of another principal`);
    }
  }

  /** @throws InvalidInputError for a bad stream, too many chunks or a chunk too large. */
  validateLogChunks(chunks: ReadonlyArray<{ stream: string; text: string }>): void {
    const problems: InputProblem[] = [];
    if (chunks.length > MAX_LOG_CHUNKS) problems.push({ field: "chunks", message: `at most ${MAX_LOG_CHUNKS} chunks per call` });
    chunks.forEach((c, i) => {
      if (c.stream !== "stdout" && c.stream !== "stderr")
        problems.push({ field: `chunks[${i}].stream`, message: "must be stdout or stderr" });
      if (Buffer.byteLength(c.text) > MAX_LOG_CHUNK_BYTES) {
        problems.push({ field: `chunks[${i}].text`, message: `at most ${MAX_LOG_CHUNK_BYTES} bytes` });
      }
    });
    if (problems.length) throw new InvalidInputError(problems.slice(0, 20));
  }

  /**
   * Checks an agent's completion and builds the engine's attempt result: SUCCEEDED needs every
   * output as stored by the upload endpoint (present in `store`, its uri the address of its
   * hash), FAILED a failure.
   * @throws InvalidInputError naming each problem
   */
  async attemptResult(
    store: ArtifactStore,
    input: {
      status: "SUCCEEDED" | "FAILED" | "CANCELED";
      failure?: { type: string; message: string; nonRetryable: boolean; details?: Record<string, unknown> | null } | null;
      outputs?: readonly UploadedOutput[] | null;
      usage?: StageUsageInput | null;
    },
  ): Promise<AttemptResult> {
    const usage = input.usage ? { usage: checkedUsage(input.usage) } : {};
    return { ...(await this.attemptEnd(store, input)), ...usage };
  }

  private async attemptEnd(
    store: ArtifactStore,
    input: {
      status: "SUCCEEDED" | "FAILED" | "CANCELED";
      failure?: { type: string; message: string; nonRetryable: boolean; details?: Record<string, unknown> | null } | null;
      outputs?: readonly UploadedOutput[] | null;
    },
  ): Promise<AttemptResult> {
    if (input.status === "CANCELED") return { status: "canceled" };
    if (input.status === "FAILED") {
      const f = input.failure;
      if (!f) throw new InvalidInputError([{ field: "failure", message: "a FAILED completion needs its failure" }]);
      if (!/^[A-Z0-9_]{1,64}$/.test(f.type)) {
        throw new InvalidInputError([{ field: "failure.type", message: "must be a code of 1-64 capital letters, digits and _" }]);
      }
      return {
        status: "failed",
        failure: {
          type: f.type,
          message: f.message.slice(0, 10_000),
          nonRetryable: f.nonRetryable,
          ...(f.details ? { details: f.details } : {}),
        },
      };
    }
    const problems: InputProblem[] = [];
    const outputs: Extract<AttemptResult, { status: "succeeded" }>["outputs"] = {};
    for (const [i, o] of (input.outputs ?? []).entries()) {
      const field = `outputs[${i}]`;
      if (outputs[o.name]) problems.push({ field: `${field}.name`, message: `output ${JSON.stringify(o.name)} is given twice` });
      if (!HASH.test(o.hash)) {
        problems.push({ field: `${field}.hash`, message: "must be sha256:<64 hex>, as the upload answered" });
        continue;
      }
      if (!o.uri.includes(o.hash.slice("sha256:".length))) {
        problems.push({ field: `${field}.uri`, message: "is not the address of that hash; send what the upload answered" });
        continue;
      }
      let stored = false;
      try {
        stored = await store.exists(o.uri);
      } catch {
        stored = false;
      }
      if (!stored) {
        problems.push({ field: `${field}.uri`, message: "is not in the artifact store; upload it first (PUT /artifacts/uploads)" });
        continue;
      }
      const object: StoredObject = { hash: o.hash, uri: o.uri, size: o.size, isDirectory: o.isDirectory };
      outputs[o.name] = { stored: object, metadata: o.metadata ?? {} };
    }
    if (problems.length) throw new InvalidInputError(problems.slice(0, 20));
    return { status: "succeeded", outputs };
  }

  /**
   * Records the end of attempt `epoch` through the engine's fenced `completeAttempt`; returns the
   * stage run's status after it.
   * @throws LeaseLostError when the attempt no longer holds the stage run (nothing was changed)
   */
  async complete(
    tx: Parameters<typeof completeAttempt>[0],
    stageRunId: string,
    epoch: number,
    result: AttemptResult,
    inputIds: Record<string, string>,
  ): Promise<string> {
    // Completions of one run take turns (stage run, then run: the order claims and sweeps lock in),
    // so the last two stages of a run ending at once on two runners cannot both miss that the run is done.
    await tx.manager.query(`SELECT r.id FROM stage_runs sr JOIN runs r ON r.id = sr.run_id WHERE sr.id = $1 FOR UPDATE OF sr, r`, [
      stageRunId,
    ]);
    const done = await completeAttempt(
      { manager: tx.manager, emit: (e) => tx.emit(e), hooks: this.deps.hooks },
      stageRunId,
      epoch,
      result,
      inputIds,
    );
    if (done.accepted) return done.status;
    const [row]: Array<{ lease_epoch: number }> = await tx.manager.query(`SELECT lease_epoch FROM stage_runs WHERE id = $1`, [stageRunId]);
    throw new LeaseLostError(stageRunId, epoch, row?.lease_epoch ?? null, done.reason);
  }

  /**
   * A runner stopping: gives back every stage run it still holds (requeued at once, without
   * charging their retry budget) and marks it STOPPED. Returns how many it held.
   */
  async deregister(
    tx: { manager: EntityManager; emit: Parameters<typeof releaseLeases>[0]["emit"] },
    runner: RunnerAgentRow,
  ): Promise<number> {
    const held: Array<{ id: string }> = await tx.manager.query(
      `SELECT id FROM stage_runs WHERE lease_owner = $1 AND ${stageWrite("retry").guard}`,
      [agentOwner(runner.id)],
    );
    await releaseLeases(
      tx,
      agentOwner(runner.id),
      held.map((h) => h.id),
    );
    const now = new Date();
    await tx.manager.update(RunnerAgentRow, { id: runner.id }, { stoppedAt: now, lastSeenAt: now });
    runner.stoppedAt = now;
    runner.lastSeenAt = now;
    return held.length;
  }
}

/** Resolves when `event` settles, after `ms`, or when a signal aborts, whichever comes first. */
function waitFor(event: Promise<void>, ms: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> {
  return new Promise((resolve) => {
    const live = signals.filter((s): s is AbortSignal => s !== undefined);
    const done = () => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, Math.min(ms, MAX_LEASE_WAIT_MS)));
    for (const s of live) {
      if (s.aborted) return done();
      s.addEventListener("abort", done, { once: true });
    }
    void event.then(done, done);
  });
}

/** What an agent may report as an attempt's usage (runners/contract.ts `StageUsage`). */
export interface StageUsageInput {
  cpuSeconds: number;
  wallSeconds: number;
  peakMemoryBytes?: number | null;
  bytesRead?: number | null;
  bytesWritten?: number | null;
  method: string;
}

const USAGE_METHODS: ReadonlySet<StageUsage["method"]> = new Set(["process-tree", "process", "worker-thread"]);

/**
 * An agent's usage report as the engine records it.
 * @throws InvalidInputError naming each figure that is not a finite number of 0 or more, or an unknown method
 */
function checkedUsage(input: StageUsageInput): StageUsage {
  const problems: InputProblem[] = [];
  const figure = (field: keyof StageUsageInput, value: number | null | undefined) => {
    if (value === null || value === undefined) return undefined;
    if (!(Number.isFinite(value) && value >= 0))
      problems.push({ field: `usage.${field}`, message: "must be a finite number of 0 or more" });
    return value;
  };
  const usage: StageUsage = {
    cpuSeconds: figure("cpuSeconds", input.cpuSeconds) ?? 0,
    wallSeconds: figure("wallSeconds", input.wallSeconds) ?? 0,
    method: input.method as StageUsage["method"],
  };
  const memory = figure("peakMemoryBytes", input.peakMemoryBytes);
  const read = figure("bytesRead", input.bytesRead);
  const written = figure("bytesWritten", input.bytesWritten);
  if (memory !== undefined) usage.peakMemoryBytes = memory;
  if (read !== undefined) usage.bytesRead = read;
  if (written !== undefined) usage.bytesWritten = written;
  if (!USAGE_METHODS.has(usage.method)) {
    problems.push({ field: "usage.method", message: `must be one of ${[...USAGE_METHODS].join(", ")}` });
  }
  if (problems.length) throw new InvalidInputError(problems);
  return usage;
}
