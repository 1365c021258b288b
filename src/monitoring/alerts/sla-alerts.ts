import type { EntityManager } from "typeorm";
import type { SystemTx } from "../../events/system-change";
import { AlertRow } from "../monitoring.entities";
import { AlertEvents, alertPayload } from "./alert-evaluator";

/**
 * SLA breaches in the project's alert list (src/slas decides when an SLA breaks and recovers;
 * the alert list is this folder's). An SLA's alert has no rule, monitor nor window: its
 * `source` is SLA, `metric` the SLA's kind, `value` the observed value, `threshold` the
 * objective. It is acknowledged and resolved like any alert, and resolves on its own when the SLA
 * recovers.
 */

export interface SlaAlertInput {
  projectId: string;
  slaId: string;
  /** The SLA's subject: a pipeline, dataset or endpoint name. */
  subjectName: string;
  kind: string;
  severity: string;
  observed: number;
  objective: number;
  at: Date;
  /** More for the `alert.fired` payload (the SLA's name, window, breach id). */
  about: Record<string, unknown>;
}

/** Opens the SLA's alert (event `alert.fired`), unless one is already open (then returns that one). */
export async function openSlaAlert(tx: Pick<SystemTx, "manager" | "emit">, input: SlaAlertInput): Promise<AlertRow> {
  const alerts = tx.manager.getRepository(AlertRow);
  const open = await openAlertOf(tx.manager, input.slaId);
  if (open) return open;
  const alert = await alerts.save(
    alerts.create({
      projectId: input.projectId,
      source: "SLA",
      slaId: input.slaId,
      ruleId: null,
      monitorId: null,
      windowId: null,
      servedName: input.subjectName,
      metric: input.kind,
      feature: "",
      severity: input.severity,
      status: "FIRING",
      value: input.observed,
      threshold: input.objective,
      firedAt: input.at,
    }),
  );
  tx.emit({ type: AlertEvents.fired, projectId: input.projectId, subjectId: alert.id, payload: alertPayload(alert, null, input.about) });
  return alert;
}

/** Resolves the SLA's open alert on its own (event `alert.resolved`, `automatic` true); nothing when none is open. */
export async function resolveSlaAlert(
  tx: Pick<SystemTx, "manager" | "emit">,
  slaId: string,
  at: Date,
  observed: number | null,
): Promise<AlertRow | null> {
  const open = await openAlertOf(tx.manager, slaId);
  if (!open) return null;
  open.status = "RESOLVED";
  open.resolvedAt = at;
  open.resolvedBy = null;
  const saved = await tx.manager.getRepository(AlertRow).save(open);
  tx.emit({
    type: AlertEvents.resolved,
    projectId: open.projectId,
    subjectId: open.id,
    payload: alertPayload(saved, null, { resolvedBy: null, automatic: true, observed }),
  });
  return saved;
}

/** Deletes an SLA's alerts with the SLA. */
export async function deleteSlaAlerts(manager: EntityManager, slaId: string): Promise<void> {
  await manager.getRepository(AlertRow).delete({ slaId });
}

function openAlertOf(manager: EntityManager, slaId: string): Promise<AlertRow | null> {
  return manager.getRepository(AlertRow).findOne({
    where: [
      { slaId, status: "FIRING" },
      { slaId, status: "ACKNOWLEDGED" },
    ],
  });
}
