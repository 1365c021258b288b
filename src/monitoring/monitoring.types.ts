import { GraphQLJSON, GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
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
registerEnumType(AlertOp, {
  name: "AlertOp",
  description: "How an alert rule compares a metric with its threshold: >, ≥, <, ≤.",
  valuesConfig: {
    GT: { description: "Breaches when the metric is above the threshold." },
    GTE: { description: "Breaches when the metric is at or above the threshold." },
    LT: { description: "Breaches when the metric is below the threshold." },
    LTE: { description: "Breaches when the metric is at or below the threshold." },
  },
});

export enum AlertSeverity {
  INFO = "INFO",
  WARNING = "WARNING",
  CRITICAL = "CRITICAL",
}
registerEnumType(AlertSeverity, {
  name: "AlertSeverity",
  description: "How urgent a rule's alerts are; carried on the alert and its notifications.",
  valuesConfig: {
    INFO: { description: "For information; nothing needs doing." },
    WARNING: { description: "Worth a look soon (the default)." },
    CRITICAL: { description: "Needs attention now." },
  },
});

export enum AlertStatus {
  FIRING = "FIRING",
  ACKNOWLEDGED = "ACKNOWLEDGED",
  RESOLVED = "RESOLVED",
}
registerEnumType(AlertStatus, {
  name: "AlertStatus",
  description: "Where an alert stands; FIRING and ACKNOWLEDGED are open, RESOLVED is final.",
  valuesConfig: {
    FIRING: { description: "The rule breached and nobody has acknowledged it." },
    ACKNOWLEDGED: { description: "Someone acknowledged it; it stays open until it resolves." },
    RESOLVED: { description: "Resolved by a person, or on its own when a window no longer breached or the SLA recovered." },
  },
});

export enum AlertSource {
  MONITOR = "MONITOR",
  SLA = "SLA",
}
registerEnumType(AlertSource, {
  name: "AlertSource",
  description: "What opened an alert.",
  valuesConfig: {
    MONITOR: { description: "An alert rule of a monitor fired on a closed window." },
    SLA: { description: "An SLA was breached (see `slas`); it resolves on its own when the SLA recovers." },
  },
});

@ObjectType({ description: "A drift test chosen for one feature instead of the default." })
export class FeatureOverride {
  @Field({ description: "The feature (model input) the override applies to." })
  feature: string;

  @Field(() => String, { nullable: true, description: "ks, wasserstein, psi (numbers); chisquare, jensenshannon, psi (categories)." })
  method: string | null;

  @Field(() => Float, { nullable: true, description: "p-value below it (ks, chisquare) or distance at or above it drifts." })
  threshold: number | null;
}

@InputType({ description: "A drift test for one feature instead of the monitor's default." })
export class FeatureOverrideInput {
  @Field({ description: "The feature (model input) to override." })
  feature: string;

  @Field(() => String, { nullable: true, description: "ks, wasserstein, psi (numbers); chisquare, jensenshannon, psi (categories)." })
  method?: string | null;

  @Field(() => Float, {
    nullable: true,
    description: "p-value below it (ks, chisquare) or distance at or above it drifts; the method's default when left out.",
  })
  threshold?: number | null;
}

@ObjectType({ description: "Watches one served name (endpoint or model) and variant: closes windows of its predictions." })
export class Monitor {
  @Field(() => ID, { description: "Server-assigned UUID of the monitor." })
  id: string;

  @Field(() => ID, { description: "The monitor's project." })
  projectId: string;

  @Field({ description: "The endpoint or model name requests address (the prediction log's servedName)." })
  servedName: string;

  @Field({ description: "primary, canary or shadow." })
  variant: string;

  @Field(() => Int, { nullable: true, description: "A window closes every this many predictions." })
  windowSize: number | null;

  @Field(() => Int, { nullable: true, description: "A window closes every this many seconds (when it has predictions)." })
  windowSeconds: number | null;

  @Field(() => [FeatureOverride], { description: "Per-feature drift tests replacing the default; empty when none." })
  featureOverrides: FeatureOverride[];

  @Field(() => Float, { description: "The dataset drifts when at least this share of features drift." })
  driftShare: number;

  @Field({ description: "False: no windows close and no alerts fire." })
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

  @Field({ description: "When the monitor was created." })
  createdAt: Date;

  @Field({ description: "When the monitor was last changed." })
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

export const {
  Connection: MonitorConnection,
  Order: MonitorOrder,
  sortOf: monitorSort,
  Filter: MonitorFilter,
} = ListTypes(Monitor, "Monitor", {
  orderBy: { SERVED_NAME: "servedName", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "servedName", direction: "ASC" },
  filter: {
    servedName: FilterBy.text("Only monitors of this served name (endpoint or model), exactly."),
    variant: FilterBy.text("Only monitors of this variant: primary, canary or shadow."),
    enabled: FilterBy.flag("True: only enabled monitors; false: only disabled ones."),
  },
});
export type MonitorConnection = InstanceType<typeof MonitorConnection>;
export type MonitorOrder = InstanceType<typeof MonitorOrder>;
export type MonitorFilter = InstanceType<typeof MonitorFilter>;

@ObjectType({ description: "One value of one metric in one window; feature is '' for a window-level metric." })
export class MetricValue {
  @Field({ description: "The metric's name, e.g. drift_score or roc_auc." })
  metric: string;

  @Field({ description: "The feature of a per-feature metric; '' for a window-level metric." })
  feature: string;

  @Field(() => Float, { description: "The metric's value in the window." })
  value: number;

  static from(row: MonitoringMetricRow): MetricValue {
    return Object.assign(new MetricValue(), { metric: row.metric, feature: row.feature, value: Number(row.value) });
  }
}

@ObjectType({ description: "A closed window: drift against the training reference, data quality and live performance." })
export class MonitoringWindow {
  @Field(() => ID, { description: "Server-assigned UUID of the window." })
  id: string;

  @Field(() => ID, { description: "The monitor that closed the window." })
  monitorId: string;

  @Field(() => ID, { description: "The monitor's project." })
  projectId: string;

  @Field({ description: "The served name (endpoint or model) whose predictions the window holds." })
  servedName: string;

  @Field({ description: "primary, canary or shadow." })
  variant: string;

  @Field(() => Int, { description: "1, 2, … per monitor." })
  sequence: number;

  @Field({ description: "COUNT, TIME or MANUAL." })
  reason: string;

  @Field(() => ID, { description: "The version whose training reference the window was compared with." })
  modelVersionId: string;

  @Field(() => Int, { description: "Predictions in the window." })
  rows: number;

  @Field(() => Int, { description: "Rows with an outcome when the window closed." })
  outcomes: number;

  @Field({ description: "Time of the window's first prediction." })
  firstPredictionAt: Date;

  @Field({ description: "Time of the window's last prediction." })
  lastPredictionAt: Date;

  @Field({ description: "When the window closed." })
  closedAt: Date;

  @Field(() => Boolean, {
    nullable: true,
    description: "Whether at least the monitor's `driftShare` of features drifted; null when drift could not be computed (see `problem`).",
  })
  datasetDrift: boolean | null;

  @Field(() => Float, { nullable: true, description: "The share of features that drifted, 0-1; null when drift could not be computed." })
  driftedShare: number | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      "The drift report: per feature {feature, kind, method, statistic, pValue, score, threshold, drifted, psi, nullShare, referenceSampled, referenceSampleSize, outOfRangeShare | unseenShare, histograms…}, prediction, shares, sampled.",
  })
  drift: Record<string, unknown> | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Whether any drift statistic was computed on a sample of the training reference instead of all of it (a numeric feature with more " +
      "than 1,000,000 reference values; each feature's `referenceSampled` in `drift` says which). False when every statistic is exact; " +
      "null when drift could not be computed or the window was closed before this was recorded.",
  })
  driftSampled: boolean | null;

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
      driftSampled: typeof row.drift?.sampled === "boolean" ? row.drift.sampled : null,
      performance: row.performance,
      problem: row.problem,
      metricRows: metrics,
    });
  }
}

