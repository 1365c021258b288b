import type { StageFailure } from "../../../runners/contract";
import { planForVersion } from "./plan";
import { type ProgressTx, settleIfFinished, skipBelow, stageSucceeded } from "./progress";
import { RunEvents } from "./run-events";
import { runRef } from "./run-meta";
import { statusIn, transitionStageRun } from "./run-state";
import { StageRunRow } from "../stage-run.entity";

/**
 * The run hook through which governance settles a pipeline `gate` stage: governance decides
 * (approved, rejected, expired, canceled) and the run engine writes the stage's status, emits
 * its event and moves the run on. Governance writes no stage status itself.
 */
export type GateEnd = { status: "SUCCEEDED" } | { status: "FAILED"; failure: StageFailure } | { status: "CANCELED" };

/** `WHERE` condition of gate stages awaiting settlement: waiting, and run by no runner. */
export function gateAwaitingSettlement(alias?: string): string {
  const labels = alias ? `${alias}.runner_labels` : "runner_labels";
  return `${statusIn(["WAITING"], alias)} AND ${labels} = '{}'`;
}

/** Whether a stage run is a gate still waiting for its decision. */
export function isAwaitingGate(sr: Pick<StageRunRow, "status">): boolean {
  return sr.status === "WAITING";
}

/**
 * Ends the waiting gate `stageRunId` (locked by the caller in `tx`) as `end` says. On success,
 * `beforeDownstream` runs after the status is written and before the stages below are queued:
 * it records what the gate passes on (its output, an alias), so that they see it.
 */
export async function settleGateStage(
  tx: ProgressTx,
  stageRunId: string,
  end: GateEnd,
  beforeDownstream?: () => Promise<void>,
): Promise<void> {
  const sr = await tx.manager.findOneByOrFail(StageRunRow, { id: stageRunId });
  const run = await runRef(tx.manager, sr.runId);
  const plan = await planForVersion(tx.manager, run.pipelineVersionId);
  const failure = end.status === "FAILED" ? end.failure : null;
  const event = end.status === "SUCCEEDED" ? "succeeded" : end.status === "FAILED" ? "failed" : "canceled";
  await transitionStageRun(tx.manager, event, sr.id, { finishedAt: new Date(), failure });
  const base = { runId: run.id, pipelineId: run.pipelineId, stageRunId: sr.id, stage: sr.stageName, attempt: sr.attempt };
  const type =
    end.status === "SUCCEEDED" ? RunEvents.stageSucceeded : end.status === "FAILED" ? RunEvents.stageFailed : RunEvents.stageCanceled;
  tx.emit({
    type,
    projectId: run.projectId,
    subjectId: run.id,
    payload: end.status === "SUCCEEDED" ? { ...base, outputs: {} } : failure ? { ...base, failure } : base,
  });
  if (end.status === "SUCCEEDED") {
    await beforeDownstream?.();
    await stageSucceeded(tx, plan, run, sr.stageName);
  } else await skipBelow(tx, plan, run, sr.stageName);
  await settleIfFinished(tx, run.id);
}
