import type { EntityManager } from "typeorm";
import type { StageFailure, StageUsage } from "../../../runners/contract";
import { recordAttemptUsage } from "./attempt-usage";
import type { StoredObject } from "../../artifacts/store";
import type { EventDraft } from "../../events/event.store";
import { type StageHooks, needsOutputHooks, recordOutputsWithHooks, runFailureHook } from "./output-hooks";
import { planForVersion } from "./plan";
import { queueStages, settleIfFinished, settleRun, skipBelow, stageSucceeded } from "./progress";
import { returnedRows } from "../../kernel/sql-text";
import { type RunRef, runRef } from "./run-meta";
import { RunEvents } from "./run-events";
import { ACTIVE_STAGE, retryDelayMs, stageTransition, stageWrite, statusIn, transitionStageRun } from "./run-state";
import { RunRow } from "../run.entity";
import { StageAttemptRow } from "../stage-attempt.entity";
import { StageRunRow } from "../stage-run.entity";

type Tx = { manager: EntityManager; emit(e: EventDraft): void; hooks?: StageHooks };

/** How one attempt ended, as its runner reported it, with its outputs already stored. */
export type AttemptResult = (
  | { status: "succeeded"; outputs: Record<string, { stored: StoredObject; metadata: Record<string, unknown> }> }
  | { status: "failed"; failure: StageFailure }
  | { status: "canceled" }
) & { usage?: StageUsage };

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
  if (!sr || !ACTIVE_STAGE.includes(sr.status)) return { accepted: false, reason: "NOT_RUNNING" };
  if (sr.leaseEpoch !== epoch) return { accepted: false, reason: "LEASE_LOST" };
  const run = await runRef(tx.manager, sr.runId);
  const plan = await planForVersion(tx.manager, run.pipelineVersionId);
  const stage = plan.stages.get(sr.stageName)!;
  const now = new Date();
  if (result.usage) await recordAttemptUsage(tx.manager, [{ stageRunId: sr.id, attempt: sr.attempt, usage: result.usage }]);

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

  if (outcome.status === "succeeded" && needsOutputHooks(outcome.outputs)) {
    // Outputs that become records of another capability (a dataset version, a report) are
    // recorded with their hooks; a refusal turns the success into a failure below.
    const produced = outcome.outputs;
    const [{ triggered_by: triggeredBy }] = await tx.manager.query(`SELECT created_by AS triggered_by FROM runs WHERE id = $1`, [run.id]);
    const hooked = await recordOutputsWithHooks(
      tx,
      () => recordOutputs(tx.manager, run, sr.id, stage.spec.outputs ?? {}, produced),
      (outputName, artifactId, outputs) => ({
        run,
        stageRunId: sr.id,
        stageName: sr.stageName,
        outputName,
        artifactId,
        stored: produced[outputName]!.stored,
        metadata: produced[outputName]!.metadata ?? {},
        inputs,
        outputs,
        triggeredBy,
      }),
    );
    if (hooked.ok) return succeed(hooked.ids);
    outcome = { status: "failed", failure: hooked.failure };
  } else if (outcome.status === "succeeded") {
    return succeed(await recordOutputs(tx.manager, run, sr.id, stage.spec.outputs ?? {}, outcome.outputs));
  }

  async function succeed(outputs: Record<string, string>): Promise<CompletionOutcome> {
    await endStageRun(tx.manager, sr!, "succeeded", now);
    tx.emit({ type: RunEvents.stageSucceeded, projectId: run.projectId, subjectId: run.id, payload: { ...base, outputs } });
    await stageSucceeded(tx, plan, run, sr!.stageName);
    await settleIfFinished(tx, run.id);
    return { accepted: true, status: stageTransition("succeeded").to };
  }

  if (outcome.status === "canceled") {
    await endStageRun(tx.manager, sr, "canceled", now);
    tx.emit({ type: RunEvents.stageCanceled, projectId: run.projectId, subjectId: run.id, payload: base });
    await skipBelow(tx, plan, run, sr.stageName);
    await settleIfFinished(tx, run.id);
    return { accepted: true, status: stageTransition("canceled").to };
  }

  const failure = outcome.failure;
  await finishAttempt(tx.manager, sr, "FAILED", failure, now);
  await runFailureHook(tx, { run, stageRunId: sr.id, stageName: sr.stageName, failure, inputs });
  const retries = stage.spec.retries ?? { max: 0 };
  const [{ canceled }] = await tx.manager.query(`SELECT cancel_requested_at IS NOT NULL AS canceled FROM runs WHERE id = $1`, [run.id]);
  if (!failure.nonRetryable && sr.attempt < sr.maxAttempts && !sr.cancelRequested && !canceled) {
    const delay = retryDelayMs(
      { initialDelayMs: retries.initialDelayMs ?? 1000, factor: retries.factor ?? 2, maxDelayMs: retries.maxDelayMs ?? 60_000 },
      sr.attempt + 1,
    );
    const notBefore = new Date(now.getTime() + delay);
    await transitionStageRun(tx.manager, "retry", sr.id, { notBefore, queuedAt: now, failure, leaseExpiresAt: null });
    tx.emit({
      type: RunEvents.stageRetrying,
      projectId: run.projectId,
      subjectId: run.id,
      payload: { ...base, failure, nextAttempt: sr.attempt + 1, notBefore: notBefore.toISOString() },
    });
    return { accepted: true, status: stageTransition("retry").to };
  }
  await transitionStageRun(tx.manager, "failed", sr.id, { finishedAt: now, failure, leaseExpiresAt: null });
  tx.emit({ type: RunEvents.stageFailed, projectId: run.projectId, subjectId: run.id, payload: { ...base, failure } });
  await skipBelow(tx, plan, run, sr.stageName);
  await settleIfFinished(tx, run.id);
  return { accepted: true, status: stageTransition("failed").to };
}