export const {
  Connection: MonitoringWindowConnection,
  Order: MonitoringWindowOrder,
  sortOf: monitoringWindowSort,
  Filter: MonitoringWindowFilter,
} = ListTypes(MonitoringWindow, "MonitoringWindow", {
  orderBy: { CLOSED_AT: "closedAt", SEQUENCE: "sequence" } as const,
  defaultOrder: { property: "closedAt", direction: "DESC" },
  filter: {
    variant: FilterBy.text("primary, canary or shadow; all when left out."),
    since: FilterBy.time("Only windows closed at or after."),
    datasetDrift: FilterBy.flag("Only windows whose dataset drifted (true) or did not (false)."),
  },
  filterDescription: "Narrows a served name's windows: a window must match every field given.",
});
export type MonitoringWindowConnection = InstanceType<typeof MonitoringWindowConnection>;
export type MonitoringWindowOrder = InstanceType<typeof MonitoringWindowOrder>;
export type MonitoringWindowFilter = InstanceType<typeof MonitoringWindowFilter>;

@ObjectType({ description: "One point of a series: the value in one window." })
export class DriftPoint {
  @Field({ description: "When the window closed." })
  at: Date;

  @Field(() => Float, { description: "The metric's value in that window." })
  value: number;

  @Field(() => ID, { description: "The window." })
  windowId: string;

