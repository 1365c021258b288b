import type { Logger } from "pino";
import { ErrorCode, InvalidInputError, NotFoundError, SluiceError } from "../kernel/errors";
import { runSystemChange } from "../events/system-change";
import type { TriggerDeps } from "./deps";
import { returnedRows } from "../kernel/sql-text";
import { EventRow } from "../events/event.entity";
import type { EventDraft } from "../events/event.store";
import { PipelineRow } from "../pipelines";
import type { ProgressTx, TriggerKind } from "../runs";
import { EventRuleRow } from "./event-rule.entity";
import { armingEventIds } from "./event-rule.service";
import { MissingEventValue, eventView, resolveParamTemplates, ruleHears } from "./event-match";
import { ScheduleRow } from "./schedule.entity";
import { latestVersionOf } from "./target";
import { TriggerEvents } from "./trigger-events";

/** What a fire did: started a run, or failed before one existed (the reason is in `detail`). */
export type FireOutcome = "STARTED" | "FAILED";

export interface FiredResult {
  fireId: string;
  outcome: FireOutcome;
  runId: string | null;
  detail: Record<string, unknown>;
}

type FireServices = Pick<TriggerDeps, "db" | "events" | "runs">;

/** The dedupe key of a schedule's tick: one fire per schedule and scheduled instant. */
export function scheduleFireKey(scheduleId: string, scheduledFor: Date): string {
  return `schedule:${scheduleId}:${scheduledFor.toISOString()}`;
}

/** The dedupe key of an event rule's fire: one per rule and event. */
export function eventFireKey(ruleId: string, eventId: string): string {
  return `event:${ruleId}:${eventId}`;
}

interface FireRequest {
  kind: Extract<TriggerKind, "SCHEDULE" | "EVENT">;
  sourceId: string;
  dedupeKey: string;
  scheduledFor: Date | null;
  eventId: string | null;
  projectId: string;
  pipelineId: string;
  createdBy: string | null;
  /** The run's parameters by stage; may throw (a template the event cannot fill). */
  params: () => Record<string, Record<string, unknown>>;
  /** Extra fields for the `trigger.fired` payload. */
  about: Record<string, unknown>;
}

/**
 * The `detail` of a failed fire: the typed error a caller of `triggerRun` would have received
 * (code, message, problems), or for an unexpected fault only its code (the log has the rest).
 */
/** PostgreSQL errors that a retry of the same transaction can clear. */
const TRANSIENT = new Set(["40001", "40P01", "55P03"]);

function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ?? (err as { code?: unknown })?.code;
  return typeof code === "string" && TRANSIENT.has(code);
}

/**
 * Runs `work` again (up to three attempts, a few ms apart) when it fails with a deadlock or a
 * serialization failure: two leaders racing for one tick may collide, and the fire is then
 * decided by the retry rather than lost.
 */
export async function retryTransient<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (err) {
      if (i >= attempts || !isTransientDbError(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * i));
    }
  }
}

function failureDetail(err: unknown, log: Logger): Record<string, unknown> {
  if (err instanceof MissingEventValue) return { code: "MISSING_EVENT_VALUE", message: err.message, path: err.path, field: err.field };
  if (err instanceof InvalidInputError) return { code: err.code, message: err.message, problems: err.problems };
  if (err instanceof NotFoundError)
    return { code: err.code, message: err.message, resourceType: err.resourceType, resourceId: err.resourceId };
  if (err instanceof SluiceError) return { code: err.code, message: err.message };
  log.error({ err }, "a trigger fire failed");
  return { code: ErrorCode.INTERNAL, message: "the run could not be started; the server logged the details" };
}

/**
 * Inserts the fire row (`ON CONFLICT DO NOTHING` on its dedupe key) and, when it is new, starts
 * the run in the same transaction, with `triggerRef` naming the fire. Two leaders racing for one
 * fire serialize on the unique key: the second finds the first's committed row and does nothing.
 * A run that cannot start (bad parameters, no version) rolls back to a savepoint and leaves the
 * fire recorded as FAILED with the reason. Returns null when the fire already existed.
 */
