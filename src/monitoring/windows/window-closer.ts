import type { EntityManager } from "typeorm";
import type { Logger } from "pino";
import type { SystemTx } from "../../events/system-change";
import type { Database } from "../../db/data-source";
import type { EventBus } from "../../events/event-bus";
import type { MonitoringService } from "../monitoring.service";
import { runSystemChange } from "../../events/system-change";
import { ModelVersionRow, type ModelSignature, answerSignature } from "../../registry";
import { type Column, DriftInputError, driftReport, type DriftReport, type FeatureDrift, type ReferenceSummary } from "../drift";
import { evaluateAlertRules } from "../alerts/alert-evaluator";
import { MonitoringMetricRow, MonitoringWindowRow, MonitorRow } from "../monitoring.entities";
import { predictionColumnOf, predictionValue } from "../references/prediction-column";
import { ReferenceService } from "../references/reference.service";
import { type LabeledRow, livePerformance, PERFORMANCE_METRICS } from "./performance";

export const MonitoringEvents = {
  windowClosed: "monitoring.window.closed",
} as const;

/** What closing windows uses of the server. */
export interface WindowCloserDeps {
  db: Database;
  events: EventBus;
  monitoring: MonitoringService;
  /** The prediction log, flushed before a window reads its rows (rows still queued would be missed). */
  predictionLog: { log: { flush(): Promise<void> } };
}

export type CloseReason = "COUNT" | "TIME" | "MANUAL";

/** One point of the stored time series. */
export interface MetricPoint {
  metric: string;
  /** '' for a window-level metric. */
  feature: string;
  value: number;
}

/** A window computed outside any transaction, waiting to be stored. */
export interface PreparedWindow {
  monitorId: string;
  /** The monitor's state the window was read from; the store step refuses it if another process moved on. */
  expected: { windowCount: number; cursorId: string | null };
  reason: CloseReason;
  /** Null when the time window was empty: only the window start moves. */
  window: {
    modelVersionId: string;
    rows: number;
    outcomes: number;
    firstPredictionAt: Date;
    lastPredictionAt: Date;
    lastId: string;
    drift: Record<string, unknown> | null;
    datasetDrift: boolean | null;
    driftedShare: number | null;
    performance: Record<string, unknown>;
    problem: string | null;
    points: MetricPoint[];
  } | null;
  nextWindowStart: Date;
}

interface LoggedRow {
  id: string;
  model_version_id: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  outcome: unknown;
  created_at: Date;
}

export interface WindowSettings {
  /** Most rows one window reads (a time window with more is cut there; the rest goes to the next). */
  maxRows: number;
}

/**
 * Closes monitoring windows: reads the monitor's prediction rows after its cursor in
 * (created_at, id) order, compares them with the training reference of the version that answered
 * most of them (drift per feature and of the prediction, data quality), computes live performance
 * from the rows that have outcomes, and stores the window, its plot-ready metric points and any
 * alert state change in one transaction with the event `monitoring.window.closed`.
 */
export class WindowCloser {
  /** Parsed references by model version, keyed with the row id so a replaced reference is re-read. */
  private readonly references = new Map<string, { rowId: string; summary: ReferenceSummary; output: string | null; index: number }>();

  constructor(
    private readonly services: WindowCloserDeps,
    private readonly referenceService: ReferenceService,
    private readonly settings: WindowSettings,
    private readonly log: Logger,
  ) {}

  /**
   * Closes every window of the monitor that is due now, one after another — a backlog of several
   * windows' worth of predictions closes as that many windows, not one — and returns how many were
   * stored. Each is stored in a system change of its own, guarded by the monitor's lock and cursor.
   */
  async closeDue(monitorId: string, now = new Date(), maxWindows = 100): Promise<number> {
    let closed = 0;
    for (let round = 0; round < maxWindows; round++) {
      const monitor = await this.services.monitoring.monitor(monitorId);
      if (!monitor?.enabled) break;
      const prepared = await this.prepare(monitor, false, now);
      if (!prepared) break;
      const row = await runSystemChange(this.services, (tx) => this.commit(tx, prepared));
      if (row) closed++;
      else if (prepared.window) break; // another process stored it
    }
    return closed;
  }

