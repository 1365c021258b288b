import type { Logger } from "pino";
import type { EntityManager } from "typeorm";
import { ConflictError, type InputProblem, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, paginate, type SortSpec } from "../kernel/pagination";
import type { ArtifactStore } from "../artifacts/store";
import type { Database } from "../db/data-source";
import type { DatasetService } from "../datasets";
import { AlertEvents, alertPayload } from "./alerts/alert-evaluator";
import { metricScope, splitMetric } from "./alerts/alert-metrics";
import {
  AlertRow,
  AlertRuleRow,
  MonitoringMetricRow,
  type MonitoringReferenceRow,
  MonitoringWindowRow,
  MonitorRow,
} from "./monitoring.entities";
import { checkMonitorSettings, fail, type FeatureOverrideInput, overridesObject, VARIANTS } from "./monitors/monitor-input";
import { ReferenceService } from "./references/reference.service";
import { ModelVersionRow } from "../registry";
import { WindowCloser, type WindowCloserDeps } from "./windows/window-closer";

type WriteTx = Pick<MutationTx, "manager" | "emit" | "caller">;

export interface CreateMonitorInput {
  projectId: string;
  servedName: string;
  variant?: string | null;
  windowSize?: number | null;
  windowSeconds?: number | null;
  featureOverrides?: FeatureOverrideInput[] | null;
  driftShare?: number | null;
  enabled?: boolean | null;
  includeHistory?: boolean | null;
}

/** A cursor id above every UUID: with the creation time, the cursor starts just after the monitor's creation. */
const AFTER_EVERY_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff";

export interface UpdateMonitorInput {
  monitorId: string;
  windowSize?: number | null;
  windowSeconds?: number | null;
  featureOverrides?: FeatureOverrideInput[] | null;
  driftShare?: number | null;
  enabled?: boolean | null;
}

export interface AlertRuleInput {
  name?: string | null;
  metric?: string | null;
  feature?: string | null;
  op?: string | null;
  threshold?: number | null;
  windows?: number | null;
  severity?: string | null;
  enabled?: boolean | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs: anything else names nothing (and must not reach PostgreSQL, which would refuse the cast). */
export function isId(id: string | null | undefined): id is string {
  return typeof id === "string" && UUID.test(id);
}

export const SEVERITIES = ["INFO", "WARNING", "CRITICAL"] as const;
const OPS = ["GT", "GTE", "LT", "LTE"];

export interface SeriesPoint {
  metric: string;
  feature: string;
  value: number;
  at: Date;
  windowId: string;
  sequence: number;
}

/**
 * Monitors, their windows and metric series, alert rules and alerts: the stored side of
 * monitoring. The loop that closes windows is MonitoringLoop (monitoring-loop.ts); the statistics
 * are src/monitoring/drift.
 */
export class MonitoringService {
  readonly references: ReferenceService;
  private closer: WindowCloser | undefined;

  constructor(
    private readonly db: Database,
    store: ArtifactStore,
    datasets: DatasetService,
    readonly maxWindowRows: number,
  ) {
    this.references = new ReferenceService(db, store, datasets);
  }

  /** The window closer needs every service (the prediction log, events): bound once they exist. */
  bind(services: WindowCloserDeps, log: Logger): void {
    this.closer = new WindowCloser(services, this.references, { maxRows: this.maxWindowRows }, log);
  }

  get windows(): WindowCloser {
    if (!this.closer) throw new Error("MonitoringService.bind was not called");
    return this.closer;
  }

  private get manager(): EntityManager {
    return this.db.dataSource.manager;
  }

  // ---- monitors