async function recordFire(tx: ProgressTx, deps: FireServices, req: FireRequest, log: Logger): Promise<FiredResult | null> {
  const inserted = returnedRows<{ id: string }>(
    await tx.manager.query(
      `INSERT INTO trigger_fires (kind, source_id, dedupe_key, scheduled_for, event_id, outcome)
       VALUES ($1, $2, $3, $4, $5, 'STARTED') ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      [req.kind, req.sourceId, req.dedupeKey, req.scheduledFor, req.eventId],
    ),
  );
  if (inserted.length === 0) return null;
  const fireId = inserted[0]!.id;
  const result: FiredResult = { fireId, outcome: "STARTED", runId: null, detail: {} };
  const drafts: EventDraft[] = [];
  await tx.manager.query("SAVEPOINT trigger_fire");
  try {
    const pipeline = await tx.manager.findOneBy(PipelineRow, { id: req.pipelineId });
    if (!pipeline) throw new NotFoundError("Pipeline", req.pipelineId);
    const version = await latestVersionOf(tx.manager, pipeline);
    const params = req.params();
    const run = await deps.runs.trigger(
      { manager: tx.manager, emit: (e) => drafts.push(e) },
      { pipeline, version, params, triggerKind: req.kind, triggerRef: fireId },
      req.createdBy,
    );
    await tx.manager.query("RELEASE SAVEPOINT trigger_fire");
    for (const d of drafts) tx.emit(d);
    result.runId = run.id;
    result.detail = { runNumber: run.number, version: version.version };
  } catch (err) {
    // A deadlock or serialization failure says nothing about the run: the whole transaction is
    // retried (the fire row goes with it), rather than recording a FAILED fire for a race.
    if (isTransientDbError(err)) throw err;
    await tx.manager.query("ROLLBACK TO SAVEPOINT trigger_fire");
    result.outcome = "FAILED";
    result.detail = failureDetail(err, log);
  }
  await tx.manager.query(`UPDATE trigger_fires SET run_id = $2, outcome = $3, detail = $4 WHERE id = $1`, [
    fireId,
    result.runId,
    result.outcome,
    JSON.stringify(result.detail),
  ]);
  tx.emit({
    type: TriggerEvents.fired,
    projectId: req.projectId,
    subjectId: req.sourceId,
    payload: {
      fireId,
      kind: req.kind,
      sourceId: req.sourceId,
      pipelineId: req.pipelineId,
      runId: result.runId,
      outcome: result.outcome,
      ...req.about,
      ...(result.outcome === "FAILED" ? { error: result.detail } : {}),
    },
  });
  return result;
}

/**
 * Fires `scheduleId` for its tick at `scheduledFor`, once across every process: nothing happens
 * when the schedule is gone or paused, or the tick was already fired. The schedule row is locked
 * first (so a pause that commits meanwhile is seen) and its `lastFireAt` moves forward only.
 */
export async function fireSchedule(deps: FireServices, scheduleId: string, scheduledFor: Date, log: Logger): Promise<FiredResult | null> {
  return runSystemChange(deps, async (tx) => {
    const schedule = await tx.manager.findOne(ScheduleRow, { where: { id: scheduleId }, lock: { mode: "pessimistic_write" } });
    if (!schedule || schedule.paused) return null;
    const at = new Date(Math.floor(scheduledFor.getTime() / 1000) * 1000);
    const fired = await recordFire(
      tx,
      deps,
      {
        kind: "SCHEDULE",
        sourceId: schedule.id,
        dedupeKey: scheduleFireKey(schedule.id, at),
        scheduledFor: at,
        eventId: null,
        projectId: schedule.projectId,
        pipelineId: schedule.pipelineId,
        createdBy: schedule.createdBy,
        params: () => schedule.params as Record<string, Record<string, unknown>>,
        about: { scheduleId: schedule.id, scheduledFor: at.toISOString() },
      },
      log,
    );
    if (fired) {
      await tx.manager.query(`UPDATE schedules SET last_fire_at = GREATEST(COALESCE(last_fire_at, $2), $2) WHERE id = $1`, [
        schedule.id,
        at,
      ]);
    }
    return fired;
  });
}

/**
 * Fires `ruleId` for `event`, once across every process. The rule is read again in the
 * transaction and must still hear the event (enabled, same type, armed before it, filter met). Parameters come
 * from the rule with its templates filled from the event; a template the event cannot fill
 * records a FAILED fire and starts nothing.
 */
export async function fireEventRule(deps: FireServices, ruleId: string, delivered: EventRow, log: Logger): Promise<FiredResult | null> {
  return runSystemChange(deps, async (tx) => {
    const rule = await tx.manager.findOneBy(EventRuleRow, { id: ruleId });
    // The stored row, not what the bus delivered: a live message may carry a shortened payload.
    const event = await tx.manager.findOneBy(EventRow, { id: delivered.id });
    if (!rule || !event) return null;
    const armedAfter = (await armingEventIds(tx.manager, [rule.id])).get(rule.id) ?? "0";
    const view = eventView(event);
    if (!ruleHears({ ...rule, armedAfter }, event, view)) return null;
    return recordFire(
      tx,
      deps,
      {
        kind: "EVENT",
        sourceId: rule.id,
        dedupeKey: eventFireKey(rule.id, event.id),
        scheduledFor: null,
        eventId: event.id,
        projectId: rule.projectId,
        pipelineId: rule.pipelineId,
        createdBy: rule.createdBy,
        params: () => resolveParamTemplates(rule.params as Record<string, Record<string, unknown>>, view),
        about: { ruleId: rule.id, eventId: event.id, eventType: event.type },
      },
      log,
    );
  });
}
