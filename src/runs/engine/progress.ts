import type { EntityManager } from "typeorm";
import { returnedRows } from "../../kernel/sql-text";
import type { EventDraft } from "../../events/event.store";
import { cacheKeyOf } from "./cache-key";
import { resolveInputArtifacts } from "./inputs";
import { type RunPlan, isGateStage } from "./plan";
import { RunEvents } from "./run-events";
import {
  type RunTransitionEvent,
  type RunStatus,
  type StageStatus,
  UNFINISHED_STAGE,
  deriveRunStatus,
  runWrite,
  stageWrite,
  statusIn,
  transitionRun,
} from "./run-state";
import type { RunRef } from "./run-meta";
import { RunRow } from "../run.entity";
import { StageRunRow } from "../stage-run.entity";

/**
 * DAG progression inside one transaction: queue stages whose upstream is done (reusing cached
 * outputs where the stage allows), skip what lies below a failure, and settle the run's status.
 * Every function takes the transaction's manager and an `emit` for the events it causes.
 */
export interface ProgressTx {
  manager: EntityManager;
  emit(event: EventDraft): void;
}

function stageEvent(
  run: Pick<RunRef, "id" | "projectId" | "pipelineId">,
  type: string,
  sr: Pick<StageRunRow, "id" | "stageName" | "attempt">,
  extra: Record<string, unknown> = {},
): EventDraft {
  return {
    type,
    projectId: run.projectId,
    subjectId: run.id,
    payload: { runId: run.id, pipelineId: run.pipelineId, stageRunId: sr.id, stage: sr.stageName, attempt: sr.attempt, ...extra },
  };
}

/** Content hashes of a stage's inputs, by input name (for its cache key). */
async function inputHashes(tx: ProgressTx, plan: RunPlan, runId: string, stageName: string): Promise<Record<string, string>> {
  const artifacts = await resolveInputArtifacts(tx.manager, plan, runId, stageName);
  return Object.fromEntries(
    Object.keys(plan.stages.get(stageName)!.spec.inputs ?? {}).map((name) => [name, artifacts[name]?.hash ?? "missing"]),
  );
}

/**
 * Moves `names` (stage runs of `run` that are ready) to QUEUED in one statement, or, when a
 * stage caches and an earlier success has the same key, straight to SUCCEEDED reusing its
 * outputs (and then progresses below it in turn). Returns whether any stage was reused.
 */