  async createMonitor(tx: WriteTx, input: CreateMonitorInput): Promise<MonitorRow> {
    const problems: InputProblem[] = [];
    const servedName = (input.servedName ?? "").trim();
    if (servedName === "" || servedName.length > 200)
      problems.push({ field: "servedName", message: "must be 1 to 200 characters: an endpoint or model name" });
    const variant = input.variant ?? "primary";
    if (!(VARIANTS as readonly string[]).includes(variant))
      problems.push({ field: "variant", message: `must be one of ${VARIANTS.join(", ")}` });
    checkMonitorSettings(input, this.maxWindowRows, problems);
    if (!input.windowSize && !input.windowSeconds)
      problems.push({ field: "windowSize", message: "set windowSize (predictions per window) and/or windowSeconds" });
    fail(problems);
    const repo = tx.manager.getRepository(MonitorRow);
    const now = new Date();
    if (await repo.findOneBy({ projectId: input.projectId, servedName, variant }))
      throw new ConflictError(`a monitor of ${servedName} (${variant}) already exists in this project`, { field: "servedName" });
    return repo.save(
      repo.create({
        projectId: input.projectId,
        servedName,
        variant,
        windowSize: input.windowSize || null,
        windowSeconds: input.windowSeconds || null,
        featureOverrides: overridesObject(input.featureOverrides ?? []),
        driftShare: input.driftShare ?? 0.5,
        enabled: input.enabled ?? true,
        windowStartedAt: now,
        // Predictions logged before the monitor existed are history, read only when asked for.
        ...(input.includeHistory ? {} : { cursorAt: now, cursorId: AFTER_EVERY_ID }),
      }),
    );
  }

  async updateMonitor(tx: WriteTx, monitor: MonitorRow, input: UpdateMonitorInput): Promise<MonitorRow> {
    const problems: InputProblem[] = [];
    checkMonitorSettings(input, this.maxWindowRows, problems);
    const windowSize = input.windowSize != null ? input.windowSize || null : monitor.windowSize;
    const windowSeconds = input.windowSeconds != null ? input.windowSeconds || null : monitor.windowSeconds;
    if (!windowSize && !windowSeconds) problems.push({ field: "windowSize", message: "a monitor needs windowSize and/or windowSeconds" });
    fail(problems);
    if (windowSeconds !== monitor.windowSeconds) monitor.windowStartedAt = new Date();
    monitor.windowSize = windowSize;
    monitor.windowSeconds = windowSeconds;
    if (input.featureOverrides != null) monitor.featureOverrides = overridesObject(input.featureOverrides);
    if (input.driftShare != null) monitor.driftShare = input.driftShare;
    if (input.enabled != null) monitor.enabled = input.enabled;
    return tx.manager.getRepository(MonitorRow).save(monitor);
  }

  /** Deletes the monitor with its windows, series, rules and alerts. */
  async deleteMonitor(tx: WriteTx, monitor: MonitorRow): Promise<void> {
    for (const entity of [MonitoringMetricRow, MonitoringWindowRow, AlertRow, AlertRuleRow]) {
      await tx.manager.getRepository(entity).delete({ monitorId: monitor.id });
    }
    await tx.manager.getRepository(MonitorRow).delete({ id: monitor.id });
  }

  async monitor(id: string, manager = this.manager): Promise<MonitorRow | null> {
    if (!isId(id)) return null;
    return manager.getRepository(MonitorRow).findOneBy({ id });
  }

  monitors(
    projectId: string,
    filter: { servedName?: string | null; variant?: string | null; enabled?: boolean | null },
    page: PageArgs,
    sort: SortSpec<MonitorRow>,
  ): Promise<Page<MonitorRow>> {
    const qb = this.manager.getRepository(MonitorRow).createQueryBuilder("m").where("m.project_id = :projectId", { projectId });
    if (filter.servedName) qb.andWhere("m.served_name = :servedName", { servedName: filter.servedName });
    if (filter.variant) qb.andWhere("m.variant = :variant", { variant: filter.variant });
    if (filter.enabled != null) qb.andWhere("m.enabled = :enabled", { enabled: filter.enabled });
    return paginate(qb, page, sort);
  }

  enabledMonitors(): Promise<MonitorRow[]> {
    return this.manager.getRepository(MonitorRow).find({ where: { enabled: true }, order: { createdAt: "ASC" } });
  }

  async requireMonitor(id: string, manager = this.manager): Promise<MonitorRow> {
    const m = await this.monitor(id, manager);
    if (!m) throw new NotFoundError("Monitor", id);
    return m;
  }

  // ---- windows and series

