import type { Logger } from "pino";
import { SluiceError } from "../kernel/errors";
import { runSystemChange, type SystemTx } from "../events/system-change";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import {
  type PreparedModel,
  type RegistryService,
  RegisteredModelRow,
  ModelVersionRow,
  RegistryEvents,
  modelVersionIdOfFile,
} from "../registry";
import {
  type GateEnd,
  RunEvents,
  gateAwaitingSettlement,
  isAwaitingGate,
  isGateStage,
  planForVersion,
  resolveInputArtifacts,
  runRef,
  settleGateStage,
  StageRunRow,
} from "../runs";
import { ApprovalRequestRow, GateWaitRow } from "./approval-request.entity";
import { GovernanceEvents, type GovernanceService } from "./governance.service";

/** Failure types of a gate stage; none is retried. */
export const GateFailures = {
  rejected: "GATE_REJECTED",
  expired: "GATE_EXPIRED",
  registration: "GATE_REGISTRATION_FAILED",
} as const;

interface GateParams {
  model: string;
  description?: string;
  tags?: Record<string, string>;
  /** An alias to move to the version once it is approved (e.g. `champion`). */
  promote?: string;
}

/** What a waiting gate needs before its transaction: the model file checked, when not yet registered. */
type Preparation = { kind: "none" } | { kind: "prepared"; prepared: PreparedModel } | { kind: "failed"; message: string };

/**
 * Settles pipeline `gate` stages. A gate becomes WAITING when its upstream is done (the run
 * engine does that, see `queueStages`); here its `model` input is registered as a version of the
 * registered model it names (unless a version with the same file already exists), which runs the
 * model's policy, and the gate is tied to that version's approval request. When the request is
 * decided the gate SUCCEEDS (approved) or FAILS (`GATE_REJECTED`, `GATE_EXPIRED`) and the run
 * goes on. Events wake it (a gate waiting, a decision, an expiry, a cancellation); a periodic
 * sweep expires overdue requests and catches anything an event missed, e.g. across a restart.
 * Every step is idempotent and guarded by the stage run's row lock, so servers may race.
 */
/** What settling gates uses of the server. */
export interface GateKeeperDeps {
  db: Database;
  events: EventBus;
  governance: GovernanceService;
  registry: RegistryService;
}

