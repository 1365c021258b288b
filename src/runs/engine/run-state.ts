import { type EntityManager, In } from "typeorm";

/**
 * Run and stage-run states, the transitions allowed between them, and the retry delay — and the
 * only writer of `status`: every update of a stage run's or a run's status is built here from
 * the tables (`stageWrite`/`runWrite` for SQL, `transitionStageRuns`/`transitionRun` for rows),
 * so a write the tables do not allow cannot be expressed. The tables themselves are pure.
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
  | "wait" // a gate stage is ready and waits for a decision
  | "withdrawn" // the run was canceled before any runner held the stage
  | "canceled"; // its holder (a runner, or a gate's settlement) ended it as canceled

/**
 * Every stage transition there is. WAITING is entered only by `wait`, which the engine applies
 * to gate stages alone, so a WAITING stage is always a gate nothing runs.
 */
const STAGE_TRANSITIONS: Record<StageStatus, Partial<Record<StageEvent, StageStatus>>> = {
  PENDING: { "upstream-succeeded": "QUEUED", "upstream-failed": "SKIPPED", reused: "SUCCEEDED", wait: "WAITING", withdrawn: "CANCELED" },
  QUEUED: { claimed: "RUNNING", withdrawn: "CANCELED" },
  RUNNING: { succeeded: "SUCCEEDED", failed: "FAILED", retry: "QUEUED", canceled: "CANCELED" },
  WAITING: { succeeded: "SUCCEEDED", failed: "FAILED", withdrawn: "CANCELED", canceled: "CANCELED" },
  SUCCEEDED: {},
  FAILED: {},
  CANCELED: {},
  SKIPPED: {},
};

/** What can happen to a run. */
export type RunTransitionEvent = "started" | "succeeded" | "failed" | "canceled";

const RUN_TRANSITIONS: Record<RunStatus, Partial<Record<RunTransitionEvent, RunStatus>>> = {
  // A run whose every stage is reused finishes in the step it starts in: QUEUED to its end.
  QUEUED: { started: "RUNNING", succeeded: "SUCCEEDED", failed: "FAILED", canceled: "CANCELED" },
  RUNNING: { succeeded: "SUCCEEDED", failed: "FAILED", canceled: "CANCELED" },
  SUCCEEDED: {},
  FAILED: {},
  CANCELED: {},
};

export const STAGE_TRANSITION_EVENTS: readonly StageEvent[] = [
  ...new Set(Object.values(STAGE_TRANSITIONS).flatMap((t) => Object.keys(t) as StageEvent[])),
];
export const RUN_TRANSITION_EVENTS: readonly RunTransitionEvent[] = [
  ...new Set(Object.values(RUN_TRANSITIONS).flatMap((t) => Object.keys(t) as RunTransitionEvent[])),
];

/** A transition the state machine does not allow: a bug, or a race lost to another writer. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly from: StageStatus | RunStatus,
    readonly event: StageEvent | RunTransitionEvent,
    readonly subject: "stage run" | "run" = "stage run",
  ) {
    super(`A ${subject} in ${from} cannot take "${event}"`);
    this.name = "IllegalTransitionError";
  }
}

/** The state after `event`, or throws IllegalTransitionError. */
export function nextStageStatus(from: StageStatus, event: StageEvent): StageStatus {
  const to = STAGE_TRANSITIONS[from][event];
  if (!to) throw new IllegalTransitionError(from, event);
  return to;
}

/** The run state after `event`, or throws IllegalTransitionError. */
export function nextRunStatus(from: RunStatus, event: RunTransitionEvent): RunStatus {
  const to = RUN_TRANSITIONS[from][event];
  if (!to) throw new IllegalTransitionError(from, event, "run");
  return to;
}

/** A new run's state. */
export const NEW_RUN_STATUS: RunStatus = "QUEUED";

/** A new stage run's state: PENDING, or SUCCEEDED when a rerun reuses the parent run's outputs. */
export function newStageStatus(reusedFromParent: boolean): StageStatus {
  return reusedFromParent ? nextStageStatus("PENDING", "reused") : "PENDING";
}

/** One event of the table: the states it may leave and the one it enters. */
export interface Transition<S extends string> {
  from: readonly S[];
  to: S;
}

