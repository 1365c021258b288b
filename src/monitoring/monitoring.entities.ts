import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { CreatedAtColumns, TimestampColumns } from "../db/audited-columns";

/**
 * The training reference of one model version: a ReferenceSummary (src/monitoring/drift) of the
 * data it was trained on, computed once with DuckDB and kept as JSON so that no window ever reads
 * the training set again. One per version; set again explicitly from a dataset version.
 */
@Entity({ name: "monitoring_references" })
@Index("monitoring_references_version_key", ["modelVersionId"], { unique: true })
export class MonitoringReferenceRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "model_version_id", type: "uuid" })
  modelVersionId: string;

  /** `TRAINING` (found through the version's lineage) or `DATASET` (set explicitly). */
  @Column({ type: "text" })
  source: "TRAINING" | "DATASET";

  /** The data it summarizes, when that is a dataset version. */
  @Column({ name: "dataset_version_id", type: "uuid", nullable: true })
  datasetVersionId: string | null;

  /** The prediction column: which output (and which of its values per row) is compared for prediction drift. */
  @Column({ name: "prediction_output", type: "text", nullable: true })
  predictionOutput: string | null;

  @Column({ name: "prediction_index", type: "int", nullable: true })
  predictionIndex: number | null;

  @Column({ type: "int" })
  rows: number;

  /** ReferenceSummary JSON (checked with parseReferenceSummary when read back). */
  @Column({ type: "jsonb" })
  summary: JsonObject;
}

/**
 * What is watched: one served name (an endpoint, or a model served by name) and variant of a
 * project. Windows close every `windowSize` predictions and/or every `windowSeconds` seconds. The
 * cursor (created_at, id of the last prediction consumed) is advanced in the transaction that
 * stores a window, guarded by the monitor's row lock, so a window is stored once however many
 * server processes try.
 */
@Entity({ name: "monitors" })
@Index("monitors_served_name_key", ["projectId", "servedName", "variant"], { unique: true })
export class MonitorRow extends TimestampColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "served_name", type: "text" })
  servedName: string;

  @Column({ type: "text", default: "primary" })
  variant: string;

  @Column({ name: "window_size", type: "int", nullable: true })
  windowSize: number | null;

  @Column({ name: "window_seconds", type: "int", nullable: true })
  windowSeconds: number | null;

  /** Per feature `{ method?, threshold? }` (drift report overrides). */
  @Column({ name: "feature_overrides", type: "jsonb", default: () => "'{}'" })
  featureOverrides: JsonObject;

  /** The dataset drifts when at least this share of features drift. */
  @Column({ name: "drift_share", type: "double precision", default: 0.5 })
  driftShare: number;

  @Column({ type: "boolean", default: true })
  enabled: boolean;

  @Column({ name: "cursor_at", type: "timestamptz", precision: 3, nullable: true })
  cursorAt: Date | null;

  @Column({ name: "cursor_id", type: "uuid", nullable: true })
  cursorId: string | null;

  /** Where the current time window began (the end of the last one, or the monitor's creation). */
  @Column({ name: "window_started_at", type: "timestamptz", precision: 3 })
  windowStartedAt: Date;

  @Column({ name: "window_count", type: "int", default: 0 })
  windowCount: number;
}

/** One closed window: what its predictions looked like next to the training reference. */
@Entity({ name: "monitoring_windows" })
@Index("monitoring_windows_sequence_key", ["monitorId", "sequence"], { unique: true })
@Index("monitoring_windows_served_idx", ["projectId", "servedName", "closedAt"])
export class MonitoringWindowRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "monitor_id", type: "uuid" })
  monitorId: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "served_name", type: "text" })
  servedName: string;

  @Column({ type: "text" })
  variant: string;

  /** 1, 2, … per monitor. */
  @Column({ type: "int" })
  sequence: number;

  /** `COUNT`, `TIME` or `MANUAL` (closeMonitoringWindow). */
  @Column({ type: "text" })
  reason: string;

  /** The version whose reference the window was compared with (the one that answered most of its rows). */
  @Column({ name: "model_version_id", type: "uuid" })
  modelVersionId: string;

  @Column({ type: "int" })
  rows: number;

  /** Rows that had an outcome when the window closed. */
  @Column({ type: "int" })
  outcomes: number;

  @Column({ name: "first_prediction_at", type: "timestamptz", precision: 3 })
  firstPredictionAt: Date;

  @Column({ name: "last_prediction_at", type: "timestamptz", precision: 3 })
  lastPredictionAt: Date;

  @Column({ name: "closed_at", type: "timestamptz", precision: 3 })
  closedAt: Date;

  @Column({ name: "dataset_drift", type: "boolean", nullable: true })
  datasetDrift: boolean | null;

  @Column({ name: "drifted_share", type: "double precision", nullable: true })
  driftedShare: number | null;

  /** Per-feature results and the prediction's (DriftReport without the plot data), or null when there was no reference. */
  @Column({ type: "jsonb", nullable: true })
  drift: JsonObject | null;

  /** Live metrics from outcomes, and the version's evaluation baseline. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  performance: JsonObject;

  /** Why drift could not be computed (no reference, inputs of the wrong type…). */
  @Column({ type: "text", nullable: true })
  problem: string | null;
}

