/**
 * Run and stage-run states, the transitions allowed between them, and the retry delay.
 * Pure: no I/O, so every transition is unit-tested directly.
 */

export type RunStatus = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELED";
export const RUN_STATUSES: readonly RunStatus[] = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"];

/**
 * PENDING waits for upstream stages; QUEUED waits for a runner (or a retry delay); WAITING
 * waits on something outside Sluice (an approval gate).
 */
export type StageStatus = "PENDING" | "QUEUED" | "RUNNING" | "WAITING" | "SUCCEEDED" | "FAILED" | "CANCELED" | "SKIPPED";
export const STAGE_STATUSES: readonly StageStatus[] = [
  "PENDING",
  "QUEUED",
  "RUNNING",
  "WAITING",
  "SUCCEEDED",
  "FAILED",
  "CANCELED",
  "SKIPPED",
];

/** How a run was started. */
export type TriggerKind = "MANUAL" | "SCHEDULE" | "EVENT" | "RERUN";

const TERMINAL_STAGE = new Set<StageStatus>(["SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"]);
const TERMINAL_RUN = new Set<RunStatus>(["SUCCEEDED", "FAILED", "CANCELED"]);

export function isTerminalStage(s: StageStatus): boolean {
  return TERMINAL_STAGE.has(s);
}

export function isTerminalRun(s: RunStatus): boolean {
  return TERMINAL_RUN.has(s);
}

/** What can happen to a stage run. */
export type StageEvent =
  | "upstream-succeeded" // the last upstream stage succeeded
  | "upstream-failed" // an upstream stage failed, was canceled or skipped
  | "claimed" // a runner took it
  | "reused" // outputs reused from the cache or the parent run
  | "succeeded"
  | "failed"
  | "retry" // failed (or lost its lease) with attempts left
  | "wait" // a gate is waiting for a decision
  | "canceled";

const TRANSITIONS: Record<StageStatus, Partial<Record<StageEvent, StageStatus>>> = {
  PENDING: { "upstream-succeeded": "QUEUED", "upstream-failed": "SKIPPED", reused: "SUCCEEDED", canceled: "CANCELED" },
  QUEUED: { claimed: "RUNNING", reused: "SUCCEEDED", canceled: "CANCELED" },
  RUNNING: { succeeded: "SUCCEEDED", failed: "FAILED", retry: "QUEUED", wait: "WAITING", canceled: "CANCELED" },
  WAITING: { succeeded: "SUCCEEDED", failed: "FAILED", canceled: "CANCELED" },
  SUCCEEDED: {},
  FAILED: {},
  CANCELED: {},
  SKIPPED: {},
};

/** A transition the state machine does not allow: a bug, or a race lost to another writer. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly from: StageStatus,
    readonly event: StageEvent,
  ) {
    super(`A stage run in ${from} cannot take "${event}"`);
    this.name = "IllegalTransitionError";
  }
}

/** The state after `event`, or throws IllegalTransitionError. */
export function nextStageStatus(from: StageStatus, event: StageEvent): StageStatus {
  const to = TRANSITIONS[from][event];
  if (!to) throw new IllegalTransitionError(from, event);
  return to;
}

/** The states from which `event` is allowed: the `WHERE status IN (…)` guard of an update. */
export function statusesAccepting(event: StageEvent): StageStatus[] {
  return STAGE_STATUSES.filter((s) => TRANSITIONS[s][event] !== undefined);
}

/**
 * A run's status from its stages': finished when every stage is; FAILED when any failed,
 * CANCELED when canceled (and none failed), SUCCEEDED otherwise; RUNNING once anything has
 * started, QUEUED before.
 */
export function deriveRunStatus(stages: readonly StageStatus[], cancelRequested: boolean): RunStatus {
  if (stages.every(isTerminalStage)) {
    if (stages.includes("FAILED")) return "FAILED";
    if (cancelRequested || stages.includes("CANCELED")) return "CANCELED";
    return "SUCCEEDED";
  }
  const started = stages.some((s) => s === "RUNNING" || s === "WAITING" || s === "SUCCEEDED" || s === "FAILED" || s === "SKIPPED");
  return started ? "RUNNING" : "QUEUED";
}

export interface RetryDelays {
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
}

/** Delay before attempt `nextAttempt` (2 for the first retry): exponential, capped. */
export function retryDelayMs(policy: RetryDelays, nextAttempt: number): number {
  const n = Math.max(0, nextAttempt - 2);
  return Math.min(policy.maxDelayMs, Math.round(policy.initialDelayMs * policy.factor ** n));
}