  @Field(() => Int, { description: "The window's sequence number in its monitor." })
  sequence: number;
}

@ObjectType({ description: "A plot-ready series: one metric (of one feature, or '' for the window) over windows, oldest first." })
export class DriftSeries {
  @Field({ description: "The metric's name." })
  metric: string;

  @Field({ description: "The feature; '' for a window-level metric." })
  feature: string;

  @Field(() => [DriftPoint], { description: "The values, oldest window first." })
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
  @Field({ description: "The served name (endpoint or model) asked for." })
  servedName: string;

  @Field(() => [DriftSeries], { description: "One series per (metric, feature), sorted by metric then feature." })
  series: DriftSeries[];
}

@ObjectType({ description: "A model version's training reference: what windows are compared with." })
export class MonitoringReference {
  @Field(() => ID, { description: "Server-assigned UUID of the reference." })
  id: string;

  @Field(() => ID, { description: "The model version it is the reference of." })
  modelVersionId: string;

  @Field({ description: "TRAINING (the data it was trained on, by lineage) or DATASET (set from a dataset version)." })
  source: string;

  @Field(() => ID, { nullable: true, description: "The dataset version it was computed from; null when it is unknown." })
  datasetVersionId: string | null;

  @Field(() => String, { nullable: true, description: "The prediction column: `probabilities[1]`, `variable`, `label`…" })
  predictionColumn: string | null;

  @Field(() => [String], { description: "The features (the model's inputs)." })
  features: string[];

  @Field(() => Int, { description: "Rows summarized." })
  rows: number;

  @Field(() => GraphQLJSONObject, {
    description: "The ReferenceSummary (per feature: counts, moments, PSI bins, histogram, sample or category counts).",
  })
  summary: Record<string, unknown>;

  @Field({ description: "When it was computed." })
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
  @Field(() => ID, { description: "Server-assigned UUID of the rule." })
  id: string;

  @Field(() => ID, { description: "The rule's project." })
  projectId: string;

  @Field(() => ID, { description: "The monitor whose windows the rule checks." })
  monitorId: string;

  @Field({ description: "The rule's name." })
  name: string;

  @Field({ description: "A metric a window stores: dataset_drift_share, feature_drift, drift_score, psi, prediction_drift, roc_auc…" })
  metric: string;

  @Field({ description: "The feature of a per-feature metric; '' for a window metric." })
  feature: string;

  @Field(() => AlertOp, { description: "How the metric is compared with `threshold`." })
  op: AlertOp;

  @Field(() => Float, { description: "The value the metric is compared with." })
  threshold: number;

  @Field(() => Int, { description: "Windows in a row that must breach." })
  windows: number;

  @Field(() => AlertSeverity, { description: "How urgent its alerts are." })
  severity: AlertSeverity;

