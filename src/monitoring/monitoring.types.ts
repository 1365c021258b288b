import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
import { MutationResult } from "../kernel/graphql/results";
import type {
  AlertRow,
  AlertRuleRow,
  MonitoringMetricRow,
  MonitoringReferenceRow,
  MonitoringWindowRow,
  MonitorRow,
} from "./monitoring.entities";
import type { SeriesPoint } from "./monitoring.service";

export enum AlertOp {
  GT = "GT",
  GTE = "GTE",
  LT = "LT",
  LTE = "LTE",
}
registerEnumType(AlertOp, { name: "AlertOp", description: "How an alert rule compares a metric with its threshold: >, ≥, <, ≤." });

export enum AlertSeverity {
  INFO = "INFO",
  WARNING = "WARNING",
  CRITICAL = "CRITICAL",
}
registerEnumType(AlertSeverity, { name: "AlertSeverity" });

export enum AlertStatus {
  FIRING = "FIRING",
  ACKNOWLEDGED = "ACKNOWLEDGED",
  RESOLVED = "RESOLVED",
}
registerEnumType(AlertStatus, { name: "AlertStatus" });

@ObjectType({ description: "A drift test chosen for one feature instead of the default." })
export class FeatureOverride {
  @Field()
  feature: string;

  @Field(() => String, { nullable: true, description: "ks, wasserstein, psi (numbers); chisquare, jensenshannon, psi (categories)." })
  method: string | null;

  @Field(() => Float, { nullable: true, description: "p-value below it (ks, chisquare) or distance at or above it drifts." })
  threshold: number | null;
}

@InputType()
export class FeatureOverrideInput {
  @Field()
  feature: string;

  @Field(() => String, { nullable: true, description: "ks, wasserstein, psi (numbers); chisquare, jensenshannon, psi (categories)." })
  method?: string | null;

  @Field(() => Float, { nullable: true })
  threshold?: number | null;
}

@ObjectType({ description: "Watches one served name (endpoint or model) and variant: closes windows of its predictions." })
export class Monitor {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field({ description: "The endpoint or model name requests address (the prediction log's servedName)." })
  servedName: string;

  @Field({ description: "primary, canary or shadow." })
  variant: string;

  @Field(() => Int, { nullable: true, description: "A window closes every this many predictions." })
  windowSize: number | null;

  @Field(() => Int, { nullable: true, description: "A window closes every this many seconds (when it has predictions)." })
  windowSeconds: number | null;

  @Field(() => [FeatureOverride])
  featureOverrides: FeatureOverride[];

  @Field(() => Float, { description: "The dataset drifts when at least this share of features drift." })
  driftShare: number;

  @Field()
  enabled: boolean;

  @Field(() => Int, { description: "Windows closed so far." })
  windowCount: number;