  /**
   * What closing the monitor's window now would store, or null when no window is due (`MANUAL`
   * closes whatever rows there are; null when there are none). Runs outside transactions.
   */
  async prepare(monitor: MonitorRow, manual: boolean, now = new Date()): Promise<PreparedWindow | null> {
    // Rows this process still holds in its queue belong to the window too.
    await this.services.predictionLog.log.flush();
    const expected = { windowCount: monitor.windowCount, cursorId: monitor.cursorId };
    const timeEnd = monitor.windowSeconds ? new Date(monitor.windowStartedAt.getTime() + monitor.windowSeconds * 1000) : null;
    const timeDue = timeEnd !== null && now.getTime() >= timeEnd.getTime();
    const limit = manual ? this.settings.maxRows : Math.min(monitor.windowSize ?? this.settings.maxRows, this.settings.maxRows);
    const rows = await this.read(monitor, limit, !manual && timeDue ? timeEnd : null);
    let reason: CloseReason;
    let taken: LoggedRow[];
    if (manual) {
      if (rows.length === 0) return null;
      reason = "MANUAL";
      taken = rows;
    } else if (monitor.windowSize && rows.length >= monitor.windowSize) {
      reason = "COUNT";
      taken = rows.slice(0, monitor.windowSize);
    } else if (timeDue) {
      reason = "TIME";
      taken = rows;
      if (taken.length === 0) {
        // Nothing in the period: the next window starts at the last period boundary before now.
        const periods = Math.floor((now.getTime() - monitor.windowStartedAt.getTime()) / (monitor.windowSeconds! * 1000));
        return {
          monitorId: monitor.id,
          expected,
          reason,
          window: null,
          nextWindowStart: new Date(monitor.windowStartedAt.getTime() + periods * monitor.windowSeconds! * 1000),
        };
      }
    } else return null;
    const nextWindowStart = reason === "TIME" ? timeEnd! : now;
    return { monitorId: monitor.id, expected, reason, window: await this.compute(monitor, taken), nextWindowStart };
  }

  private async read(monitor: MonitorRow, limit: number, before: Date | null): Promise<LoggedRow[]> {
    const params: unknown[] = [monitor.projectId, monitor.servedName, monitor.variant];
    let where = `project_id = $1 AND served_name = $2 AND variant = $3`;
    if (monitor.cursorAt && monitor.cursorId) {
      params.push(monitor.cursorAt, monitor.cursorId);
      where += ` AND (created_at, id) > ($4, $5)`;
    }
    if (before) {
      params.push(before);
      where += ` AND created_at < $${params.length}`;
    }
    params.push(limit);
    const rows: LoggedRow[] = await this.services.db.dataSource.query(
      `SELECT id, model_version_id, inputs, outputs, outcome, created_at FROM predictions WHERE ${where}
        ORDER BY created_at, id LIMIT $${params.length}`,
      params,
    );
    for (const r of rows) r.created_at = new Date(r.created_at);
    return rows;
  }

  /** The reference of a version: stored, or computed now from its training data (and stored). */
  private async reference(version: ModelVersionRow) {
    let row = await this.referenceService.get(version.id);
    if (!row) {
      const computed = await this.referenceService.computeFromTraining(version);
      row = await runSystemChange(this.services, (tx) => this.referenceService.save(tx.manager, version, computed));
    }
    const cached = this.references.get(version.id);
    if (cached && cached.rowId === row.id) return cached;
    const fresh = {
      rowId: row.id,
      summary: ReferenceService.summaryOf(row),
      output: row.predictionOutput,
      index: row.predictionIndex ?? 0,
    };
    this.references.set(version.id, fresh);
    return fresh;
  }

  /** A classifier's class names by index, as the train operator records them on the model artifact (for versions whose signature records none). */
  private async classesOf(version: ModelVersionRow): Promise<string[] | null> {
    const [row] = await this.services.db.dataSource.query(`SELECT metadata -> 'classes' AS classes FROM artifacts WHERE id = $1`, [
      version.artifactId,
    ]);
    const classes = row?.classes;
    return Array.isArray(classes) ? classes.map(String) : null;
  }