  @Field({ description: "False: the rule fires no alerts." })
  enabled: boolean;

  @Field({ description: "When the rule was created." })
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

@ObjectType({
  description: "One firing of an alert rule, or one breach of an SLA; at most one per rule, and per SLA, is open (FIRING or ACKNOWLEDGED).",
})
export class Alert {
  @Field(() => ID, { description: "Server-assigned UUID of the alert." })
  id: string;

  @Field(() => ID, { description: "The alert's project." })
  projectId: string;

  @Field(() => AlertSource, { description: "A monitor's alert rule, or an SLA." })
  source: AlertSource;

  @Field(() => ID, { nullable: true, description: "The rule that fired; null for an SLA's alert." })
  ruleId: string | null;

  @Field(() => ID, { nullable: true, description: "The monitor of the rule; null for an SLA's alert." })
  monitorId: string | null;

  @Field(() => ID, { nullable: true, description: "The SLA breached; null for a rule's alert." })
  slaId: string | null;

  @Field({
    description:
      "The served name (endpoint or model) the alert is about; for an SLA's alert, its subject (pipeline, dataset or endpoint name).",
  })
  servedName: string;

  @Field({ description: "The rule's metric, or the SLA's kind (e.g. PIPELINE_FRESHNESS)." })
  metric: string;

  @Field({ description: "The rule's feature; '' for a window metric." })
  feature: string;

  @Field(() => AlertSeverity, { description: "The rule's severity when it fired." })
  severity: AlertSeverity;

  @Field(() => AlertStatus, { description: "Open (FIRING, ACKNOWLEDGED) or RESOLVED." })
  status: AlertStatus;

  @Field(() => Float, { description: "The metric in the window that fired it, or the SLA's observed value when it broke." })
  value: number;

  @Field(() => Float, { description: "The rule's threshold when it fired, or the SLA's objective." })
  threshold: number;

  @Field(() => ID, { nullable: true, description: "The window that fired it; null for an SLA's alert." })
  windowId: string | null;

  @Field({ description: "When the alert fired." })
  firedAt: Date;

  @Field(() => Date, { nullable: true, description: "When it was acknowledged; null until it is." })
  acknowledgedAt: Date | null;

  @Field(() => ID, { nullable: true, description: "Who acknowledged it; null until someone does." })
  acknowledgedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When it resolved; null while open." })
  resolvedAt: Date | null;

  @Field(() => ID, { nullable: true, description: "Who resolved it; null when it resolved on its own." })
  resolvedBy: string | null;

  @Field(() => ID, { nullable: true, description: "The window that no longer breached, when it resolved on its own." })
  resolvedWindowId: string | null;

  @Field({ description: "The note of the last acknowledge or resolve; empty when none was given." })
  note: string;

  static from(row: AlertRow): Alert {
    return Object.assign(new Alert(), {
      ...row,
      value: Number(row.value),
      threshold: Number(row.threshold),
      severity: row.severity as AlertSeverity,
      status: row.status as AlertStatus,
      source: row.source as AlertSource,
    });
  }
}

export const {
  Connection: AlertRuleConnection,
  Order: AlertRuleOrder,
  sortOf: alertRuleSort,
  Filter: AlertRuleFilter,
} = ListTypes(AlertRule, "AlertRule", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    monitorId: FilterBy.id("Only rules of this monitor."),
    servedName: FilterBy.text("Rules of the monitors of this served name."),
  },
});
export type AlertRuleConnection = InstanceType<typeof AlertRuleConnection>;
export type AlertRuleOrder = InstanceType<typeof AlertRuleOrder>;
export type AlertRuleFilter = InstanceType<typeof AlertRuleFilter>;