  windowsOf(
    projectId: string,
    servedName: string,
    filter: { variant?: string | null; since?: Date | null; datasetDrift?: boolean | null },
    page: PageArgs,
    sort: SortSpec<MonitoringWindowRow> = { property: "closedAt", direction: "DESC" },
  ): Promise<Page<MonitoringWindowRow>> {
    const qb = this.manager
      .getRepository(MonitoringWindowRow)
      .createQueryBuilder("w")
      .where("w.project_id = :projectId AND w.served_name = :servedName", { projectId, servedName });
    if (filter.variant) qb.andWhere("w.variant = :variant", { variant: filter.variant });
    if (filter.since) qb.andWhere("w.closed_at >= :since", { since: filter.since });
    if (filter.datasetDrift != null) qb.andWhere("w.dataset_drift = :drift", { drift: filter.datasetDrift });
    return paginate(qb, page, sort);
  }

  async window(id: string): Promise<MonitoringWindowRow | null> {
    if (!isId(id)) return null;
    return this.manager.getRepository(MonitoringWindowRow).findOneBy({ id });
  }

  metricsOfWindow(windowId: string): Promise<MonitoringMetricRow[]> {
    return this.manager.getRepository(MonitoringMetricRow).find({ where: { windowId }, order: { metric: "ASC", feature: "ASC" } });
  }

  /** Points of the series, oldest first (at most `limit`, the newest ones). */
  async series(
    projectId: string,
    servedName: string,
    filter: { metric?: string | null; feature?: string | null; since?: Date | null; variant?: string | null },
    limit: number,
  ): Promise<SeriesPoint[]> {
    const params: unknown[] = [projectId, servedName];
    let where = `m.project_id = $1 AND m.served_name = $2`;
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where += ` AND ${sql.replace("?", `$${params.length}`)}`;
    };
    if (filter.metric) add("m.metric = ?", filter.metric);
    if (filter.feature != null) add("m.feature = ?", filter.feature);
    if (filter.since) add("m.at >= ?", filter.since);
    if (filter.variant) add("w.variant = ?", filter.variant);
    params.push(limit);
    const rows: Array<{ metric: string; feature: string; value: number; at: Date; window_id: string; sequence: number }> =
      await this.manager.query(
        `SELECT * FROM (SELECT m.metric, m.feature, m.value, m.at, m.window_id, w.sequence
           FROM monitoring_metrics m JOIN monitoring_windows w ON w.id = m.window_id
          WHERE ${where} ORDER BY m.at DESC, m.metric, m.feature LIMIT $${params.length}) s ORDER BY at, metric, feature`,
        params,
      );
    return rows.map((r) => ({
      metric: r.metric,
      feature: r.feature,
      value: Number(r.value),
      at: new Date(r.at),
      windowId: r.window_id,
      sequence: Number(r.sequence),
    }));
  }

  // ---- alert rules

  checkRule(input: AlertRuleInput, problems: InputProblem[], creating: boolean): { metric?: string; feature?: string } {
    if (creating || input.name != null) {
      const name = (input.name ?? "").trim();
      if (name === "" || name.length > 200) problems.push({ field: "name", message: "must be 1 to 200 characters" });
    }
    let out: { metric?: string; feature?: string } = {};
    if (creating || input.metric != null) {
      const { metric, feature } = splitMetric(input.metric ?? "", input.feature);
      const scope = metricScope(metric);
      if (!scope)
        problems.push({
          field: "metric",
          message: `unknown metric ${JSON.stringify(metric)}: use a window metric (dataset_drift_share, roc_auc…), feature_drift:<feature> (or drift_score, psi, null_share… with feature), or prediction_drift`,
        });
      else if (scope === "window" && feature !== "")
        problems.push({ field: "feature", message: `${metric} is a window metric: it has no feature` });
      else if (scope === "feature" && feature === "")
        problems.push({ field: "feature", message: `${metric} is per feature: name it (${metric}:<feature>, or the feature field)` });
      out = { metric, feature };
    }
    if (creating || input.op != null) {
      if (!OPS.includes(input.op ?? "")) problems.push({ field: "op", message: `must be one of ${OPS.join(", ")}` });
    }
    if (creating || input.threshold != null) {
      if (!Number.isFinite(input.threshold)) problems.push({ field: "threshold", message: "must be a finite number" });
    }
    if (input.windows != null && !(Number.isInteger(input.windows) && input.windows >= 1 && input.windows <= 100))
      problems.push({ field: "windows", message: "must be an integer from 1 to 100 (windows in a row)" });
    if (input.severity != null && !(SEVERITIES as readonly string[]).includes(input.severity))
      problems.push({ field: "severity", message: `must be one of ${SEVERITIES.join(", ")}` });
    return out;
  }

