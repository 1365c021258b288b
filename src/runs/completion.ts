import type { EntityManager } from "typeorm";
import type { StageFailure } from "../../runners/contract";
import { ArtifactRow } from "../artifacts/artifact.entity";
import type { StoredObject } from "../artifacts/store";
import type { EventDraft } from "../events/event.store";
import type { PipelineVersionRow } from "../pipelines/pipeline-version.entity";
import { planFor } from "./plan";
import { settleRun, skipBelow, stageSucceeded } from "./progress";
import { RunEvents } from "./run-events";
import { retryDelayMs } from "./run-state";
import { RunRow } from "./run.entity";
import { StageAttemptRow } from "./stage-attempt.entity";
import { StageRunRow } from "./stage-run.entity";

type Tx = { manager: EntityManager; emit(e: EventDraft): void };

/** How one attempt ended, as its runner reported it, with its outputs already stored. */
export type AttemptResult =
  | { status: "succeeded"; outputs: Record<string, { stored: StoredObject; metadata: Record<string, unknown> }> }
  | { status: "failed"; failure: StageFailure }
  | { status: "canceled" };

/** What happened to a completion. */
export type CompletionOutcome =
  | { accepted: true; status: StageRunRow["status"] }
  /** The attempt no longer holds the stage run: its lease expired or was taken over. */
  | { accepted: false; reason: "LEASE_LOST" | "NOT_RUNNING" };

/**
 * Records the end of attempt `epoch` of a stage run, fenced: only the holder of the current
 * lease may complete it, so a runner that lost its lease (and was replaced) is refused.
 * Success records the outputs as artifacts and the inputs as lineage, and queues what became
 * ready; a failure retries while the policy allows, else fails the stage and skips what is
 * below it; the run's status is then settled.
 */
export async function completeAttempt(
  tx: Tx,
  stageRunId: string,
  epoch: number,
  result: AttemptResult,
  inputs: Record<string, string>,
): Promise<CompletionOutcome> {
  const sr = await tx.manager.findOne(StageRunRow, { where: { id: stageRunId }, lock: { mode: "pessimistic_write" } });
  if (!sr || (sr.status !== "RUNNING" && sr.status !== "WAITING")) return { accepted: false, reason: "NOT_RUNNING" };
  if (sr.leaseEpoch !== epoch) return { accepted: false, reason: "LEASE_LOST" };
  const run = await tx.manager.findOneByOrFail(RunRow, { id: sr.runId });
  const version = (await tx.manager.findOneByOrFail("PipelineVersionRow", { id: run.pipelineVersionId })) as PipelineVersionRow;
  const plan = planFor(version);
  const stage = plan.stages.get(sr.stageName)!;
  const now = new Date();

  if (Object.keys(inputs).length > 0) {
    await tx.manager.query(
      `INSERT INTO stage_run_inputs (stage_run_id, input_name, artifact_id)
       SELECT $1, * FROM unnest($2::text[], $3::uuid[]) ON CONFLICT DO NOTHING`,
      [sr.id, Object.keys(inputs), Object.values(inputs)],
    );
  }

  let outcome = result;
  if (outcome.status === "succeeded") {
    const missing = Object.keys(stage.spec.outputs ?? {}).filter(
      (name) => !(outcome as { outputs: Record<string, unknown> }).outputs[name],
    );
    if (missing.length > 0) {
      outcome = {
        status: "failed",
        failure: { type: "MISSING_OUTPUT", message: `Outputs not produced: ${missing.join(", ")}`, nonRetryable: true },
      };
    }
  }
  const base = { runId: run.id, pipelineId: run.pipelineId, stageRunId: sr.id, stage: sr.stageName, attempt: sr.attempt };

  if (outcome.status === "succeeded") {
    const outputs: Record<string, string> = {};
    for (const [name, out] of Object.entries(outcome.outputs)) {
      const declared = stage.spec.outputs?.[name];
      if (!declared) continue;
      const artifact = await tx.manager.save(
        tx.manager.create(ArtifactRow, {
          projectId: run.projectId,
          kind: declared.kind,
          uri: out.stored.uri,
          hash: out.stored.hash,
          size: String(out.stored.size),
          isDirectory: out.stored.isDirectory,
          metadata: out.metadata,
          producedBy: sr.id,
          runId: run.id,
          outputName: name,
        }),
      );
      outputs[name] = artifact.id;
    }
    await tx.manager.update(StageRunRow, { id: sr.id }, { status: "SUCCEEDED", finishedAt: now, failure: null, leaseExpiresAt: null });
    await finishAttempt(tx.manager, sr, "SUCCEEDED", null, now);
    tx.emit({ type: RunEvents.stageSucceeded, projectId: run.projectId, subjectId: run.id, payload: { ...base, outputs } });
    await stageSucceeded(tx, plan, run, sr.stageName);
    await settleRun(tx, run.id);
    return { accepted: true, status: "SUCCEEDED" };
  }

  if (outcome.status === "canceled") {
    await tx.manager.update(StageRunRow, { id: sr.id }, { status: "CANCELED", finishedAt: now, leaseExpiresAt: null });
    await finishAttempt(tx.manager, sr, "CANCELED", null, now);
    tx.emit({ type: RunEvents.stageCanceled, projectId: run.projectId, subjectId: run.id, payload: base });
    await skipBelow(tx, plan, run, sr.stageName);
    await settleRun(tx, run.id);
    return { accepted: true, status: "CANCELED" };
  }

  const failure = outcome.failure;
  await finishAttempt(tx.manager, sr, "FAILED", failure, now);
  const retries = stage.spec.retries ?? { max: 0 };
  if (!failure.nonRetryable && sr.attempt < sr.maxAttempts && !sr.cancelRequested && !run.cancelRequestedAt) {
    const delay = retryDelayMs(
      { initialDelayMs: retries.initialDelayMs ?? 1000, factor: retries.factor ?? 2, maxDelayMs: retries.maxDelayMs ?? 60_000 },
      sr.attempt + 1,
    );
    const notBefore = new Date(now.getTime() + delay);
    await tx.manager.update(
      StageRunRow,
      { id: sr.id },
      { status: "QUEUED", notBefore, queuedAt: now, failure: failure as never, leaseExpiresAt: null },
    );
    tx.emit({
      type: RunEvents.stageRetrying,
      projectId: run.projectId,
      subjectId: run.id,
      payload: { ...base, failure, nextAttempt: sr.attempt + 1, notBefore: notBefore.toISOString() },
    });
    return { accepted: true, status: "QUEUED" };
  }
  await tx.manager.update(
    StageRunRow,
    { id: sr.id },
    { status: "FAILED", finishedAt: now, failure: failure as never, leaseExpiresAt: null },
  );
  tx.emit({ type: RunEvents.stageFailed, projectId: run.projectId, subjectId: run.id, payload: { ...base, failure } });
  await skipBelow(tx, plan, run, sr.stageName);
  await settleRun(tx, run.id);
  return { accepted: true, status: "FAILED" };
}