export const {
  Connection: AlertConnection,
  Order: AlertOrder,
  sortOf: alertSort,
  Filter: AlertFilter,
} = ListTypes(Alert, "Alert", {
  orderBy: { FIRED_AT: "firedAt" } as const,
  defaultOrder: { property: "firedAt", direction: "DESC" },
  filter: {
    status: FilterBy.oneOf(AlertStatus, "Only alerts in this status, e.g. FIRING."),
    servedName: FilterBy.text("Only alerts of this served name (endpoint or model)."),
    ruleId: FilterBy.id("Only alerts of this rule."),
    source: FilterBy.oneOf(AlertSource, "Only alerts of this source: MONITOR (alert rules) or SLA."),
    slaId: FilterBy.id("Only alerts of this SLA."),
  },
});
export type AlertConnection = InstanceType<typeof AlertConnection>;
export type AlertOrder = InstanceType<typeof AlertOrder>;
export type AlertFilter = InstanceType<typeof AlertFilter>;

// ---- inputs

@InputType({ description: "A new monitor of a served name and variant; give `windowSize`, `windowSeconds` or both." })
export class CreateMonitorInput {
  @Field(() => ID, { description: "The project of the served name." })
  projectId: string;

  @Field({ description: "The endpoint or model name requests address." })
  servedName: string;

  @Field(() => String, { nullable: true, description: "primary (default), canary or shadow." })
  variant?: string | null;

  @Field(() => Int, { nullable: true, description: "Close a window every this many predictions." })
  windowSize?: number | null;

  @Field(() => Int, { nullable: true, description: "Close a window every this many seconds." })
  windowSeconds?: number | null;

  @Field(() => [FeatureOverrideInput], { nullable: true, description: "Per-feature drift tests replacing the default." })
  featureOverrides?: FeatureOverrideInput[] | null;

  @Field(() => Float, { nullable: true, description: "Default 0.5." })
  driftShare?: number | null;

  @Field(() => Boolean, { nullable: true, description: "Default true." })
  enabled?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description: "Also window the predictions logged before the monitor was created (default false: only those after).",
  })
  includeHistory?: boolean | null;
}

@InputType({ description: "Fields left out stay; windowSize or windowSeconds 0 removes that trigger; featureOverrides replaces the list." })
export class UpdateMonitorInput {
  @Field(() => ID, { description: "The monitor to change." })
  monitorId: string;

  @Field(() => Int, { nullable: true, description: "Close a window every this many predictions; 0 removes it." })
  windowSize?: number | null;

  @Field(() => Int, { nullable: true, description: "Close a window every this many seconds; 0 removes it." })
  windowSeconds?: number | null;

  @Field(() => [FeatureOverrideInput], { nullable: true, description: "Replaces the per-feature drift tests." })
  featureOverrides?: FeatureOverrideInput[] | null;

  @Field(() => Float, { nullable: true, description: "The share of drifting features, 0-1, at which the dataset drifts." })
  driftShare?: number | null;

  @Field(() => Boolean, { nullable: true, description: "Enables or disables the monitor." })
  enabled?: boolean | null;
}

@InputType({ description: "Names one monitor." })
export class MonitorIdInput {
  @Field(() => ID, { description: "The monitor's id." })
  monitorId: string;
}

@InputType({ description: "Sets a model version's training reference, from a dataset version or its training data again." })
export class SetMonitoringReferenceInput {
  @Field(() => ID, { description: "The model version." })
  modelVersionId: string;

  @Field(() => ID, {
    nullable: true,
    description:
      "A dataset version with columns named like the model's inputs; without it, the version's training data (lineage) is read again.",
  })
  datasetVersionId?: string | null;
}

@InputType({ description: "A new alert rule on a monitor." })
export class CreateAlertRuleInput {
  @Field(() => ID, { description: "The project of the monitor." })
  projectId: string;

  @Field(() => ID, { nullable: true, description: "The monitor; or give servedName (and variant)." })
  monitorId?: string | null;

  @Field(() => String, { nullable: true, description: "The served name of the monitor, when `monitorId` is not given." })
  servedName?: string | null;

  @Field(() => String, { nullable: true, description: "Default primary." })
  variant?: string | null;

  @Field({ description: "The rule's name." })
  name: string;

  @Field({
    description:
      "dataset_drift_share, feature_drift:<feature>, drift_score (with feature), prediction_drift_score, roc_auc, roc_auc_delta…",
  })
  metric: string;

  @Field(() => String, { nullable: true, description: "The feature of a per-feature metric (or write metric:feature)." })
  feature?: string | null;