  async createRule(tx: WriteTx, monitor: MonitorRow, input: AlertRuleInput): Promise<AlertRuleRow> {
    const problems: InputProblem[] = [];
    const { metric, feature } = this.checkRule(input, problems, true);
    fail(problems);
    const repo = tx.manager.getRepository(AlertRuleRow);
    const name = input.name!.trim();
    if (await repo.findOneBy({ projectId: monitor.projectId, name }))
      throw new ConflictError(`an alert rule named ${name} already exists in this project`, { field: "name" });
    return repo.save(
      repo.create({
        projectId: monitor.projectId,
        monitorId: monitor.id,
        name,
        metric: metric!,
        feature: feature!,
        op: input.op!,
        threshold: input.threshold!,
        windows: input.windows ?? 1,
        severity: input.severity ?? "WARNING",
        enabled: input.enabled ?? true,
      }),
    );
  }

  async updateRule(tx: WriteTx, rule: AlertRuleRow, input: AlertRuleInput): Promise<AlertRuleRow> {
    const problems: InputProblem[] = [];
    const { metric, feature } = this.checkRule(input, problems, false);
    fail(problems);
    const repo = tx.manager.getRepository(AlertRuleRow);
    if (input.name != null && input.name.trim() !== rule.name) {
      const name = input.name.trim();
      if (await repo.findOneBy({ projectId: rule.projectId, name }))
        throw new ConflictError(`an alert rule named ${name} already exists in this project`, { field: "name" });
      rule.name = name;
    }
    if (metric !== undefined) {
      rule.metric = metric;
      rule.feature = feature ?? "";
    } else if (input.feature != null) {
      const p: InputProblem[] = [];
      this.checkRule({ metric: rule.metric, feature: input.feature }, p, false);
      fail(p);
      rule.feature = input.feature;
    }
    if (input.op != null) rule.op = input.op;
    if (input.threshold != null) rule.threshold = input.threshold;
    if (input.windows != null) rule.windows = input.windows;
    if (input.severity != null) rule.severity = input.severity;
    if (input.enabled != null) rule.enabled = input.enabled;
    return repo.save(rule);
  }

  async deleteRule(tx: WriteTx, rule: AlertRuleRow): Promise<void> {
    await tx.manager.getRepository(AlertRow).delete({ ruleId: rule.id });
    await tx.manager.getRepository(AlertRuleRow).delete({ id: rule.id });
  }

  async rule(id: string, manager = this.manager): Promise<AlertRuleRow | null> {
    if (!isId(id)) return null;
    return manager.getRepository(AlertRuleRow).findOneBy({ id });
  }

  rules(
    projectId: string,
    filter: { monitorId?: string | null; servedName?: string | null },
    page: PageArgs,
    sort: SortSpec<AlertRuleRow>,
  ): Promise<Page<AlertRuleRow>> {
    const qb = this.manager.getRepository(AlertRuleRow).createQueryBuilder("r").where("r.project_id = :projectId", { projectId });
    if (filter.monitorId) qb.andWhere("r.monitor_id = :monitorId", { monitorId: filter.monitorId });
    if (filter.servedName)
      qb.andWhere("r.monitor_id IN (SELECT id FROM monitors WHERE project_id = :projectId AND served_name = :servedName)", {
        servedName: filter.servedName,
      });
    return paginate(qb, page, sort);
  }

  // ---- alerts