export class GateKeeper {
  private active = false;
  private timer: NodeJS.Timeout | undefined;
  private subscription: AsyncIterableIterator<unknown> | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: GateKeeperDeps,
    private readonly log: Logger,
    private readonly sweepMs: number,
  ) {}

  start(): void {
    this.active = true;
    const subscription = this.deps.events.subscribe({
      types: [RunEvents.stageWaiting, RunEvents.cancelRequested, GovernanceEvents.decided, GovernanceEvents.expired],
    });
    this.subscription = subscription;
    void this.follow(subscription);
    this.timer = setInterval(() => void this.enqueue(() => this.sweep()), this.sweepMs);
    this.timer.unref();
    void this.enqueue(() => this.sweep());
  }

  async close(): Promise<void> {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.return?.();
    await this.queue;
  }

  private async follow(subscription: AsyncIterableIterator<{ type: string; subjectId: string | null; payload: Record<string, unknown> }>) {
    try {
      for await (const event of subscription) {
        if (event.type === RunEvents.stageWaiting) {
          const id = String(event.payload.stageRunId);
          void this.enqueue(() => this.settle(id));
        } else if (event.type === RunEvents.cancelRequested && event.subjectId) {
          const runId = event.subjectId;
          void this.enqueue(async () => {
            const rows: Array<{ id: string }> = await this.deps.db.dataSource.query(
              `SELECT id FROM stage_runs WHERE run_id = $1 AND ${gateAwaitingSettlement()}`,
              [runId],
            );
            for (const r of rows) await this.settle(r.id);
          });
        } else if (event.subjectId) {
          const requestId = event.subjectId;
          void this.enqueue(async () => {
            const rows: Array<{ stage_run_id: string }> = await this.deps.db.dataSource.query(
              `SELECT stage_run_id FROM gate_waits WHERE request_id = $1`,
              [requestId],
            );
            for (const r of rows) await this.settle(r.stage_run_id);
          });
        }
      }
    } catch (err) {
      if (this.active) this.log.warn({ err }, "gate events stopped arriving; the periodic sweep still settles gates");
    }
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => (this.active ? op() : undefined)).catch((err) => this.log.error({ err }, "approval gates"));
    this.queue = next;
    return next;
  }

  /** Expires overdue requests, then settles every gate that has something to act on. */
  async sweep(now = new Date()): Promise<void> {
    await this.deps.governance.expireOverdue(now);
    const rows: Array<{ id: string }> = await this.deps.db.dataSource.query(
      `SELECT sr.id FROM stage_runs sr JOIN runs r ON r.id = sr.run_id
         LEFT JOIN gate_waits g ON g.stage_run_id = sr.id LEFT JOIN approval_requests q ON q.id = g.request_id
        WHERE ${gateAwaitingSettlement("sr")}
          AND (g.stage_run_id IS NULL OR q.status <> 'OPEN' OR r.cancel_requested_at IS NOT NULL OR sr.cancel_requested)
        LIMIT 200`,
    );
    for (const r of rows) await this.settle(r.id);
  }

  /** Moves one gate on as far as it can go now. */
  async settle(stageRunId: string): Promise<void> {
    const preparation = await this.prepare(stageRunId);
    await runSystemChange(this.deps, (tx) => this.settleIn(tx, stageRunId, preparation));
  }

  /**
   * Outside any transaction (PGlite has one session, and reading and checking an ONNX file is
   * slow): when the gate has no request yet and its model file is not registered, load and
   * check the file the way `createModelVersion` does.
   */
  private async prepare(stageRunId: string): Promise<Preparation> {
    const manager = this.deps.db.dataSource.manager;
    const sr = await manager.findOneBy(StageRunRow, { id: stageRunId });
    if (!sr || !isAwaitingGate(sr) || (await manager.existsBy(GateWaitRow, { stageRunId }))) return { kind: "none" };
    const run = await runRef(manager, sr.runId);
    const plan = await planForVersion(manager, run.pipelineVersionId);
    const stage = plan.stages.get(sr.stageName);
    if (!stage || !isGateStage(stage.spec)) return { kind: "none" };
    const artifact = (await resolveInputArtifacts(manager, plan, run.id, sr.stageName)).model;
    if (!artifact) return { kind: "failed", message: "the gate's model input was not produced" };
    const params = sr.params as unknown as GateParams;
    const model = await manager.findOneBy(RegisteredModelRow, { projectId: run.projectId, name: params.model });
    if (model && (await this.versionOfFile(manager, model.id, artifact.id))) return { kind: "none" };
    try {
      return { kind: "prepared", prepared: await this.deps.registry.prepareFromArtifact(run.projectId, artifact.id) };
    } catch (err) {
      if (err instanceof SluiceError) return { kind: "failed", message: err.message };
      throw err;
    }
  }

  /** The version of `modelId` holding this file, if it is registered there. */
  private async versionOfFile(manager: SystemTx["manager"], modelId: string, artifactId: string): Promise<ModelVersionRow | null> {
    const id = await modelVersionIdOfFile(manager, artifactId, modelId);
    return id ? manager.findOneBy(ModelVersionRow, { id }) : null;
  }

  private async settleIn(tx: SystemTx, stageRunId: string, preparation: Preparation): Promise<void> {
    const sr = await tx.manager.findOne(StageRunRow, { where: { id: stageRunId }, lock: { mode: "pessimistic_write" } });
    if (!sr || !isAwaitingGate(sr)) return;
    const run = await runRef(tx.manager, sr.runId);
    const plan = await planForVersion(tx.manager, run.pipelineVersionId);
    const stage = plan.stages.get(sr.stageName);
    if (!stage || !isGateStage(stage.spec)) return;
    // The run engine writes the gate's status and moves the run on; on approval, the model is
    // passed on and the alias moved first, in the gate's transaction: the run never shows the
    // gate passed without them.
    const passed = async (approved: { request: ApprovalRequestRow; version: ModelVersionRow }): Promise<void> => {
      if (stage.spec.outputs?.model) await this.passModelOn(tx, sr, run, approved);
      const promote = (sr.params as unknown as GateParams).promote;
      if (promote) await this.deps.registry.setAlias(tx, approved.version.registeredModelId, promote, approved.version.version);
    };
    const end = (gateEnd: GateEnd, approved?: { request: ApprovalRequestRow; version: ModelVersionRow }): Promise<void> =>
      settleGateStage(tx, sr.id, gateEnd, approved && (() => passed(approved)));

    const [{ canceled }] = await tx.manager.query(`SELECT cancel_requested_at IS NOT NULL AS canceled FROM runs WHERE id = $1`, [run.id]);
    if (canceled || sr.cancelRequested) return end({ status: "CANCELED" });

    let wait = await tx.manager.findOneBy(GateWaitRow, { stageRunId: sr.id });
    if (!wait) {
      if (preparation.kind === "failed") {
        return end({ status: "FAILED", failure: { type: GateFailures.registration, message: preparation.message, nonRetryable: true } });
      }
      const version = await this.registerIn(tx, sr, run, preparation);
      const request = version && (await tx.manager.findOneBy(ApprovalRequestRow, { modelVersionId: version.id }));
      if (!request) return; // prepared for another state of things (a race): the next event or sweep retries
      wait = await tx.manager.save(tx.manager.create(GateWaitRow, { stageRunId: sr.id, requestId: request.id }));
    }
    const request = await tx.manager.findOneByOrFail(ApprovalRequestRow, { id: wait.requestId });
    const version = await tx.manager.findOneByOrFail(ModelVersionRow, { id: request.modelVersionId });
    const what = `version ${version.version} of ${String((sr.params as unknown as GateParams).model)}`;
    switch (request.status) {
      case "OPEN":
        return;
      case "APPROVED":
        return end({ status: "SUCCEEDED" }, { request, version });
      case "REJECTED":
        return end({
          status: "FAILED",
          failure: {
            type: GateFailures.rejected,
            message: `${what} was rejected: ${request.reason}`,
            nonRetryable: true,
            details: { approvalRequestId: request.id, modelVersionId: version.id },
          },
        });
      case "EXPIRED":
        return end({
          status: "FAILED",
          failure: {
            type: GateFailures.expired,
            message: `the approval request for ${what} expired: ${request.reason}`,
            nonRetryable: true,
            details: { approvalRequestId: request.id, modelVersionId: version.id },
          },
        });
    }
  }

  /**
   * The gate's `model` output: the approved file again (the store is content-addressed, so no
   * copy), recorded as this stage's output with the version it became, for stages below to use.
   */
  private async passModelOn(
    tx: SystemTx,
    sr: StageRunRow,
    run: Awaited<ReturnType<typeof runRef>>,
    approved: { request: ApprovalRequestRow; version: ModelVersionRow },
  ): Promise<void> {
    const metadata = {
      modelVersionId: approved.version.id,
      version: approved.version.version,
      registeredModelId: approved.version.registeredModelId,
      approvalRequestId: approved.request.id,
      metrics: approved.version.metrics,
    };
    await tx.manager.query(
      `INSERT INTO artifacts (project_id, kind, uri, hash, size, is_directory, metadata, produced_by, run_id, output_name)
       SELECT project_id, 'Model', uri, hash, size, is_directory, $2::jsonb, $3, $4, 'model' FROM artifacts WHERE id = $1`,
      [approved.version.artifactId, JSON.stringify(metadata), sr.id, run.id],
    );
  }

  /**
   * The version the gate waits on: an existing one with the same file, else a new one registered
   * from the prepared file (creating the registered model when the project has none of that
   * name), as whoever triggered the run. Null when the preparation no longer fits.
   */
  private async registerIn(
    tx: SystemTx,
    sr: StageRunRow,
    run: Awaited<ReturnType<typeof runRef>>,
    preparation: Preparation,
  ): Promise<ModelVersionRow | null> {
    const params = sr.params as unknown as GateParams;
    const plan = await planForVersion(tx.manager, run.pipelineVersionId);
    const artifact = (await resolveInputArtifacts(tx.manager, plan, run.id, sr.stageName)).model;
    if (!artifact) return null;
    const [{ created_by: triggeredBy }] = await tx.manager.query(`SELECT created_by FROM runs WHERE id = $1`, [run.id]);
    let model = await tx.manager.findOneBy(RegisteredModelRow, { projectId: run.projectId, name: params.model });
    if (model) {
      const existing = await this.versionOfFile(tx.manager, model.id, artifact.id);
      if (existing) return existing;
    }
    if (preparation.kind !== "prepared") return null;
    if (!model) {
      // Registered on first use, as MLflow's `registered_model_name` does; the default policy applies.
      await tx.manager.query(
        `INSERT INTO registered_models (project_id, name, created_by) VALUES ($1, $2, $3) ON CONFLICT (project_id, name) DO NOTHING`,
        [run.projectId, params.model, triggeredBy],
      );
      model = await tx.manager.findOneByOrFail(RegisteredModelRow, { projectId: run.projectId, name: params.model });
      tx.emit({
        type: RegistryEvents.modelCreated,
        projectId: run.projectId,
        subjectId: model.id,
        payload: { registeredModelId: model.id, name: model.name, byRunId: run.id },
      });
    }
    return this.deps.registry.createVersion(tx, model.id, preparation.prepared, {
      description: params.description ?? null,
      tags: params.tags ?? null,
      createdBy: triggeredBy ?? null,
    });
  }
}

/** Starts settling gates in this server process. */
export function startGateKeeper(services: GateKeeperDeps, log: Logger, sweepMs: number): GateKeeper {
  const keeper = new GateKeeper(services, log.child({ component: "gates" }), sweepMs);
  keeper.start();
  return keeper;
}