  @Field(() => AlertOp, { description: "How the metric is compared with `threshold`." })
  op: AlertOp;

  @Field(() => Float, { description: "The value the metric is compared with." })
  threshold: number;

  @Field(() => Int, { nullable: true, description: "Windows in a row that must breach; default 1." })
  windows?: number | null;

  @Field(() => AlertSeverity, { nullable: true, description: "Default WARNING." })
  severity?: AlertSeverity | null;

  @Field(() => Boolean, { nullable: true, description: "Default true." })
  enabled?: boolean | null;
}

@InputType({ description: "Fields left out stay." })
export class UpdateAlertRuleInput {
  @Field(() => ID, { description: "The rule to change." })
  ruleId: string;

  @Field(() => String, { nullable: true, description: "A new name." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "A new metric." })
  metric?: string | null;

  @Field(() => String, { nullable: true, description: "A new feature ('' for a window metric)." })
  feature?: string | null;

  @Field(() => AlertOp, { nullable: true, description: "A new comparison." })
  op?: AlertOp | null;

  @Field(() => Float, { nullable: true, description: "A new threshold." })
  threshold?: number | null;

  @Field(() => Int, { nullable: true, description: "Windows in a row that must breach." })
  windows?: number | null;

  @Field(() => AlertSeverity, { nullable: true, description: "A new severity." })
  severity?: AlertSeverity | null;

  @Field(() => Boolean, { nullable: true, description: "Enables or disables the rule." })
  enabled?: boolean | null;
}

@InputType({ description: "Names one alert rule." })
export class AlertRuleIdInput {
  @Field(() => ID, { description: "The rule's id." })
  ruleId: string;
}

@InputType({ description: "Acknowledges or resolves an alert." })
export class AlertActionInput {
  @Field(() => ID, { description: "The alert." })
  alertId: string;

  @Field(() => String, { nullable: true, description: "Why, or what was done; kept on the alert." })
  note?: string | null;
}

// ---- payloads

@ObjectType({ description: "The monitor a mutation created or changed." })
export class MonitorPayload {
  @Field(() => Monitor, { description: "The monitor as stored now." })
  monitor: Monitor;
}
export const MonitorResult = MutationResult("Monitor", MonitorPayload);

@ObjectType({ description: "The monitor a mutation deleted." })
export class DeleteMonitorPayload {
  @Field(() => ID, { description: "The deleted monitor's id." })
  monitorId: string;
}
export const DeleteMonitorResult = MutationResult("DeleteMonitor", DeleteMonitorPayload);

@ObjectType({ description: "The window a mutation closed." })
export class MonitoringWindowPayload {
  @Field(() => MonitoringWindow, { nullable: true, description: "The window stored; null when another process closed it first." })
  window: MonitoringWindow | null;
}
export const MonitoringWindowResult = MutationResult("MonitoringWindow", MonitoringWindowPayload);

@ObjectType({ description: "The training reference a mutation set." })
export class MonitoringReferencePayload {
  @Field(() => MonitoringReference, { description: "The reference as stored now." })
  reference: MonitoringReference;
}
export const MonitoringReferenceResult = MutationResult("MonitoringReference", MonitoringReferencePayload);

@ObjectType({ description: "The alert rule a mutation created or changed." })
export class AlertRulePayload {
  @Field(() => AlertRule, { description: "The rule as stored now." })
  rule: AlertRule;
}
export const AlertRuleResult = MutationResult("AlertRule", AlertRulePayload);

@ObjectType({ description: "The alert rule a mutation deleted." })
export class DeleteAlertRulePayload {
  @Field(() => ID, { description: "The deleted rule's id." })
  ruleId: string;
}
export const DeleteAlertRuleResult = MutationResult("DeleteAlertRule", DeleteAlertRulePayload);

@ObjectType({ description: "The alert a mutation acknowledged or resolved." })
export class AlertPayload {
  @Field(() => Alert, { description: "The alert as stored now." })
  alert: Alert;
}
export const AlertResult = MutationResult("Alert", AlertPayload);

export { GraphQLJSON };