  private async compute(monitor: MonitorRow, rows: LoggedRow[]): Promise<NonNullable<PreparedWindow["window"]>> {
    // The version that answered most of the window's rows is the one its reference comes from.
    const byVersion = new Map<string, number>();
    for (const r of rows) byVersion.set(r.model_version_id, (byVersion.get(r.model_version_id) ?? 0) + 1);
    const modelVersionId = [...byVersion].sort((a, b) => b[1] - a[1])[0][0];
    const version = await this.services.db.dataSource.getRepository(ModelVersionRow).findOneBy({ id: modelVersionId });
    const points: MetricPoint[] = [];
    const point = (metric: string, feature: string, value: number | undefined | null) => {
      if (typeof value === "number" && Number.isFinite(value)) points.push({ metric, feature, value });
    };
    point("rows", "", rows.length);
    let problem: string | null = null;
    let report: DriftReport | null = null;
    let ref: Awaited<ReturnType<WindowCloser["reference"]>> | null = null;
    if (!version) problem = `model version ${modelVersionId} no longer exists`;
    else {
      try {
        ref = await this.reference(version);
        report = driftReport(ref.summary, windowColumns(ref.summary, rows, ref.output, ref.index), {
          features: monitor.featureOverrides as Record<string, { method?: never; threshold?: number }>,
          driftShare: monitor.driftShare,
        });
      } catch (err) {
        problem = (err as Error).message;
        if (!(err instanceof DriftInputError)) this.log.warn({ err, monitorId: monitor.id }, "monitoring: no drift for this window");
      }
    }
    if (report) {
      point("dataset_drift_share", "", report.driftedShare);
      point("dataset_drift", "", report.datasetDrift ? 1 : 0);
      point("drifted_features", "", report.driftedCount);
      for (const f of report.features) featurePoints(point, f, "");
      if (report.prediction) featurePoints(point, report.prediction, "prediction_");
    }
    // Live performance from the rows whose outcome is known now; without a reference, the
    // prediction column is read off the signature the same way.
    // The outputs serving answers and logs: a classifier's `label` is its class name there.
    const stored = version?.signature as unknown as ModelSignature | undefined;
    const signature = stored?.outputs ? answerSignature(stored) : stored;
    const column = ref?.output ? { output: ref.output, index: ref.index } : signature ? predictionColumnOf(signature) : null;
    const labeled: LabeledRow[] = rows
      .filter((r) => r.outcome !== null && r.outcome !== undefined)
      .map((r) => ({
        outcome: r.outcome,
        prediction: column ? predictionValue(r.outputs, column.output, column.index) : undefined,
        label: r.outputs.label,
        labelIndex: r.outputs.label_index,
      }));
    point("outcomes", "", labeled.length);
    const names = new Set((signature?.outputs ?? []).map((o) => o.name));
    const task = names.has("probabilities") || names.has("label") ? "classification" : "regression";
    const classes = signature?.classLabels ?? (version ? await this.classesOf(version) : null);
    const live = livePerformance(labeled, task, column?.output === "probabilities", classes);
    const baseline: Record<string, number> = {};
    for (const m of PERFORMANCE_METRICS) {
      const b = version?.metrics?.[m];
      if (typeof b === "number" && Number.isFinite(b)) baseline[m] = b;
      if (live[m] !== undefined) {
        point(m, "", live[m]);
        if (baseline[m] !== undefined) point(`${m}_delta`, "", live[m] - baseline[m]);
      }
    }
    const last = rows[rows.length - 1];
    return {
      modelVersionId,
      rows: rows.length,
      outcomes: labeled.length,
      firstPredictionAt: rows[0].created_at,
      lastPredictionAt: last.created_at,
      lastId: last.id,
      drift: report ? (JSON.parse(JSON.stringify(report)) as Record<string, unknown>) : null,
      datasetDrift: report ? report.datasetDrift : null,
      driftedShare: report ? report.driftedShare : null,
      performance: { task, live, baseline, labeledRows: labeled.length },
      problem,
      points,
    };
  }