/** The plot-ready time series: one value of one metric (of one feature, or '' for the window) per window. */
@Entity({ name: "monitoring_metrics" })
@Index("monitoring_metrics_series_idx", ["projectId", "servedName", "metric", "feature", "at"])
@Index("monitoring_metrics_window_idx", ["windowId"])
export class MonitoringMetricRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "window_id", type: "uuid" })
  windowId: string;

  @Column({ name: "monitor_id", type: "uuid" })
  monitorId: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "served_name", type: "text" })
  servedName: string;

  @Column({ type: "text" })
  metric: string;

  @Column({ type: "text", default: "" })
  feature: string;

  @Column({ type: "double precision" })
  value: number;

  /** The window's close time. */
  @Column({ type: "timestamptz", precision: 3 })
  at: Date;
}

/** Fires when the last `windows` windows of its monitor all breach `metric op threshold`. */
@Entity({ name: "alert_rules" })
@Index("alert_rules_name_key", ["projectId", "name"], { unique: true })
export class AlertRuleRow extends TimestampColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "monitor_id", type: "uuid" })
  monitorId: string;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text" })
  metric: string;

  /** The feature of a per-feature metric, '' for a window metric. */
  @Column({ type: "text", default: "" })
  feature: string;

  /** GT, GTE, LT, LTE. */
  @Column({ type: "text" })
  op: string;

  @Column({ type: "double precision" })
  threshold: number;

  @Column({ type: "int", default: 1 })
  windows: number;

  /** INFO, WARNING, CRITICAL. */
  @Column({ type: "text", default: "WARNING" })
  severity: string;

  @Column({ type: "boolean", default: true })
  enabled: boolean;
}

/**
 * One firing of a rule, or one breach of an SLA (`source` SLA, src/slas): both land in the
 * project's one alert list and are acknowledged and resolved the same way. At most one alert per
 * rule, and per SLA, is open (FIRING or ACKNOWLEDGED) — partial unique indexes make that hold even
 * if two processes race — so a rule that keeps breaching does not fire again until its alert is
 * resolved. An SLA alert has no rule, monitor nor window.
 */
@Entity({ name: "alerts" })
@Index("alerts_open_rule_key", ["ruleId"], { unique: true, where: "status <> 'RESOLVED'" })
@Index("alerts_open_sla_key", ["slaId"], { unique: true, where: "status <> 'RESOLVED'" })
@Index("alerts_project_idx", ["projectId", "firedAt"])
export class AlertRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  /** MONITOR (an alert rule fired on a window) or SLA (an SLA was breached). */
  @Column({ type: "text", default: "MONITOR" })
  source: string;

  /** The rule that fired; null for an SLA alert. */
  @Column({ name: "rule_id", type: "uuid", nullable: true })
  ruleId: string | null;

  @Column({ name: "monitor_id", type: "uuid", nullable: true })
  monitorId: string | null;

  /** The SLA breached; null for a rule's alert. */
  @Column({ name: "sla_id", type: "uuid", nullable: true })
  slaId: string | null;

  /** The served name a rule's alert is about; an SLA alert's subject (pipeline, dataset or endpoint name). */
  @Column({ name: "served_name", type: "text" })
  servedName: string;

  /** The rule's metric, or the SLA's kind. */
  @Column({ type: "text" })
  metric: string;

  @Column({ type: "text", default: "" })
  feature: string;

  @Column({ type: "text" })
  severity: string;

  /** FIRING, ACKNOWLEDGED, RESOLVED. */
  @Column({ type: "text" })
  status: string;

  /** The metric's value in the window that fired it, or the SLA's observed value when it broke. */
  @Column({ type: "double precision" })
  value: number;

  /** The rule's threshold, or the SLA's objective. */
  @Column({ type: "double precision" })
  threshold: number;

  @Column({ name: "window_id", type: "uuid", nullable: true })
  windowId: string | null;

  @Column({ name: "fired_at", type: "timestamptz", precision: 3 })
  firedAt: Date;

  @Column({ name: "acknowledged_at", type: "timestamptz", precision: 3, nullable: true })
  acknowledgedAt: Date | null;

  @Column({ name: "acknowledged_by", type: "uuid", nullable: true })
  acknowledgedBy: string | null;

  @Column({ name: "resolved_at", type: "timestamptz", precision: 3, nullable: true })
  resolvedAt: Date | null;

  /** Who resolved it; null when a window stopped breaching, or the SLA recovered (auto-resolved). */
  @Column({ name: "resolved_by", type: "uuid", nullable: true })
  resolvedBy: string | null;

  @Column({ name: "resolved_window_id", type: "uuid", nullable: true })
  resolvedWindowId: string | null;

  @Column({ type: "text", default: "" })
  note: string;
}