/** Inserts the declared outputs as artifacts in one statement; returns their ids by output name. */
async function recordOutputs(
  manager: EntityManager,
  run: RunRef,
  stageRunId: string,
  declared: Record<string, { kind: string }>,
  produced: Extract<AttemptResult, { status: "succeeded" }>["outputs"],
): Promise<Record<string, string>> {
  const names = Object.keys(produced).filter((n) => declared[n]);
  if (names.length === 0) return {};
  const rows: Array<{ id: string; output_name: string }> = await manager.query(
    `INSERT INTO artifacts (project_id, kind, uri, hash, size, is_directory, metadata, produced_by, run_id, output_name)
     SELECT $1, k, u, h, s, d, m, $2, $3, n FROM unnest($4::text[], $5::text[], $6::text[], $7::int8[], $8::bool[], $9::jsonb[], $10::text[])
       AS o(k, u, h, s, d, m, n)
     RETURNING id, output_name`,
    [
      run.projectId,
      stageRunId,
      run.id,
      names.map((n) => declared[n]!.kind),
      names.map((n) => produced[n]!.stored.uri),
      names.map((n) => produced[n]!.stored.hash),
      names.map((n) => produced[n]!.stored.size),
      names.map((n) => produced[n]!.stored.isDirectory),
      names.map((n) => JSON.stringify(produced[n]!.metadata ?? {})),
      names,
    ],
  );
  return Object.fromEntries(rows.map((r) => [r.output_name, r.id]));
}