  /**
   * Stores a prepared window, under the monitor's row lock: refused (null) when the monitor is gone,
   * or when another process stored a window from the same cursor first.
   */
  async commit(tx: Pick<SystemTx, "manager" | "emit">, prepared: PreparedWindow): Promise<MonitoringWindowRow | null> {
    const monitor = await lockMonitor(tx.manager, prepared.monitorId);
    if (!monitor || monitor.windowCount !== prepared.expected.windowCount || monitor.cursorId !== prepared.expected.cursorId) return null;
    monitor.windowStartedAt = prepared.nextWindowStart;
    const w = prepared.window;
    if (!w) {
      await tx.manager.getRepository(MonitorRow).update({ id: monitor.id }, { windowStartedAt: prepared.nextWindowStart });
      return null;
    }
    const closedAt = new Date();
    const row = await tx.manager.getRepository(MonitoringWindowRow).save(
      tx.manager.getRepository(MonitoringWindowRow).create({
        monitorId: monitor.id,
        projectId: monitor.projectId,
        servedName: monitor.servedName,
        variant: monitor.variant,
        sequence: monitor.windowCount + 1,
        reason: prepared.reason,
        modelVersionId: w.modelVersionId,
        rows: w.rows,
        outcomes: w.outcomes,
        firstPredictionAt: w.firstPredictionAt,
        lastPredictionAt: w.lastPredictionAt,
        closedAt,
        datasetDrift: w.datasetDrift,
        driftedShare: w.driftedShare,
        drift: w.drift,
        performance: w.performance,
        problem: w.problem,
      }),
    );
    if (w.points.length > 0) {
      await tx.manager.getRepository(MonitoringMetricRow).insert(
        w.points.map((p) => ({
          windowId: row.id,
          monitorId: monitor.id,
          projectId: monitor.projectId,
          servedName: monitor.servedName,
          metric: p.metric,
          feature: p.feature,
          value: p.value,
          at: closedAt,
        })),
      );
    }
    await tx.manager.getRepository(MonitorRow).update(
      { id: monitor.id },
      {
        cursorAt: w.lastPredictionAt,
        cursorId: w.lastId,
        windowStartedAt: prepared.nextWindowStart,
        windowCount: monitor.windowCount + 1,
      },
    );
    tx.emit({
      type: MonitoringEvents.windowClosed,
      projectId: monitor.projectId,
      subjectId: row.id,
      payload: {
        windowId: row.id,
        monitorId: monitor.id,
        servedName: monitor.servedName,
        variant: monitor.variant,
        sequence: row.sequence,
        reason: row.reason,
        modelVersionId: w.modelVersionId,
        rows: w.rows,
        outcomes: w.outcomes,
        datasetDrift: w.datasetDrift,
        driftedShare: w.driftedShare,
        problem: w.problem,
        metrics: Object.fromEntries(w.points.filter((p) => p.feature === "").map((p) => [p.metric, p.value])),
      },
    });
    await evaluateAlertRules(tx, monitor, row, w.points);
    return row;
  }
}

export async function lockMonitor(manager: EntityManager, id: string): Promise<MonitorRow | null> {
  return manager.getRepository(MonitorRow).findOne({ where: { id }, lock: { mode: "pessimistic_write" } });
}

type Point = (metric: string, feature: string, value: number | undefined | null) => void;

/** The plot-ready points of one feature's (or, with prefix `prediction_`, the prediction's) drift. */
function featurePoints(point: Point, f: FeatureDrift, prefix: string): void {
  const name = f.feature;
  point(`${prefix || "feature_"}drift`, name, f.drifted ? 1 : 0);
  point(`${prefix}drift_score`, name, f.score);
  point(`${prefix}drift_statistic`, name, f.statistic);
  point(`${prefix}p_value`, name, f.pValue);
  point(`${prefix}psi`, name, f.psi);
  point(`${prefix}null_share`, name, f.nullShare);
  point(`${prefix}out_of_range_share`, name, f.outOfRangeShare);
  point(`${prefix}unseen_share`, name, f.unseenShare);
}

/** Scalar of a logged value: a one-element list counts as its element. */
function scalar(v: unknown): unknown {
  while (Array.isArray(v) && v.length === 1) v = v[0];
  return v;
}

/** The window's columns as the reference's features expect them (numbers → Float64Array, NaN missing; categories → text). */
export function windowColumns(
  summary: ReferenceSummary,
  rows: ReadonlyArray<{ inputs: Record<string, unknown>; outputs: Record<string, unknown> }>,
  predictionOutput: string | null,
  predictionIndex: number,
): Record<string, Column> {
  const columns: Record<string, Column> = {};
  for (const [name, ref] of Object.entries(summary.features)) {
    const isPrediction = name === summary.prediction;
    const value = (r: (typeof rows)[number]) =>
      isPrediction ? predictionValue(r.outputs, predictionOutput ?? name, predictionIndex) : scalar(r.inputs[name]);
    if (ref.kind === "numeric") {
      const col = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const v = value(rows[i]);
        const n =
          typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
        col[i] = Number.isFinite(n) ? n : NaN;
      }
      columns[name] = col;
    } else {
      columns[name] = rows.map((r) => {
        const v = value(r);
        return v === null || v === undefined || v === "" ? null : String(v);
      });
    }
  }
  return columns;
}