  @Field({ description: "When the current time window began." })
  windowStartedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: "Time of the last prediction consumed by a window (or the creation, when history was skipped).",
  })
  lastPredictionAt: Date | null;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  static from(row: MonitorRow): Monitor {
    return Object.assign(new Monitor(), {
      id: row.id,
      projectId: row.projectId,
      servedName: row.servedName,
      variant: row.variant,
      windowSize: row.windowSize,
      windowSeconds: row.windowSeconds,
      featureOverrides: Object.entries(row.featureOverrides as Record<string, { method?: string; threshold?: number }>).map(
        ([feature, o]) => Object.assign(new FeatureOverride(), { feature, method: o.method ?? null, threshold: o.threshold ?? null }),
      ),
      driftShare: row.driftShare,
      enabled: row.enabled,
      windowCount: row.windowCount,
      windowStartedAt: row.windowStartedAt,
      lastPredictionAt: row.cursorAt,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

export const MonitorConnection = Connection(Monitor, "Monitor");
export type MonitorConnection = InstanceType<typeof MonitorConnection>;
export const { Order: MonitorOrder, sortOf: monitorSort } = OrderBy(
  "Monitor",
  { SERVED_NAME: "servedName", CREATED_AT: "createdAt" } as const,
  { property: "servedName", direction: "ASC" },
);
export type MonitorOrder = InstanceType<typeof MonitorOrder>;

@InputType()
export class MonitorFilter {
  @Field(() => String, { nullable: true })
  servedName?: string | null;

  @Field(() => String, { nullable: true })
  variant?: string | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@ObjectType({ description: "One value of one metric in one window; feature is '' for a window-level metric." })
export class MetricValue {
  @Field()
  metric: string;

  @Field()
  feature: string;

  @Field(() => Float)
  value: number;

  static from(row: MonitoringMetricRow): MetricValue {
    return Object.assign(new MetricValue(), { metric: row.metric, feature: row.feature, value: Number(row.value) });
  }
}

@ObjectType({ description: "A closed window: drift against the training reference, data quality and live performance." })
export class MonitoringWindow {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  monitorId: string;

  @Field(() => ID)
  projectId: string;

  @Field()
  servedName: string;

  @Field()
  variant: string;

  @Field(() => Int, { description: "1, 2, … per monitor." })
  sequence: number;

  @Field({ description: "COUNT, TIME or MANUAL." })
  reason: string;

  @Field(() => ID, { description: "The version whose training reference the window was compared with." })
  modelVersionId: string;

  @Field(() => Int)
  rows: number;

  @Field(() => Int, { description: "Rows with an outcome when the window closed." })
  outcomes: number;

  @Field()
  firstPredictionAt: Date;

  @Field()
  lastPredictionAt: Date;

  @Field()
  closedAt: Date;

  @Field(() => Boolean, { nullable: true })
  datasetDrift: boolean | null;

  @Field(() => Float, { nullable: true })
  driftedShare: number | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      "The drift report: per feature {feature, kind, method, statistic, pValue, score, threshold, drifted, psi, nullShare, outOfRangeShare | unseenShare, histograms…}, prediction, shares.",
  })
  drift: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, {
    description: "{task, live: {roc_auc, accuracy, log_loss | rmse, mae}, baseline: the version's metrics, labeledRows}.",
  })
  performance: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: "Why drift could not be computed, when it could not." })
  problem: string | null;

  /** Filled by the field resolver. */
  metricRows?: MetricValue[];

  static from(row: MonitoringWindowRow, metrics?: MetricValue[]): MonitoringWindow {
    return Object.assign(new MonitoringWindow(), {
      id: row.id,
      monitorId: row.monitorId,
      projectId: row.projectId,
      servedName: row.servedName,
      variant: row.variant,
      sequence: row.sequence,
      reason: row.reason,
      modelVersionId: row.modelVersionId,
      rows: row.rows,
      outcomes: row.outcomes,
      firstPredictionAt: row.firstPredictionAt,
      lastPredictionAt: row.lastPredictionAt,
      closedAt: row.closedAt,
      datasetDrift: row.datasetDrift,
      driftedShare: row.driftedShare === null ? null : Number(row.driftedShare),
      drift: row.drift,
      performance: row.performance,
      problem: row.problem,
      metricRows: metrics,
    });
  }
}

export const MonitoringWindowConnection = Connection(MonitoringWindow, "MonitoringWindow");
export type MonitoringWindowConnection = InstanceType<typeof MonitoringWindowConnection>;
export const { Order: MonitoringWindowOrder, sortOf: monitoringWindowSort } = OrderBy(
  "MonitoringWindow",
  { CLOSED_AT: "closedAt", SEQUENCE: "sequence" } as const,
  { property: "closedAt", direction: "DESC" },
);
export type MonitoringWindowOrder = InstanceType<typeof MonitoringWindowOrder>;

@InputType()
export class MonitoringWindowFilter {
  @Field(() => String, { nullable: true, description: "primary, canary or shadow; all when left out." })
  variant?: string | null;

  @Field(() => Date, { nullable: true, description: "Only windows closed at or after." })
  since?: Date | null;

  @Field(() => Boolean, { nullable: true, description: "Only windows whose dataset drifted (true) or did not (false)." })
  datasetDrift?: boolean | null;
}

@ObjectType({ description: "One point of a series: the value in one window." })
export class DriftPoint {
  @Field()
  at: Date;