/** Ends a stage run and its current attempt with `event`'s state, in one statement. */
async function endStageRun(manager: EntityManager, sr: StageRunRow, event: "succeeded" | "canceled", at: Date): Promise<void> {
  const end = stageWrite(event);
  await manager.query(
    `WITH s AS (
       UPDATE stage_runs SET ${end.set}, finished_at = $3, failure = NULL, lease_expires_at = NULL WHERE id = $1 AND ${end.guard} RETURNING id, attempt)
     UPDATE stage_attempts a SET outcome = $2, finished_at = $3 FROM s WHERE a.stage_run_id = s.id AND a.attempt = s.attempt`,
    [sr.id, stageTransition(event).to, at],
  );
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
    if (!sr || !stageTransition("retry").from.includes(sr.status)) continue;
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
      await transitionStageRun(tx.manager, canceled ? "canceled" : "failed", id, {
        finishedAt: new Date(),
        failure: canceled ? null : failure,
        leaseEpoch: sr.leaseEpoch + 1,
      });
      tx.emit({
        type: canceled ? RunEvents.stageCanceled : RunEvents.stageFailed,
        projectId: run.projectId,
        subjectId: run.id,
        payload: { ...base, failure },
      });
      await skipBelow(tx, await planForVersion(tx.manager, run.pipelineVersionId), run, sr.stageName);
      await settleRun(tx, run.id);
      continue;
    }
    await transitionStageRun(tx.manager, "retry", id, {
      queuedAt: new Date(),
      notBefore: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      leaseEpoch: sr.leaseEpoch + 1,
      maxAttempts: sr.maxAttempts + 1,
    });
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
    `SELECT id FROM stage_runs WHERE ${stageWrite("retry").guard} AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
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
    `SELECT id FROM stage_runs WHERE id = ANY($1) AND lease_owner = $2 AND ${stageWrite("retry").guard}`,
    [ids, owner],
  );
  await requeueLost(
    tx,
    held.map((r) => r.id),
    "INTERRUPTED",
  );
}

/** One attempt's end, as the engine (or the remote-runner API) reports it. */
export interface AttemptCompletion {
  stageRunId: string;
  epoch: number;
  result: AttemptResult;
  inputs: Record<string, string>;
}

/**
 * Records many attempts' ends in one transaction. Successes — the bulk of a wide fan-out — are
 * written set-wise, a handful of statements for the whole batch: lineage, artifacts, stage and
 * attempt rows, downstream counters, then queueing and settling per run. Failures, cancels and
 * anything unusual go through `completeAttempt` one by one. Outcomes come back in input order.
 */
export async function completeAttempts(tx: Tx, items: readonly AttemptCompletion[]): Promise<CompletionOutcome[]> {
  const outcomes: CompletionOutcome[] = new Array(items.length);
  const successIdx = items.map((c, i) => (c.result.status === "succeeded" ? i : -1)).filter((i) => i >= 0);
  const rows: Array<{ id: string; run_id: string; stage_name: string; status: string; lease_epoch: number; attempt: number }> =
    successIdx.length
      ? await tx.manager.query(
          `SELECT id, run_id, stage_name, status, lease_epoch, attempt FROM stage_runs WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
          [successIdx.map((i) => items[i]!.stageRunId)],
        )
      : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const bulk: Array<{
    index: number;
    row: (typeof rows)[number];
    run: RunRef;
    outputs: Extract<AttemptResult, { status: "succeeded" }>["outputs"];
  }> = [];
  const oneByOne: number[] = items.map((_, i) => i).filter((i) => !successIdx.includes(i));
  for (const i of successIdx) {
    const item = items[i]!;
    const row = byId.get(item.stageRunId);
    if (!row || !ACTIVE_STAGE.includes(row.status as StageRunRow["status"])) {
      outcomes[i] = { accepted: false, reason: "NOT_RUNNING" };
      continue;
    }
    if (row.lease_epoch !== item.epoch) {
      outcomes[i] = { accepted: false, reason: "LEASE_LOST" };
      continue;
    }
    const run = await runRef(tx.manager, row.run_id);
    const plan = await planForVersion(tx.manager, run.pipelineVersionId);
    const declared = plan.stages.get(row.stage_name)!.spec.outputs ?? {};
    const produced = (item.result as Extract<AttemptResult, { status: "succeeded" }>).outputs;
    // A missing output turns success into failure: that path decides on its own.
    // So do outputs with hooks, which need a savepoint of their own.
    if (Object.keys(declared).some((n) => !produced[n]) || needsOutputHooks(produced)) oneByOne.push(i);
    else bulk.push({ index: i, row, run, outputs: produced });
  }

  if (bulk.length > 0) {
    const now = new Date();
    const lineage = bulk.flatMap((b) =>
      Object.entries(items[b.index]!.inputs).map(([name, artifactId]) => ({ sr: b.row.id, name, artifactId })),
    );
    if (lineage.length > 0) {
      await tx.manager.query(
        `INSERT INTO stage_run_inputs (stage_run_id, input_name, artifact_id)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING`,
        [lineage.map((l) => l.sr), lineage.map((l) => l.name), lineage.map((l) => l.artifactId)],
      );
    }
    const artifacts: Array<{
      sr: string;
      run: RunRef;
      name: string;
      kind: string;
      o: Extract<AttemptResult, { status: "succeeded" }>["outputs"][string];
    }> = [];
    for (const b of bulk) {
      const plan = await planForVersion(tx.manager, b.run.pipelineVersionId);
      const declared = plan.stages.get(b.row.stage_name)!.spec.outputs ?? {};
      for (const [name, o] of Object.entries(b.outputs))
        if (declared[name]) artifacts.push({ sr: b.row.id, run: b.run, name, kind: declared[name]!.kind, o });
    }
    const inserted: Array<{ id: string; produced_by: string; output_name: string }> = artifacts.length
      ? await tx.manager.query(
          `INSERT INTO artifacts (project_id, kind, uri, hash, size, is_directory, metadata, produced_by, run_id, output_name)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::bool[], $7::jsonb[], $8::uuid[], $9::uuid[], $10::text[])
           RETURNING id, produced_by, output_name`,
          [
            artifacts.map((a) => a.run.projectId),
            artifacts.map((a) => a.kind),
            artifacts.map((a) => a.o.stored.uri),
            artifacts.map((a) => a.o.stored.hash),
            artifacts.map((a) => a.o.stored.size),
            artifacts.map((a) => a.o.stored.isDirectory),
            artifacts.map((a) => JSON.stringify(a.o.metadata ?? {})),
            artifacts.map((a) => a.sr),
            artifacts.map((a) => a.run.id),
            artifacts.map((a) => a.name),
          ],
        )
      : [];
    const outputsOf = new Map<string, Record<string, string>>();
    for (const r of inserted) outputsOf.set(r.produced_by, { ...(outputsOf.get(r.produced_by) ?? {}), [r.output_name]: r.id });
    const succeed = stageWrite("succeeded");
    const succeeded = stageTransition("succeeded");
    await tx.manager.query(
      `WITH s AS (
         UPDATE stage_runs SET ${succeed.set}, finished_at = $2, failure = NULL, lease_expires_at = NULL
          WHERE id = ANY($1) AND ${succeed.guard} RETURNING id, attempt)
       UPDATE stage_attempts a SET outcome = $3, finished_at = $2 FROM s WHERE a.stage_run_id = s.id AND a.attempt = s.attempt`,
      [bulk.map((b) => b.row.id), now, succeeded.to],
    );
    await recordAttemptUsage(
      tx.manager,
      bulk.flatMap((b) => {
        const usage = items[b.index]!.result.usage;
        return usage ? [{ stageRunId: b.row.id, attempt: b.row.attempt, usage }] : [];
      }),
    );
    // Downstream counters: one decrement per (run, stage) for all the upstreams that just finished.
    const decrements = new Map<string, { runId: string; stage: string; n: number }>();
    for (const b of bulk) {
      tx.emit({
        type: RunEvents.stageSucceeded,
        projectId: b.run.projectId,
        subjectId: b.run.id,
        payload: {
          runId: b.run.id,
          pipelineId: b.run.pipelineId,
          stageRunId: b.row.id,
          stage: b.row.stage_name,
          attempt: b.row.attempt,
          outputs: outputsOf.get(b.row.id) ?? {},
        },
      });
      const plan = await planForVersion(tx.manager, b.run.pipelineVersionId);
      for (const d of plan.stages.get(b.row.stage_name)!.downstream) {
        const key = `${b.run.id}\u0000${d}`;
        const entry = decrements.get(key) ?? { runId: b.run.id, stage: d, n: 0 };
        entry.n++;
        decrements.set(key, entry);
      }
      outcomes[b.index] = { accepted: true, status: succeeded.to };
    }
    const ready = new Map<string, string[]>();
    if (decrements.size > 0) {
      const d = [...decrements.values()];
      const released = returnedRows<{ run_id: string; stage_name: string; remaining_upstream: number }>(
        await tx.manager.query(
          `UPDATE stage_runs sr SET remaining_upstream = sr.remaining_upstream - d.n
             FROM unnest($1::uuid[], $2::text[], $3::int[]) AS d(run_id, stage_name, n)
            WHERE sr.run_id = d.run_id AND sr.stage_name = d.stage_name AND ${statusIn(["PENDING"], "sr")}
            RETURNING sr.run_id, sr.stage_name, sr.remaining_upstream`,
          [d.map((x) => x.runId), d.map((x) => x.stage), d.map((x) => x.n)],
        ),
      );
      for (const r of released) if (r.remaining_upstream === 0) ready.set(r.run_id, [...(ready.get(r.run_id) ?? []), r.stage_name]);
    }
    const runs = new Map(bulk.map((b) => [b.run.id, b.run]));
    for (const [runId, names] of ready) {
      const run = runs.get(runId)!;
      await queueStages(tx, await planForVersion(tx.manager, run.pipelineVersionId), run, names);
    }
    // Runs in id order, so two batches lock them in one order.
    for (const runId of [...runs.keys()].sort()) await settleIfFinished(tx, runId);
  }

  for (const i of oneByOne) {
    const c = items[i]!;
    outcomes[i] = await completeAttempt(tx, c.stageRunId, c.epoch, c.result, c.inputs);
  }
  return outcomes;
}