async function finishAttempt(
  manager: EntityManager,
  sr: StageRunRow,
  outcome: string,
  failure: StageFailure | null,
  at: Date,
): Promise<void> {
  await manager.update(StageAttemptRow, { stageRunId: sr.id, attempt: sr.attempt }, { outcome, failure: failure as never, finishedAt: at });
}

/** Lost leases one stage run may have before it is failed rather than requeued again. */
export const MAX_LOST_LEASES = 3;

/**
 * Gives stage runs back to the queue without charging their retry budget: the runner that held
 * them died, lost the server, or is shutting down — an infrastructure failure, not the stage's.
 * The attempt is recorded with `outcome` (LOST or INTERRUPTED) and the lease epoch moves on, so
 * a late completion from the old holder is refused. A stage that has lost `MAX_LOST_LEASES`
 * leases (it may be what kills its runners) fails with LEASE_EXPIRED instead.
 */
async function requeueLost(tx: Tx, ids: readonly string[], outcome: "LOST" | "INTERRUPTED"): Promise<void> {
  for (const id of ids) {
    const sr = await tx.manager.findOne(StageRunRow, { where: { id }, lock: { mode: "pessimistic_write" } });
    if (!sr || sr.status !== "RUNNING") continue;
    const failure: StageFailure = {
      type: "LEASE_EXPIRED",
      message:
        outcome === "LOST"
          ? "The runner stopped renewing its lease (it died or lost the server)"
          : "The runner shut down during the attempt",
      nonRetryable: false,
    };
    await finishAttempt(tx.manager, sr, outcome, failure, new Date());
    const [{ lost }] = await tx.manager.query(
      `SELECT count(*)::int AS lost FROM stage_attempts WHERE stage_run_id = $1 AND outcome = 'LOST'`,
      [id],
    );
    const run = await tx.manager.findOneByOrFail(RunRow, { id: sr.runId });
    const base = { runId: run.id, pipelineId: run.pipelineId, stageRunId: sr.id, stage: sr.stageName, attempt: sr.attempt };
    if (lost >= MAX_LOST_LEASES || run.cancelRequestedAt || sr.cancelRequested) {
      // Canceled meanwhile, or too many lost leases: end it.
      const canceled = Boolean(run.cancelRequestedAt || sr.cancelRequested);
      await tx.manager.update(
        StageRunRow,
        { id },
        {
          status: canceled ? "CANCELED" : "FAILED",
          finishedAt: new Date(),
          failure: canceled ? null : (failure as never),
          leaseEpoch: sr.leaseEpoch + 1,
        },
      );
      tx.emit({
        type: canceled ? RunEvents.stageCanceled : RunEvents.stageFailed,
        projectId: run.projectId,
        subjectId: run.id,
        payload: { ...base, failure },
      });
      const version = (await tx.manager.findOneByOrFail("PipelineVersionRow", { id: run.pipelineVersionId })) as PipelineVersionRow;
      await skipBelow(tx, planFor(version), run, sr.stageName);
      await settleRun(tx, run.id);
      continue;
    }
    await tx.manager.update(
      StageRunRow,
      { id },
      {
        status: "QUEUED",
        queuedAt: new Date(),
        notBefore: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        leaseEpoch: sr.leaseEpoch + 1,
        maxAttempts: sr.maxAttempts + 1,
      },
    );
    tx.emit({
      type: RunEvents.stageRetrying,
      projectId: run.projectId,
      subjectId: run.id,
      payload: { ...base, failure, nextAttempt: sr.attempt + 1 },
    });
  }
}

/**
 * Takes back stage runs whose lease expired (their runner died or lost the network). Picks rows
 * `SKIP LOCKED`, so every server may sweep at once.
 */
export async function reclaimExpiredLeases(tx: Tx, limit = 100): Promise<number> {
  const expired: Array<{ id: string }> = await tx.manager.query(
    `SELECT id FROM stage_runs WHERE status = 'RUNNING' AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  await requeueLost(
    tx,
    expired.map((r) => r.id),
    "LOST",
  );
  return expired.length;
}

/** A runner shutting down gives back the stage runs it holds, to run elsewhere at once. */
export async function releaseLeases(tx: Tx, owner: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const held: Array<{ id: string }> = await tx.manager.query(
    `SELECT id FROM stage_runs WHERE id = ANY($1) AND lease_owner = $2 AND status = 'RUNNING'`,
    [ids, owner],
  );
  await requeueLost(
    tx,
    held.map((r) => r.id),
    "INTERRUPTED",
  );
}