  @Field(() => Float)
  value: number;

  @Field(() => ID)
  windowId: string;

  @Field(() => Int)
  sequence: number;
}

@ObjectType({ description: "A plot-ready series: one metric (of one feature, or '' for the window) over windows, oldest first." })
export class DriftSeries {
  @Field()
  metric: string;

  @Field()
  feature: string;

  @Field(() => [DriftPoint])
  points: DriftPoint[];

  static group(points: SeriesPoint[]): DriftSeries[] {
    const by = new Map<string, DriftSeries>();
    for (const p of points) {
      const key = `${p.metric}\u0000${p.feature}`;
      let s = by.get(key);
      if (!s) by.set(key, (s = Object.assign(new DriftSeries(), { metric: p.metric, feature: p.feature, points: [] })));
      s.points.push(Object.assign(new DriftPoint(), { at: p.at, value: p.value, windowId: p.windowId, sequence: p.sequence }));
    }
    return [...by.values()].sort((a, b) => (a.metric === b.metric ? a.feature.localeCompare(b.feature) : a.metric.localeCompare(b.metric)));
  }
}

@ObjectType({ description: "The plot-ready series of a served name's windows." })
export class DriftMetrics {
  @Field()
  servedName: string;

  @Field(() => [DriftSeries], { description: "One series per (metric, feature), sorted by metric then feature." })
  series: DriftSeries[];
}

@ObjectType({ description: "A model version's training reference: what windows are compared with." })
export class MonitoringReference {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  modelVersionId: string;

  @Field({ description: "TRAINING (the data it was trained on, by lineage) or DATASET (set from a dataset version)." })
  source: string;

  @Field(() => ID, { nullable: true })
  datasetVersionId: string | null;

  @Field(() => String, { nullable: true, description: "The prediction column: `probabilities[1]`, `variable`, `label`…" })
  predictionColumn: string | null;

  @Field(() => [String], { description: "The features (the model's inputs)." })
  features: string[];

  @Field(() => Int)
  rows: number;

  @Field(() => GraphQLJSONObject, {
    description: "The ReferenceSummary (per feature: counts, moments, PSI bins, histogram, sample or category counts).",
  })
  summary: Record<string, unknown>;

  @Field()
  createdAt: Date;

