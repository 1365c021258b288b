import type { SlaBreachRow, SlaRow } from "./sla.entities";

/** Events this capability emits. `sla.breached` and `sla.recovered` feed event rules, notifiers and subscriptions. */
export const SlaEvents = {
  created: "sla.created",
  updated: "sla.updated",
  deleted: "sla.deleted",
  /** The SLA's objective stopped holding: `{ slaId, sla, kind, subjectKind, subjectName, observed, objective, windowSeconds, … }`. */
  breached: "sla.breached",
  /** It holds again: the same fields, with `breachId`, `startedAt`, `recoveredAt` and `breachSeconds`. */
  recovered: "sla.recovered",
} as const;

/** The types `slaEvents` streams. */
export const SLA_STATE_EVENT_TYPES: readonly string[] = [SlaEvents.breached, SlaEvents.recovered];

/** The payload of `sla.created|updated|deleted`. */
export function slaChangePayload(row: SlaRow): Record<string, unknown> {
  return {
    slaId: row.id,
    sla: row.name,
    kind: row.kind,
    subjectKind: row.subjectKind,
    subjectName: row.subjectName,
    objective: Number(row.objective),
    windowSeconds: row.windowSeconds === null ? null : Number(row.windowSeconds),
    source: row.source,
    pipelineId: row.pipelineId,
    enabled: row.enabled,
  };
}

/**
 * The payload of `sla.breached` and `sla.recovered`: the SLA, its subject, the observed value, the
 * objective and the window — what an event rule's filter or template and a notifier need.
 */
export function slaStatePayload(row: SlaRow, breach: SlaBreachRow, observed: number | null, detail: Record<string, unknown>) {
  return {
    slaId: row.id,
    sla: row.name,
    kind: row.kind,
    subjectKind: row.subjectKind,
    subjectName: row.subjectName,
    observed,
    objective: Number(row.objective),
    windowSeconds: row.windowSeconds === null ? null : Number(row.windowSeconds),
    severity: row.severity,
    breachId: breach.id,
    alertId: breach.alertId,
    startedAt: breach.startedAt.toISOString(),
    detail,
  };
}