function transitionOf<S extends string, E extends string>(table: Record<S, Partial<Record<E, S>>>, event: E): Transition<S> {
  const pairs = (Object.entries(table) as Array<[S, Partial<Record<E, S>>]>).filter(([, t]) => t[event] !== undefined);
  const targets = new Set(pairs.map(([, t]) => t[event]!));
  // Each event enters one state, so an update applying it has one `SET status`.
  if (targets.size !== 1) throw new Error(`Event "${event}" must enter exactly one state, enters ${[...targets].join(", ") || "none"}`);
  return { from: pairs.map(([s]) => s), to: [...targets][0]! };
}

export function stageTransition(event: StageEvent): Transition<StageStatus> {
  return transitionOf(STAGE_TRANSITIONS, event);
}

export function runTransition(event: RunTransitionEvent): Transition<RunStatus> {
  return transitionOf(RUN_TRANSITIONS, event);
}

/** The states from which `event` is allowed: the `WHERE status IN (…)` guard of an update. */
export function statusesAccepting(event: StageEvent): StageStatus[] {
  return [...stageTransition(event).from];
}

// ---- SQL built from the tables. Status literals come only from the unions above, so quoting
// them is safe; no other file writes `status` or spells a status condition.

function column(alias: string | undefined): string {
  return alias ? `${alias}.status` : "status";
}

/** `status IN ('A', 'B')` for a set of states (for reads: what is unfinished, what runs). */
export function statusIn(statuses: readonly (StageStatus | RunStatus)[], alias?: string): string {
  if (statuses.length === 0) return "false";
  return `${column(alias)} IN (${statuses.map((s) => `'${s}'`).join(", ")})`;
}

/** The two halves of an update that applies a transition: its `SET status = …` and its guard. */
export interface StatusWrite {
  /** `status = 'TO'`, for the SET list (never aliased: PostgreSQL refuses `SET sr.status`). */
  set: string;
  /** `status IN (<the states the event may leave>)`, for the WHERE clause. */
  guard: string;
}

export function stageWrite(event: StageEvent, alias?: string): StatusWrite {
  const t = stageTransition(event);
  return { set: `status = '${t.to}'`, guard: statusIn(t.from, alias) };
}

export function runWrite(event: RunTransitionEvent, alias?: string): StatusWrite {
  const t = runTransition(event);
  return { set: `status = '${t.to}'`, guard: statusIn(t.from, alias) };
}

/** Stage runs not yet finished: the ones a run still waits for. */
export const UNFINISHED_STAGE: readonly StageStatus[] = STAGE_STATUSES.filter((s) => !TERMINAL_STAGE.has(s));
/** Stage runs a runner holds (or a gate keeps open): they count against concurrency. */
export const ACTIVE_STAGE: readonly StageStatus[] = ["RUNNING", "WAITING"];

/** Column values written along with a status (TypeORM property names of the row); never `status`. */
type Patch = Record<string, unknown> & { status?: never };

/**
 * Applies `event` to the stage runs `ids` that are in a state the table lets it leave, with
 * `patch` written alongside. Returns how many moved: a row in any other state is left as it is.
 */
export async function transitionStageRuns(
  manager: EntityManager,
  event: StageEvent,
  ids: readonly string[],
  patch: Patch = {},
): Promise<number> {
  if (ids.length === 0) return 0;
  const t = stageTransition(event);
  const result = await manager.update("stage_runs", { id: In([...ids]), status: In([...t.from]) }, { ...patch, status: t.to });
  return result.affected ?? 0;
}

/** The one stage run `id` takes `event`; refused (IllegalTransitionError) when its state does not allow it. */
export async function transitionStageRun(manager: EntityManager, event: StageEvent, id: string, patch: Patch = {}): Promise<void> {
  if ((await transitionStageRuns(manager, event, [id], patch)) === 1) return;
  const [row]: Array<{ status: StageStatus }> = await manager.query(`SELECT status FROM stage_runs WHERE id = $1`, [id]);
  throw new IllegalTransitionError(row?.status ?? ("missing" as StageStatus), event);
}

/** Run `id` takes `event`; returns whether it moved (a run in another state is left as it is). */
export async function transitionRun(manager: EntityManager, event: RunTransitionEvent, id: string, patch: Patch = {}): Promise<boolean> {
  const t = runTransition(event);
  const result = await manager.update("runs", { id, status: In([...t.from]) }, { ...patch, status: t.to });
  return (result.affected ?? 0) > 0;
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