  static from(row: MonitoringReferenceRow): MonitoringReference {
    const summary = row.summary as { features?: Record<string, unknown>; prediction?: string };
    return Object.assign(new MonitoringReference(), {
      id: row.id,
      modelVersionId: row.modelVersionId,
      source: row.source,
      datasetVersionId: row.datasetVersionId,
      predictionColumn: summary.prediction ?? null,
      features: Object.keys(summary.features ?? {}).filter((f) => f !== summary.prediction),
      rows: row.rows,
      summary: row.summary,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "Fires when the last `windows` windows of its monitor all breach `metric op threshold`." })
export class AlertRule {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  monitorId: string;

  @Field()
  name: string;

  @Field({ description: "A metric a window stores: dataset_drift_share, feature_drift, drift_score, psi, prediction_drift, roc_auc…" })
  metric: string;

  @Field({ description: "The feature of a per-feature metric; '' for a window metric." })
  feature: string;

  @Field(() => AlertOp)
  op: AlertOp;

  @Field(() => Float)
  threshold: number;

  @Field(() => Int, { description: "Windows in a row that must breach." })
  windows: number;

  @Field(() => AlertSeverity)
  severity: AlertSeverity;

  @Field()
  enabled: boolean;

  @Field()
  createdAt: Date;

  static from(row: AlertRuleRow): AlertRule {
    return Object.assign(new AlertRule(), {
      id: row.id,
      projectId: row.projectId,
      monitorId: row.monitorId,
      name: row.name,
      metric: row.metric,
      feature: row.feature,
      op: row.op as AlertOp,
      threshold: Number(row.threshold),
      windows: row.windows,
      severity: row.severity as AlertSeverity,
      enabled: row.enabled,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "One firing of an alert rule; at most one per rule is open (FIRING or ACKNOWLEDGED)." })
export class Alert {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  ruleId: string;

  @Field(() => ID)
  monitorId: string;

  @Field()
  servedName: string;

  @Field()
  metric: string;

  @Field()
  feature: string;

  @Field(() => AlertSeverity)
  severity: AlertSeverity;

  @Field(() => AlertStatus)
  status: AlertStatus;

  @Field(() => Float, { description: "The metric in the window that fired it." })
  value: number;

  @Field(() => Float)
  threshold: number;

  @Field(() => ID, { description: "The window that fired it." })
  windowId: string;

  @Field()
  firedAt: Date;

  @Field(() => Date, { nullable: true })
  acknowledgedAt: Date | null;

  @Field(() => ID, { nullable: true })
  acknowledgedBy: string | null;

  @Field(() => Date, { nullable: true })
  resolvedAt: Date | null;

  @Field(() => ID, { nullable: true, description: "Who resolved it; null when it resolved on its own." })
  resolvedBy: string | null;

  @Field(() => ID, { nullable: true, description: "The window that no longer breached, when it resolved on its own." })
  resolvedWindowId: string | null;

  @Field()
  note: string;

  static from(row: AlertRow): Alert {
    return Object.assign(new Alert(), {
      ...row,
      value: Number(row.value),
      threshold: Number(row.threshold),
      severity: row.severity as AlertSeverity,
      status: row.status as AlertStatus,
    });
  }
}

export const AlertRuleConnection = Connection(AlertRule, "AlertRule");
export type AlertRuleConnection = InstanceType<typeof AlertRuleConnection>;
export const { Order: AlertRuleOrder, sortOf: alertRuleSort } = OrderBy("AlertRule", { NAME: "name", CREATED_AT: "createdAt" } as const, {
  property: "name",
  direction: "ASC",
});
export type AlertRuleOrder = InstanceType<typeof AlertRuleOrder>;

@InputType()
export class AlertRuleFilter {
  @Field(() => ID, { nullable: true })
  monitorId?: string | null;

  @Field(() => String, { nullable: true, description: "Rules of the monitors of this served name." })
  servedName?: string | null;
}

export const AlertConnection = Connection(Alert, "Alert");
export type AlertConnection = InstanceType<typeof AlertConnection>;
export const { Order: AlertOrder, sortOf: alertSort } = OrderBy("Alert", { FIRED_AT: "firedAt" } as const, {
  property: "firedAt",
  direction: "DESC",
});
export type AlertOrder = InstanceType<typeof AlertOrder>;

// ---- inputs

@InputType()
export class CreateMonitorInput {
  @Field(() => ID)
  projectId: string;

  @Field({ description: "The endpoint or model name requests address." })
  servedName: string;

  @Field(() => String, { nullable: true, description: "primary (default), canary or shadow." })
  variant?: string | null;

  @Field(() => Int, { nullable: true, description: "Close a window every this many predictions." })
  windowSize?: number | null;

  @Field(() => Int, { nullable: true, description: "Close a window every this many seconds." })
  windowSeconds?: number | null;

  @Field(() => [FeatureOverrideInput], { nullable: true })
  featureOverrides?: FeatureOverrideInput[] | null;

  @Field(() => Float, { nullable: true, description: "Default 0.5." })
  driftShare?: number | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Also window the predictions logged before the monitor was created (default false: only those after).",
  })
  includeHistory?: boolean | null;
}

@InputType({ description: "Fields left out stay; windowSize or windowSeconds 0 removes that trigger; featureOverrides replaces the list." })
export class UpdateMonitorInput {
  @Field(() => ID)
  monitorId: string;

  @Field(() => Int, { nullable: true })
  windowSize?: number | null;

  @Field(() => Int, { nullable: true })
  windowSeconds?: number | null;

  @Field(() => [FeatureOverrideInput], { nullable: true })
  featureOverrides?: FeatureOverrideInput[] | null;

  @Field(() => Float, { nullable: true })
  driftShare?: number | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@InputType()
export class MonitorIdInput {
  @Field(() => ID)
  monitorId: string;
}

@InputType()
export class SetMonitoringReferenceInput {
  @Field(() => ID)
  modelVersionId: string;

  @Field(() => ID, {
    nullable: true,
    description:
      "A dataset version with columns named like the model's inputs; without it, the version's training data (lineage) is read again.",
  })
  datasetVersionId?: string | null;
}

@InputType()
export class CreateAlertRuleInput {
  @Field(() => ID)
  projectId: string;

  @Field(() => ID, { nullable: true, description: "The monitor; or give servedName (and variant)." })
  monitorId?: string | null;

  @Field(() => String, { nullable: true })
  servedName?: string | null;

  @Field(() => String, { nullable: true, description: "Default primary." })
  variant?: string | null;

  @Field()
  name: string;

  @Field({
    description:
      "dataset_drift_share, feature_drift:<feature>, drift_score (with feature), prediction_drift_score, roc_auc, roc_auc_delta…",
  })
  metric: string;

  @Field(() => String, { nullable: true, description: "The feature of a per-feature metric (or write metric:feature)." })
  feature?: string | null;

  @Field(() => AlertOp)
  op: AlertOp;

  @Field(() => Float)
  threshold: number;

  @Field(() => Int, { nullable: true, description: "Windows in a row that must breach; default 1." })
  windows?: number | null;

  @Field(() => AlertSeverity, { nullable: true, description: "Default WARNING." })
  severity?: AlertSeverity | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@InputType({ description: "Fields left out stay." })
export class UpdateAlertRuleInput {
  @Field(() => ID)
  ruleId: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  metric?: string | null;

  @Field(() => String, { nullable: true })
  feature?: string | null;

  @Field(() => AlertOp, { nullable: true })
  op?: AlertOp | null;

  @Field(() => Float, { nullable: true })
  threshold?: number | null;

  @Field(() => Int, { nullable: true })
  windows?: number | null;

  @Field(() => AlertSeverity, { nullable: true })
  severity?: AlertSeverity | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@InputType()
export class AlertRuleIdInput {
  @Field(() => ID)
  ruleId: string;
}

@InputType()
export class AlertActionInput {
  @Field(() => ID)
  alertId: string;

  @Field(() => String, { nullable: true })
  note?: string | null;
}

@InputType()
export class AlertFilter {
  @Field(() => AlertStatus, { nullable: true })
  status?: AlertStatus | null;

  @Field(() => String, { nullable: true })
  servedName?: string | null;

  @Field(() => ID, { nullable: true })
  ruleId?: string | null;
}

// ---- payloads

@ObjectType()
export class MonitorPayload {
  @Field(() => Monitor)
  monitor: Monitor;
}
export const MonitorResult = MutationResult("Monitor", MonitorPayload);

@ObjectType()
export class DeleteMonitorPayload {
  @Field(() => ID)
  monitorId: string;
}
export const DeleteMonitorResult = MutationResult("DeleteMonitor", DeleteMonitorPayload);

@ObjectType()
export class MonitoringWindowPayload {
  @Field(() => MonitoringWindow, { nullable: true, description: "The window stored; null when another process closed it first." })
  window: MonitoringWindow | null;
}
export const MonitoringWindowResult = MutationResult("MonitoringWindow", MonitoringWindowPayload);

@ObjectType()
export class MonitoringReferencePayload {
  @Field(() => MonitoringReference)
  reference: MonitoringReference;
}
export const MonitoringReferenceResult = MutationResult("MonitoringReference", MonitoringReferencePayload);

@ObjectType()
export class AlertRulePayload {
  @Field(() => AlertRule)
  rule: AlertRule;
}
export const AlertRuleResult = MutationResult("AlertRule", AlertRulePayload);

@ObjectType()
export class DeleteAlertRulePayload {
  @Field(() => ID)
  ruleId: string;
}
export const DeleteAlertRuleResult = MutationResult("DeleteAlertRule", DeleteAlertRulePayload);

@ObjectType()
export class AlertPayload {
  @Field(() => Alert)
  alert: Alert;
}
export const AlertResult = MutationResult("Alert", AlertPayload);

export { GraphQLJSON };
