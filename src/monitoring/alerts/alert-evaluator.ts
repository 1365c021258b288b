import type { SystemTx } from "../../events/system-change";
import { AlertRow, AlertRuleRow, type MonitoringWindowRow, type MonitorRow } from "../monitoring.entities";
import type { MetricPoint } from "../windows/window-closer";

export const AlertEvents = {
  fired: "alert.fired",
  acknowledged: "alert.acknowledged",
  resolved: "alert.resolved",
} as const;

export type AlertOp = "GT" | "GTE" | "LT" | "LTE";

export function breaches(op: string, value: number, threshold: number): boolean {
  switch (op) {
    case "GT":
      return value > threshold;
    case "GTE":
      return value >= threshold;
    case "LT":
      return value < threshold;
    case "LTE":
      return value <= threshold;
    default:
      return false;
  }
}

/**
 * The payload of `alert.*` events: everything an event trigger or a notifier needs without a
 * query. An SLA's alert has no rule (`rule` null): its `source` is SLA and `slaId` names the SLA.
 */
export function alertPayload(alert: AlertRow, rule: AlertRuleRow | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alertId: alert.id,
    projectId: alert.projectId,
    source: alert.source,
    ruleId: rule?.id ?? null,
    rule: rule?.name ?? null,
    slaId: alert.slaId,
    monitorId: alert.monitorId,
    servedName: alert.servedName,
    metric: alert.metric,
    feature: alert.feature || null,
    op: rule?.op ?? null,
    threshold: alert.threshold,
    windows: rule?.windows ?? null,
    value: alert.value,
    severity: alert.severity,
    status: alert.status,
    windowId: alert.windowId,
    ...extra,
  };
}

/**
 * Runs the monitor's enabled rules on the window just stored (in its transaction, under the
 * monitor's row lock, so evaluations of one monitor never interleave). A rule fires when its
 * metric breached in each of its last `windows` windows and it has no open alert; its open alert
 * resolves on its own when the metric is back (a window where the metric exists and does not
 * breach). A window without the metric (no outcomes for `roc_auc`, no reference) changes nothing.
 */
export async function evaluateAlertRules(
  tx: Pick<SystemTx, "manager" | "emit">,
  monitor: MonitorRow,
  window: MonitoringWindowRow,
  points: readonly MetricPoint[],
): Promise<void> {
  const rules = await tx.manager
    .getRepository(AlertRuleRow)
    .find({ where: { monitorId: monitor.id, enabled: true }, order: { createdAt: "ASC" } });
  const alerts = tx.manager.getRepository(AlertRow);
  for (const rule of rules) {
    // A prediction metric without a feature means the prediction column, whatever its name.
    const anyFeature = rule.feature === "" && rule.metric.startsWith("prediction_");
    const p = points.find((x) => x.metric === rule.metric && (anyFeature || x.feature === rule.feature));
    if (!p) continue;
    const open = await alerts.findOne({
      where: [
        { ruleId: rule.id, status: "FIRING" },
        { ruleId: rule.id, status: "ACKNOWLEDGED" },
      ],
    });
    if (!breaches(rule.op, p.value, rule.threshold)) {
      if (open) {
        open.status = "RESOLVED";
        open.resolvedAt = new Date();
        open.resolvedBy = null;
        open.resolvedWindowId = window.id;
        await alerts.save(open);
        tx.emit({
          type: AlertEvents.resolved,
          projectId: monitor.projectId,
          subjectId: open.id,
          payload: alertPayload(open, rule, { resolvedBy: null, automatic: true, value: p.value, windowSequence: window.sequence }),
        });
      }
      continue;
    }
    if (open) continue;
    // The last `windows` windows (this one included) must all have the metric, all breaching.
    const recent: Array<{ value: number | null }> = await tx.manager.query(
      `SELECT m.value FROM monitoring_windows w
         LEFT JOIN monitoring_metrics m ON m.window_id = w.id AND m.metric = $2 AND (m.feature = $3 OR $5)
        WHERE w.monitor_id = $1 ORDER BY w.sequence DESC LIMIT $4`,
      [monitor.id, rule.metric, rule.feature, rule.windows, anyFeature],
    );
    if (recent.length < rule.windows || !recent.every((r) => r.value !== null && breaches(rule.op, Number(r.value), rule.threshold)))
      continue;
    const alert = await alerts.save(
      alerts.create({
        projectId: monitor.projectId,
        ruleId: rule.id,
        monitorId: monitor.id,
        servedName: monitor.servedName,
        metric: rule.metric,
        feature: rule.feature,
        severity: rule.severity,
        status: "FIRING",
        value: p.value,
        threshold: rule.threshold,
        windowId: window.id,
        firedAt: new Date(),
      }),
    );
    tx.emit({
      type: AlertEvents.fired,
      projectId: monitor.projectId,
      subjectId: alert.id,
      payload: alertPayload(alert, rule, {
        variant: monitor.variant,
        windowSequence: window.sequence,
        modelVersionId: window.modelVersionId,
        registeredModelId: await registeredModelOf(tx, window.modelVersionId),
      }),
    });
  }
}

async function registeredModelOf(tx: Pick<SystemTx, "manager">, versionId: string): Promise<string | null> {
  const [row] = await tx.manager.query(`SELECT registered_model_id FROM model_versions WHERE id = $1`, [versionId]);
  return row?.registered_model_id ?? null;
}