  async alert(id: string, manager = this.manager): Promise<AlertRow | null> {
    if (!isId(id)) return null;
    return manager.getRepository(AlertRow).findOneBy({ id });
  }

  alerts(
    projectId: string,
    filter: { status?: string | null; servedName?: string | null; ruleId?: string | null; source?: string | null; slaId?: string | null },
    page: PageArgs,
    sort: SortSpec<AlertRow> = { property: "firedAt", direction: "DESC" },
  ): Promise<Page<AlertRow>> {
    const qb = this.manager.getRepository(AlertRow).createQueryBuilder("a").where("a.project_id = :projectId", { projectId });
    if (filter.status) qb.andWhere("a.status = :status", { status: filter.status });
    if (filter.servedName) qb.andWhere("a.served_name = :servedName", { servedName: filter.servedName });
    if (filter.ruleId) qb.andWhere("a.rule_id = :ruleId", { ruleId: filter.ruleId });
    if (filter.source) qb.andWhere("a.source = :source", { source: filter.source });
    if (filter.slaId) qb.andWhere("a.sla_id = :slaId", { slaId: filter.slaId });
    return paginate(qb, page, sort);
  }

  /** FIRING → ACKNOWLEDGED: someone is on it; it still resolves by itself when the metric recovers. */
  async acknowledge(tx: WriteTx, alert: AlertRow, note: string | null | undefined): Promise<AlertRow> {
    if (alert.status !== "FIRING")
      throw new ConflictError(`the alert is ${alert.status}; only a FIRING alert can be acknowledged`, { field: "alertId" });
    alert.status = "ACKNOWLEDGED";
    alert.acknowledgedAt = new Date();
    alert.acknowledgedBy = tx.caller.principalId;
    if (note) alert.note = note;
    const saved = await tx.manager.getRepository(AlertRow).save(alert);
    const rule = await this.ruleOf(tx.manager, alert);
    tx.emit({
      type: AlertEvents.acknowledged,
      projectId: alert.projectId,
      subjectId: alert.id,
      payload: alertPayload(saved, rule, { by: tx.caller.principalId }),
    });
    return saved;
  }

  /** The rule of a rule's alert; null for an SLA's alert, which has none. */
  private async ruleOf(manager: EntityManager, alert: AlertRow): Promise<AlertRuleRow | null> {
    return alert.ruleId ? manager.getRepository(AlertRuleRow).findOneByOrFail({ id: alert.ruleId }) : null;
  }

  /**
   * Closes an open alert by hand; the rule may fire again once its last windows breach again (an
   * SLA's alert: at its next breach, after it has recovered).
   */
  async resolve(tx: WriteTx, alert: AlertRow, note: string | null | undefined): Promise<AlertRow> {
    if (alert.status === "RESOLVED") throw new ConflictError("the alert is already RESOLVED", { field: "alertId" });
    alert.status = "RESOLVED";
    alert.resolvedAt = new Date();
    alert.resolvedBy = tx.caller.principalId;
    if (note) alert.note = note;
    const saved = await tx.manager.getRepository(AlertRow).save(alert);
    const rule = await this.ruleOf(tx.manager, alert);
    tx.emit({
      type: AlertEvents.resolved,
      projectId: alert.projectId,
      subjectId: alert.id,
      payload: alertPayload(saved, rule, { resolvedBy: tx.caller.principalId, automatic: false }),
    });
    return saved;
  }

  async reference(modelVersionId: string): Promise<MonitoringReferenceRow | null> {
    return isId(modelVersionId) ? this.references.get(modelVersionId) : null;
  }

  /** A model version by id; null for an unknown or malformed id. */
  async version(id: string): Promise<ModelVersionRow | null> {
    return isId(id) ? this.manager.getRepository(ModelVersionRow).findOneBy({ id }) : null;
  }

  /** Refuses filter ids that are not ids, naming the field. */
  static checkFilterIds(filter: Record<string, unknown>, fields: string[]): void {
    const problems: InputProblem[] = [];
    for (const f of fields) {
      const v = filter[f];
      if (v != null && !isId(v as string)) problems.push({ field: `filter.${f}`, message: "is not an id" });
    }
    fail(problems);
  }
}