export async function queueStages(tx: ProgressTx, plan: RunPlan, run: RunRef, names: readonly string[]): Promise<boolean> {
  let ready = [...names];
  let reusedAny = false;
  while (ready.length > 0) {
    const cached: Array<{ name: string; key: string; from: string }> = [];
    const toQueue: Array<{ name: string; key: string | null }> = [];
    const gates: string[] = [];
    for (const name of ready) {
      const stage = plan.stages.get(name)!;
      if (isGateStage(stage.spec)) {
        gates.push(name);
        continue;
      }
      if (!stage.spec.cache?.enabled) {
        toQueue.push({ name, key: null });
        continue;
      }
      const sr = await tx.manager.findOneByOrFail(StageRunRow, { runId: run.id, stageName: name });
      const key = cacheKeyOf(stage.spec, sr.params, await inputHashes(tx, plan, run.id, name));
      const hit: Array<{ id: string; reused_from: string | null }> = await tx.manager.query(
        `SELECT sr.id, sr.reused_from FROM stage_runs sr JOIN runs r ON r.id = sr.run_id
          WHERE sr.cache_key = $1 AND ${statusIn(["SUCCEEDED"], "sr")} AND r.project_id = $2 AND sr.run_id <> $3
          ORDER BY sr.finished_at DESC LIMIT 1`,
        [key, run.projectId, run.id],
      );
      if (hit[0]) cached.push({ name, key, from: hit[0].reused_from ?? hit[0].id });
      else toQueue.push({ name, key });
    }
    const now = new Date();
    if (toQueue.length > 0) {
      const queue = stageWrite("upstream-succeeded", "sr");
      const rows = returnedRows<StageRunRow>(
        await tx.manager.query(
          `UPDATE stage_runs sr SET ${queue.set}, queued_at = $3, not_before = NULL, cache_key = q.key
             FROM unnest($2::text[], $4::text[]) AS q(name, key)
            WHERE sr.run_id = $1 AND sr.stage_name = q.name AND ${queue.guard}
            RETURNING sr.id, sr.stage_name AS "stageName", sr.attempt`,
          [run.id, toQueue.map((q) => q.name), now, toQueue.map((q) => q.key)],
        ),
      );
      for (const sr of rows) tx.emit(stageEvent(run, RunEvents.stageQueued, sr));
    }
    if (gates.length > 0) {
      // Gates wait on people, not runners: governance settles them (see governance/gates.ts).
      const wait = stageWrite("wait");
      const rows = returnedRows<StageRunRow>(
        await tx.manager.query(
          `UPDATE stage_runs SET ${wait.set}, queued_at = $3, started_at = $3, not_before = NULL
            WHERE run_id = $1 AND stage_name = ANY($2::text[]) AND ${wait.guard}
            RETURNING id, stage_name AS "stageName", attempt`,
          [run.id, gates, now],
        ),
      );
      for (const sr of rows) tx.emit(stageEvent(run, RunEvents.stageWaiting, sr));
    }
    const next: string[] = [];
    const reuse = stageWrite("reused");
    for (const c of cached) {
      const rows = returnedRows<StageRunRow>(
        await tx.manager.query(
          `UPDATE stage_runs SET ${reuse.set}, cache_key = $3, reused_from = $4, reuse_reason = 'CACHE', started_at = $5, finished_at = $5
            WHERE run_id = $1 AND stage_name = $2 AND ${reuse.guard} RETURNING id, stage_name AS "stageName", attempt`,
          [run.id, c.name, c.key, c.from, now],
        ),
      );
      for (const sr of rows) tx.emit(stageEvent(run, RunEvents.stageReused, sr, { reason: "CACHE", reusedFrom: c.from }));
      reusedAny ||= rows.length > 0;
      next.push(...(await releaseDownstream(tx, plan, run, c.name)));
    }
    ready = next;
  }
  return reusedAny;
}

/**
 * One upstream of each of `name`'s downstream stages has succeeded: counts it, and returns the
 * stages that now have every upstream done.
 */
async function releaseDownstream(tx: ProgressTx, plan: RunPlan, run: RunRef, name: string): Promise<string[]> {
  const downstream = plan.stages.get(name)!.downstream;
  if (downstream.length === 0) return [];
  const rows = returnedRows<{ stage_name: string; remaining_upstream: number }>(
    await tx.manager.query(
      `UPDATE stage_runs SET remaining_upstream = remaining_upstream - 1
        WHERE run_id = $1 AND stage_name = ANY($2) AND ${statusIn(["PENDING"])}
        RETURNING stage_name, remaining_upstream`,
      [run.id, downstream],
    ),
  );
  return rows.filter((r) => r.remaining_upstream === 0).map((r) => r.stage_name);
}

/** `name` succeeded in `run`: queues what became ready below it. */
export async function stageSucceeded(tx: ProgressTx, plan: RunPlan, run: RunRef, name: string): Promise<void> {
  await queueStages(tx, plan, run, await releaseDownstream(tx, plan, run, name));
}

/** `name` ended without success: every stage below it that has not started is skipped. */
export async function skipBelow(tx: ProgressTx, plan: RunPlan, run: RunRef, name: string): Promise<void> {
  const below = plan.stages.get(name)!.descendants;
  if (below.length === 0) return;
  const skip = stageWrite("upstream-failed");
  const rows = returnedRows<StageRunRow>(
    await tx.manager.query(
      `UPDATE stage_runs SET ${skip.set}, finished_at = now()
        WHERE run_id = $1 AND stage_name = ANY($2) AND ${skip.guard}
        RETURNING id, stage_name AS "stageName", attempt`,
      [run.id, below],
    ),
  );
  for (const sr of rows) tx.emit(stageEvent(run, RunEvents.stageSkipped, sr, { because: name }));
}

/** The run event that ends a run in each final state. */
const RUN_END: Partial<Record<RunStatus, RunTransitionEvent>> = { SUCCEEDED: "succeeded", FAILED: "failed", CANCELED: "canceled" };

const RUN_EVENT: Partial<Record<RunStatus, string>> = {
  SUCCEEDED: RunEvents.succeeded,
  FAILED: RunEvents.failed,
  CANCELED: RunEvents.canceled,
};

/** A queued run has a stage running: it becomes RUNNING (once; a no-op otherwise). */
export async function markRunStarted(tx: ProgressTx, runId: string): Promise<void> {
  const start = runWrite("started");
  const rows = returnedRows<RunRef>(
    await tx.manager.query(
      `UPDATE runs SET ${start.set}, started_at = COALESCE(started_at, $2) WHERE id = $1 AND ${start.guard}
        RETURNING id, project_id AS "projectId", pipeline_id AS "pipelineId", number`,
      [runId, new Date()],
    ),
  );
  for (const r of rows) {
    tx.emit({
      type: RunEvents.started,
      projectId: r.projectId,
      subjectId: runId,
      payload: { runId, pipelineId: r.pipelineId, number: r.number },
    });
  }
}

/** Ends the run once no stage is left unfinished; cheap (one indexed probe) while some are. */
export async function settleIfFinished(tx: ProgressTx, runId: string): Promise<void> {
  // Lock the run first: two last stages finishing at once in separate transactions would each
  // see the other still running and neither end the run. Waiting for the lock, the second sees
  // the first's committed change. (Lock order everywhere: stage runs, then the run.)
  await tx.manager.query(`SELECT id FROM runs WHERE id = $1 FOR UPDATE`, [runId]);
  const unfinished: unknown[] = await tx.manager.query(
    `SELECT 1 FROM stage_runs WHERE run_id = $1 AND ${statusIn(UNFINISHED_STAGE)} LIMIT 1`,
    [runId],
  );
  if (unfinished.length === 0) await finishRun(tx, runId);
}

/**
 * Brings the run's status in line with its stages after any change: RUNNING once a stage has
 * run, its final status once none is left unfinished.
 */
export async function settleRun(tx: ProgressTx, runId: string): Promise<void> {
  await tx.manager.query(`SELECT id FROM runs WHERE id = $1 FOR UPDATE`, [runId]);
  const unfinished: Array<{ status: StageStatus }> = await tx.manager.query(
    `SELECT status FROM stage_runs WHERE run_id = $1 AND ${statusIn(UNFINISHED_STAGE)} LIMIT 50`,
    [runId],
  );
  if (unfinished.length === 0) return finishRun(tx, runId);
  const ran: unknown[] = await tx.manager.query(
    `SELECT 1 FROM stage_runs WHERE run_id = $1 AND NOT ${statusIn(["PENDING", "QUEUED", "CANCELED"])} LIMIT 1`,
    [runId],
  );
  if (ran.length > 0) await markRunStarted(tx, runId);
}

/** Every stage has finished: the run takes its final status (once; the row lock orders racers). */
async function finishRun(tx: ProgressTx, runId: string): Promise<void> {
  const run = await tx.manager.findOneOrFail(RunRow, { where: { id: runId }, lock: { mode: "pessimistic_write" } });
  const statuses: Array<{ status: StageStatus }> = await tx.manager.query(`SELECT DISTINCT status FROM stage_runs WHERE run_id = $1`, [
    runId,
  ]);
  const next = deriveRunStatus(
    statuses.map((c) => c.status),
    run.cancelRequestedAt !== null,
  );
  if (next === run.status) return;
  const now = new Date();
  const patch: Omit<Partial<RunRow>, "status"> = { finishedAt: now };
  if (!run.startedAt) patch.startedAt = now;
  if (next === "FAILED") {
    const failed = await tx.manager.findOne(StageRunRow, { where: { runId, status: "FAILED" }, order: { finishedAt: "ASC" } });
    if (failed) patch.error = { stage: failed.stageName, stageRunId: failed.id, failure: failed.failure };
  }
  if (!(await transitionRun(tx.manager, RUN_END[next]!, runId, patch))) return;
  const base = { runId, pipelineId: run.pipelineId, number: run.number };
  // A run that finishes in the step it starts in (every stage cached) still reports starting.
  if (patch.startedAt) tx.emit({ type: RunEvents.started, projectId: run.projectId, subjectId: run.id, payload: base });
  const type = RUN_EVENT[next];
  if (type) tx.emit({ type, projectId: run.projectId, subjectId: run.id, payload: { ...base, status: next, error: patch.error ?? null } });
}
