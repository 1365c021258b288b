import type { EntityManager } from "typeorm";
import { ConflictError, NotFoundError } from "../kernel/errors";
import type { Database } from "../db/data-source";
import { lockWritableProject } from "../projects";
import { type LifecycleStage, TrackingExperimentRow } from "./experiment.entity";
import { TrackingMetricRow } from "./metric.entity";
import { decodePageToken, encodePageToken } from "./page-token";
import { generateRunName } from "./run-names";
import { type FilterClause, type OrderClause, parseFilter, parseOrderBy } from "./search-filter";
import { type LatestMetric, TRACKING_RUN_STATUSES, type TrackingRunStatus, TrackingRunRow } from "./tracking-run.entity";
import {
  MAX_EXPERIMENT_NAME_LENGTH,
  MAX_PARAM_VAL_LENGTH,
  MAX_TAG_VAL_LENGTH,
  checkBatchLimits,
  checkExperimentName,
  checkKey,
  checkLength,
  int64,
  invalid,
  metricValue,
} from "./validation";

/** The transaction tracking writes run in: a mutation's, a system change's, or a plain one. */
export interface TrackingTx {
  manager: EntityManager;
}

/** The MLflow tag that makes a run the child of another (a hyperparameter trial of a search). */
export const PARENT_RUN_TAG = "mlflow.parentRunId";
export const RUN_NAME_TAG = "mlflow.runName";
export const USER_TAG = "mlflow.user";
/** MLflow's id of the default experiment: Sluice maps it to the project's experiment named `Default`. */
export const DEFAULT_EXPERIMENT_ID = "0";
export const DEFAULT_EXPERIMENT_NAME = "Default";

export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

export interface MetricInput {
  key: string;
  value: unknown;
  timestamp?: unknown;
  step?: unknown;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface CreateRunInput {
  experimentId?: string | null;
  /** Found, or created when missing. */
  experimentName?: string | null;
  runName?: string | null;
  parentRunId?: string | null;
  params?: Record<string, string> | KeyValue[];
  tags?: Record<string, string> | KeyValue[];
  user?: string | null;
  startTime?: number | null;
  status?: TrackingRunStatus;
}

export interface SearchPage<T> {
  items: T[];
  nextPageToken: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function pairs(input: Record<string, string> | KeyValue[] | undefined | null): KeyValue[] {
  if (!input) return [];
  if (Array.isArray(input)) return input;
  return Object.entries(input).map(([key, value]) => ({ key, value }));
}

function stageFilter(view: ViewType | undefined, column: string): string {
  if (view === "ALL") return "TRUE";
  if (view === "DELETED_ONLY") return `${column} = 'deleted'`;
  return `${column} = 'active'`;
}

/** What MLflow calls the latest value: highest step, then latest timestamp, then largest value. */
function newer(candidate: LatestMetric, current: LatestMetric | undefined): boolean {
  if (!current) return true;
  if (candidate.step !== current.step) return candidate.step > current.step;
  if (candidate.timestamp !== current.timestamp) return candidate.timestamp > current.timestamp;
  const a = typeof candidate.value === "number" ? candidate.value : Number(candidate.value);
  const b = typeof current.value === "number" ? current.value : Number(current.value);
  return Number.isNaN(b) ? !Number.isNaN(a) : a > b;
}

/** A double as jsonb can hold it. */
export function jsonDouble(v: number): number | string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return v;
}

/**
 * Experiment tracking: experiments, tracking runs with immutable params, tags and metric
 * history, parent/child runs. The MLflow REST API and the `train` operator's hyperparameter
 * search both write through here; every write takes the caller's transaction.
 */
export class TrackingService {
  constructor(private readonly db: Database) {}

  private get manager(): EntityManager {
    return this.db.dataSource.manager;
  }

  // ---- experiments ----

  async createExperiment(
    tx: TrackingTx,
    projectId: string,
    input: { name: unknown; artifactLocation?: string | null; tags?: Record<string, string> | KeyValue[] },
  ): Promise<TrackingExperimentRow> {
    const name = checkExperimentName(input.name);
    const tags: Record<string, string> = {};
    for (const t of pairs(input.tags)) tags[checkKey("tag", t.key)] = checkLength("Tag value", MAX_TAG_VAL_LENGTH, String(t.value ?? ""));
    await lockWritableProject(tx.manager, projectId);
    if (await tx.manager.existsBy(TrackingExperimentRow, { projectId, name })) {
      throw new ConflictError(`Experiment(name=${name}) already exists. Error: experiment names are unique per project`, {
        mlflowCode: "RESOURCE_ALREADY_EXISTS",
        field: "name",
      });
    }
    const row = await tx.manager.save(tx.manager.create(TrackingExperimentRow, { projectId, name, artifactLocation: "", tags }));
    row.artifactLocation = input.artifactLocation?.trim() || `mlflow-artifacts:/${row.id}`;
    await tx.manager.update(TrackingExperimentRow, { id: row.id }, { artifactLocation: row.artifactLocation });
    return row;
  }

  /** The experiment named `name` in the project, created when missing (for runs logged by name). */
  async experimentNamed(tx: TrackingTx, projectId: string, name: string): Promise<TrackingExperimentRow> {
    const existing = await tx.manager.findOneBy(TrackingExperimentRow, { projectId, name });
    return existing ?? this.createExperiment(tx, projectId, { name });
  }

  /** By id; MLflow's `0` is the project's `Default` experiment (absent until a run is logged in it). */
  async experiment(projectId: string | undefined, id: string, manager = this.manager): Promise<TrackingExperimentRow | null> {
    if (id === DEFAULT_EXPERIMENT_ID && projectId)
      return manager.findOneBy(TrackingExperimentRow, { projectId, name: DEFAULT_EXPERIMENT_NAME });
    if (!UUID.test(id)) return null;
    return manager.findOneBy(TrackingExperimentRow, { id });
  }

  async experimentByName(projectId: string, name: string): Promise<TrackingExperimentRow | null> {
    return this.manager.findOneBy(TrackingExperimentRow, { projectId, name });
  }

  async requireExperiment(projectId: string | undefined, id: string, manager = this.manager): Promise<TrackingExperimentRow> {
    const row = await this.experiment(projectId, id, manager);
    if (!row || (projectId && row.projectId !== projectId)) throw new NotFoundError("Experiment", id);
    return row;
  }

  async setExperimentStage(tx: TrackingTx, id: string, stage: LifecycleStage): Promise<TrackingExperimentRow> {
    const row = await this.lockExperiment(tx.manager, id);
    if (row.lifecycleStage === stage) {
      throw invalid(`Cannot ${stage === "deleted" ? "delete" : "restore"} experiment ${id}: it is already ${stage}`, "experiment_id");
    }
    row.lifecycleStage = stage;
    return tx.manager.save(row);
  }

  async renameExperiment(tx: TrackingTx, id: string, newName: unknown): Promise<TrackingExperimentRow> {
    const name = checkExperimentName(newName);
    const row = await this.lockExperiment(tx.manager, id);
    if (row.lifecycleStage !== "active") throw invalid(`Cannot rename a non-active experiment.`, "experiment_id");
    if (row.name !== name && (await tx.manager.existsBy(TrackingExperimentRow, { projectId: row.projectId, name }))) {
      throw new ConflictError(`Experiment(name=${name}) already exists.`, { mlflowCode: "RESOURCE_ALREADY_EXISTS", field: "new_name" });
    }
    row.name = name;
    return tx.manager.save(row);
  }

  async setExperimentTag(tx: TrackingTx, id: string, key: unknown, value: unknown): Promise<TrackingExperimentRow> {
    const k = checkKey("tag", key);
    const row = await this.lockExperiment(tx.manager, id);
    row.tags = { ...row.tags, [k]: checkLength("Tag value", MAX_TAG_VAL_LENGTH, String(value ?? "")) };
    return tx.manager.save(row);
  }

  private async lockExperiment(manager: EntityManager, id: string): Promise<TrackingExperimentRow> {
    const row = UUID.test(id) ? await manager.findOne(TrackingExperimentRow, { where: { id }, lock: { mode: "pessimistic_write" } }) : null;
    if (!row) throw new NotFoundError("Experiment", id);
    await lockWritableProject(manager, row.projectId);
    return row;
  }

  /** MLflow's experiments/search: filter on `name` and `tags.*` (and creation/update times), ordered, paged. */
  async searchExperiments(
    projectIds: "all" | string[],
    input: { filter?: string | null; orderBy?: string[] | null; maxResults: number; pageToken?: string | null; viewType?: ViewType },
  ): Promise<SearchPage<TrackingExperimentRow>> {
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where: string[] = [stageFilter(input.viewType, "e.lifecycle_stage")];
    if (projectIds !== "all") where.push(projectIds.length === 0 ? "FALSE" : `e.project_id = ANY(${p(projectIds)}::uuid[])`);
    for (const c of parseFilter(input.filter)) where.push(this.experimentClause(c, p));
    const order = parseOrderBy(input.orderBy).map((o) => this.experimentOrder(o));
    order.push("e.created_at DESC", "e.id ASC");
    return this.page(
      `SELECT e.id FROM tracking_experiments e WHERE ${where.join(" AND ")} ORDER BY ${order.join(", ")}`,
      params,
      input,
      (ids) =>
        this.manager.findBy(
          TrackingExperimentRow,
          ids.map((id) => ({ id })),
        ),
    );
  }

  private experimentColumn(key: string): { sql: string; numeric: boolean } {
    switch (key) {
      case "name":
        return { sql: "e.name", numeric: false };
      case "experiment_id":
        return { sql: "e.id::text", numeric: false };
      case "creation_time":
        return { sql: "(EXTRACT(EPOCH FROM e.created_at) * 1000)::bigint", numeric: true };
      case "last_update_time":
        return { sql: "(EXTRACT(EPOCH FROM e.updated_at) * 1000)::bigint", numeric: true };
      default:
        throw invalid(`Invalid attribute key '${key}' specified. Valid keys are '{'name', 'creation_time', 'last_update_time'}'`, "filter");
    }
  }

  private experimentClause(c: FilterClause, p: (v: unknown) => string): string {
    if (c.entity === "tag") return stringComparison(`e.tags ->> ${p(c.key)}::text`, c, p);
    if (c.entity !== "attribute")
      throw invalid(`Invalid entity type '${c.entity}'. Experiments are searched by attributes and tags.`, "filter");
    const col = this.experimentColumn(c.key);
    return col.numeric ? numericComparison(col.sql, c, p) : stringComparison(col.sql, c, p);
  }

  private experimentOrder(o: OrderClause): string {
    if (o.entity !== "attribute")
      throw invalid(
        `Invalid order_by entity: experiments are ordered by name, experiment_id, creation_time or last_update_time`,
        "order_by",
      );
    return `${this.experimentColumn(o.key).sql} ${o.ascending ? "ASC" : "DESC"}`;
  }

  // ---- runs ----

  /**
   * Starts a tracking run in an experiment (by id, or by name: created on demand), with its
   * initial params and tags. A `parentRunId` (or an `mlflow.parentRunId` tag) makes it a child:
   * the parent must be a run of the same project.
   */
  async createRun(tx: TrackingTx, projectId: string, input: CreateRunInput): Promise<TrackingRunRow> {
    await lockWritableProject(tx.manager, projectId);
    let experiment: TrackingExperimentRow;
    if (input.experimentName) experiment = await this.experimentNamed(tx, projectId, input.experimentName);
    else if (input.experimentId === DEFAULT_EXPERIMENT_ID || !input.experimentId) {
      experiment = await this.experimentNamed(tx, projectId, DEFAULT_EXPERIMENT_NAME);
    } else experiment = await this.requireExperiment(projectId, input.experimentId, tx.manager);
    if (experiment.lifecycleStage !== "active") {
      throw invalid(
        `The experiment ${experiment.id} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`,
        "experiment_id",
      );
    }
    const tags: Record<string, string> = {};
    for (const t of pairs(input.tags)) tags[checkKey("tag", t.key)] = checkLength("Tag value", MAX_TAG_VAL_LENGTH, String(t.value ?? ""));
    const params: Record<string, string> = {};
    for (const p of pairs(input.params))
      params[checkKey("parameter", p.key)] = checkLength("Param value", MAX_PARAM_VAL_LENGTH, String(p.value ?? ""));
    const parentRunId = input.parentRunId ?? tags[PARENT_RUN_TAG] ?? null;
    if (parentRunId) {
      const parent = await this.run(parentRunId, tx.manager);
      if (!parent || parent.projectId !== projectId) throw new NotFoundError("Run", parentRunId);
      tags[PARENT_RUN_TAG] = parent.id;
    }
    const name = input.runName?.trim() || tags[RUN_NAME_TAG] || generateRunName();
    tags[RUN_NAME_TAG] = name;
    const user = input.user ?? tags[USER_TAG] ?? "";
    if (user && !tags[USER_TAG]) tags[USER_TAG] = user;
    const status = input.status ?? "RUNNING";
    if (!TRACKING_RUN_STATUSES.includes(status)) throw invalid(`Invalid run status '${status}'`, "status");
    const row = await tx.manager.save(
      tx.manager.create(TrackingRunRow, {
        projectId,
        experimentId: experiment.id,
        name,
        status,
        startTime: input.startTime ?? Date.now(),
        endTime: null,
        lifecycleStage: "active",
        userName: user,
        artifactUri: "",
        parentRunId,
        params,
        tags,
        latestMetrics: {},
        artifacts: {},
      }),
    );
    row.artifactUri = `${experiment.artifactLocation.replace(/\/$/, "")}/${row.id}/artifacts`;
    await tx.manager.update(TrackingRunRow, { id: row.id }, { artifactUri: row.artifactUri });
    return row;
  }

  async run(id: string, manager = this.manager): Promise<TrackingRunRow | null> {
    if (!UUID.test(id)) return null;
    return manager.findOneBy(TrackingRunRow, { id });
  }

  async requireRun(id: string, manager = this.manager): Promise<TrackingRunRow> {
    const row = await this.run(id, manager);
    if (!row) throw new NotFoundError("Run", id);
    return row;
  }

  /** The run, locked for a write; refused unless it is active (MLflow refuses writes to deleted runs). */
  private async lockActiveRun(manager: EntityManager, id: string, allowDeleted = false): Promise<TrackingRunRow> {
    const row = UUID.test(id) ? await manager.findOne(TrackingRunRow, { where: { id }, lock: { mode: "pessimistic_write" } }) : null;
    if (!row) throw new NotFoundError("Run", id);
    await lockWritableProject(manager, row.projectId);
    if (!allowDeleted && row.lifecycleStage !== "active") {
      throw invalid(`The run ${id} must be in the 'active' state. Current state is ${row.lifecycleStage}.`, "run_id");
    }
    return row;
  }

  async updateRun(
    tx: TrackingTx,
    id: string,
    input: { status?: TrackingRunStatus | null; endTime?: number | null; runName?: string | null },
  ): Promise<TrackingRunRow> {
    const row = await this.lockActiveRun(tx.manager, id);
    if (input.status) {
      if (!TRACKING_RUN_STATUSES.includes(input.status)) throw invalid(`Invalid run status '${input.status}'`, "status");
      row.status = input.status;
    }
    if (input.endTime !== undefined && input.endTime !== null) row.endTime = input.endTime;
    else if (input.status && input.status !== "RUNNING" && input.status !== "SCHEDULED" && row.endTime === null) row.endTime = Date.now();
    if (input.runName?.trim()) {
      row.name = input.runName.trim();
      row.tags = { ...row.tags, [RUN_NAME_TAG]: row.name };
    }
    return tx.manager.save(row);
  }

  async setRunStage(tx: TrackingTx, id: string, stage: LifecycleStage): Promise<TrackingRunRow> {
    const row = await this.lockActiveRun(tx.manager, id, true);
    row.lifecycleStage = stage;
    return tx.manager.save(row);
  }

  /**
   * Logs metrics (appended to their history), params (immutable: the same value again is a
   * no-op, a different one is INVALID_PARAMETER_VALUE) and tags (overwritten), all or nothing,
   * within MLflow's batch limits.
   */
  async logBatch(
    tx: TrackingTx,
    runId: string,
    input: { metrics?: MetricInput[]; params?: Record<string, string> | KeyValue[]; tags?: Record<string, string> | KeyValue[] },
  ): Promise<TrackingRunRow> {
    const params = pairs(input.params);
    const tags = pairs(input.tags);
    const metrics = input.metrics ?? [];
    checkBatchLimits(metrics.length, params.length, tags.length);
    const now = Date.now();
    const checkedMetrics = metrics.map((m) => {
      const key = checkKey("metric", m.key);
      const timestamp = int64(m.timestamp, "timestamp", now);
      if (timestamp < 0) {
        throw invalid(
          `Got invalid timestamp ${timestamp} for metric '${key}' (value=${String(m.value)}). Timestamp must be a nonnegative long (64-bit integer) `,
          "timestamp",
        );
      }
      return { key, value: metricValue(m.value, key, m.timestamp), timestamp, step: int64(m.step, "step", 0) };
    });
    const seen = new Map<string, string>();
    const dupes: string[] = [];
    for (const p of params) {
      const key = checkKey("parameter", p.key);
      const value = checkLength("Param value", MAX_PARAM_VAL_LENGTH, String(p.value ?? ""));
      if (seen.has(key)) dupes.push(key);
      seen.set(key, value);
    }
    if (dupes.length > 0) {
      throw invalid(
        `Duplicate parameter keys have been submitted: [${dupes.map((d) => `'${d}'`).join(", ")}]. Please ensure the request contains only one param value per param key.`,
        "params",
      );
    }
    const checkedTags = tags.map((t) => ({
      key: checkKey("tag", t.key),
      value: checkLength("Tag value", MAX_TAG_VAL_LENGTH, String(t.value ?? "")),
    }));

    const row = await this.lockActiveRun(tx.manager, runId);
    const changed = [...seen].filter(([k, v]) => row.params[k] !== undefined && row.params[k] !== v);
    if (changed.length > 0) {
      const [k, v] = changed[0]!;
      throw invalid(
        `Changing param values is not allowed. Param with key='${k}' was already logged with value='${row.params[k]}' for run ID='${row.id}'. Attempted logging new value '${v}'.`,
        "params",
      );
    }
    if (seen.size > 0) row.params = { ...row.params, ...Object.fromEntries(seen) };
    if (checkedTags.length > 0) {
      const next = { ...row.tags };
      for (const t of checkedTags) next[t.key] = t.value;
      row.tags = next;
      if (next[RUN_NAME_TAG] && next[RUN_NAME_TAG] !== row.name) row.name = next[RUN_NAME_TAG]!;
    }
    if (checkedMetrics.length > 0) {
      await tx.manager.insert(
        TrackingMetricRow,
        checkedMetrics.map((m) => ({ runId: row.id, key: m.key, value: m.value, timestamp: m.timestamp, step: m.step })),
      );
      const latest = { ...row.latestMetrics };
      for (const m of checkedMetrics) {
        const candidate: LatestMetric = { value: jsonDouble(m.value), timestamp: m.timestamp, step: m.step };
        if (newer(candidate, latest[m.key])) latest[m.key] = candidate;
      }
      row.latestMetrics = latest;
    }
    return tx.manager.save(row);
  }

  async deleteTag(tx: TrackingTx, runId: string, key: string): Promise<TrackingRunRow> {
    const row = await this.lockActiveRun(tx.manager, runId);
    if (row.tags[key] === undefined) throw new NotFoundError("Tag", `No tag with name: ${key} in run with id ${runId}`);
    const { [key]: _gone, ...rest } = row.tags;
    row.tags = rest;
    if (key === PARENT_RUN_TAG) row.parentRunId = null;
    return tx.manager.save(row);
  }

  /** Every logged value of `key`, in logging order, one page at a time. */
  async metricHistory(
    runId: string,
    key: string,
    page: { maxResults?: number; pageToken?: string | null } = {},
  ): Promise<SearchPage<TrackingMetricRow>> {
    const offset = decodePageToken(page.pageToken);
    const limit = page.maxResults ?? 25_000;
    const rows = await this.manager.find(TrackingMetricRow, {
      where: { runId, key },
      order: { seq: "ASC" },
      skip: offset,
      take: limit + 1,
    });
    const more = rows.length > limit;
    return { items: rows.slice(0, limit), nextPageToken: more ? encodePageToken(offset + limit) : null };
  }

  /** Runs of an experiment (children of `parentRunId` when given), newest first. */
  async listRuns(
    experimentId: string,
    input: { parentRunId?: string | null; maxResults: number; pageToken?: string | null; viewType?: ViewType },
  ): Promise<SearchPage<TrackingRunRow>> {
    const params: unknown[] = [experimentId];
    const where = ["r.experiment_id = $1", stageFilter(input.viewType, "r.lifecycle_stage")];
    if (input.parentRunId) {
      params.push(input.parentRunId);
      where.push(`r.parent_run_id = $${params.length}`);
    }
    return this.page(
      `SELECT r.id FROM tracking_runs r WHERE ${where.join(" AND ")} ORDER BY r.start_time DESC, r.id ASC`,
      params,
      input,
      (ids) =>
        this.manager.findBy(
          TrackingRunRow,
          ids.map((id) => ({ id })),
        ),
    );
  }

  /**
   * MLflow's runs/search over experiments of one project: filter clauses on metrics (latest
   * values), params, tags and attributes; `order_by` on any of them (metrics missing last);
   * ties broken by start time (newest first) and id.
   */
  async searchRuns(
    projectId: string,
    input: {
      experimentIds: string[];
      filter?: string | null;
      orderBy?: string[] | null;
      maxResults: number;
      pageToken?: string | null;
      viewType?: ViewType;
    },
  ): Promise<SearchPage<TrackingRunRow>> {
    const experimentIds: string[] = [];
    for (const id of input.experimentIds) {
      const e = await this.experiment(projectId, String(id));
      if (e && e.projectId === projectId) experimentIds.push(e.id);
    }
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const where = [
      `r.project_id = ${p(projectId)}`,
      `r.experiment_id = ANY(${p(experimentIds)}::uuid[])`,
      stageFilter(input.viewType, "r.lifecycle_stage"),
    ];
    for (const c of parseFilter(input.filter)) where.push(runClause(c, p));
    const order = parseOrderBy(input.orderBy).flatMap((o) => runOrder(o, p));
    order.push("r.start_time DESC", "r.id ASC");
    return this.page(`SELECT r.id FROM tracking_runs r WHERE ${where.join(" AND ")} ORDER BY ${order.join(", ")}`, params, input, (ids) =>
      this.manager.findBy(
        TrackingRunRow,
        ids.map((id) => ({ id })),
      ),
    );
  }

  /** Runs an id query with OFFSET paging, loads the rows and keeps the query's order. */
  private async page<T extends { id: string }>(
    sql: string,
    params: unknown[],
    input: { maxResults: number; pageToken?: string | null },
    load: (ids: string[]) => Promise<T[]>,
  ): Promise<SearchPage<T>> {
    const offset = decodePageToken(input.pageToken);
    const rows: Array<{ id: string }> = await this.manager.query(`${sql} LIMIT ${input.maxResults + 1} OFFSET ${offset}`, params);
    const ids = rows.slice(0, input.maxResults).map((r) => r.id);
    const loaded = ids.length > 0 ? await load(ids) : [];
    const byId = new Map(loaded.map((r) => [r.id, r]));
    return {
      items: ids.map((id) => byId.get(id)!).filter(Boolean),
      nextPageToken: rows.length > input.maxResults ? encodePageToken(offset + input.maxResults) : null,
    };
  }

  /** Records a file uploaded to a run's artifact root (MLflow's artifact API); the same path again replaces it. */
  async recordArtifact(tx: TrackingTx, runId: string, path: string, artifactId: string): Promise<TrackingRunRow> {
    const row = await this.lockActiveRun(tx.manager, runId);
    row.artifacts = { ...row.artifacts, [path]: artifactId };
    return tx.manager.save(row);
  }

  /**
   * The artifact id of `path` in a run's artifact root: the file itself, or for a folder (MLflow
   * logs models as folders) its `model.onnx`, else its only `.onnx` file.
   */
  artifactAt(run: TrackingRunRow, path: string): string | undefined {
    const clean = path.replace(/^\/+|\/+$/g, "");
    if (run.artifacts[clean]) return run.artifacts[clean];
    const inside = Object.keys(run.artifacts).filter((p) => clean === "" || p.startsWith(`${clean}/`));
    const direct = inside.find((p) => p === (clean ? `${clean}/model.onnx` : "model.onnx"));
    if (direct) return run.artifacts[direct];
    const onnx = inside.filter((p) => p.endsWith(".onnx"));
    return onnx.length === 1 ? run.artifacts[onnx[0]!] : undefined;
  }

  /** Metric keys of a run with their whole history (for GraphQL). */
  async metricKeys(runId: string): Promise<string[]> {
    const rows: Array<{ key: string }> = await this.manager.query(
      `SELECT DISTINCT key FROM tracking_metrics WHERE run_id = $1 ORDER BY key`,
      [runId],
    );
    return rows.map((r) => r.key);
  }
}

const RUN_ATTRIBUTES: Record<string, { sql: string; numeric: boolean }> = {
  status: { sql: "r.status", numeric: false },
  run_name: { sql: "r.name", numeric: false },
  run_id: { sql: "r.id::text", numeric: false },
  user_id: { sql: "r.user_name", numeric: false },
  artifact_uri: { sql: "r.artifact_uri", numeric: false },
  lifecycle_stage: { sql: "r.lifecycle_stage", numeric: false },
  start_time: { sql: "r.start_time", numeric: true },
  end_time: { sql: "r.end_time", numeric: true },
  created: { sql: "r.start_time", numeric: true },
  Created: { sql: "r.start_time", numeric: true },
};

function runAttribute(key: string): { sql: string; numeric: boolean } {
  const a = RUN_ATTRIBUTES[key];
  if (!a) {
    throw invalid(
      `Invalid attribute key '${key}' specified. Valid keys are '${Object.keys(RUN_ATTRIBUTES)
        .filter((k) => k !== "Created")
        .join("', '")}'`,
      "filter",
    );
  }
  return a;
}

const metricSql = (key: string, p: (v: unknown) => string) => `(r.latest_metrics -> ${p(key)}::text ->> 'value')::double precision`;

function runClause(c: FilterClause, p: (v: unknown) => string): string {
  switch (c.entity) {
    case "metric":
      return numericComparison(metricSql(c.key, p), c, p);
    case "param":
      return stringComparison(`r.params ->> ${p(c.key)}::text`, c, p);
    case "tag":
      return stringComparison(`r.tags ->> ${p(c.key)}::text`, c, p);
    case "attribute": {
      const a = runAttribute(c.key);
      return a.numeric ? numericComparison(a.sql, c, p) : stringComparison(a.sql, c, p);
    }
  }
}

function runOrder(o: OrderClause, p: (v: unknown) => string): string[] {
  const dir = o.ascending ? "ASC" : "DESC";
  let sql: string;
  if (o.entity === "metric") sql = metricSql(o.key, p);
  else if (o.entity === "param") sql = `r.params ->> ${p(o.key)}::text`;
  else if (o.entity === "tag") sql = `r.tags ->> ${p(o.key)}::text`;
  else sql = runAttribute(o.key).sql;
  // Runs without the value sort last either way, as in MLflow.
  return [`(${sql}) IS NULL`, `${sql} ${dir}`];
}

function numericComparison(sql: string, c: FilterClause, p: (v: unknown) => string): string {
  if (typeof c.value !== "number" || !["=", "!=", ">", ">=", "<", "<="].includes(c.comparator)) {
    throw invalid(`Invalid clause for ${c.entity} '${c.key}': expected one of =, !=, >, >=, <, <= and a number`, "filter");
  }
  return `${sql} ${c.comparator} ${p(c.value)}::double precision`;
}

function stringComparison(sql: string, c: FilterClause, p: (v: unknown) => string): string {
  switch (c.comparator) {
    case "=":
    case "!=":
      if (typeof c.value === "number")
        throw invalid(`Invalid clause for ${c.entity} '${c.key}': the value must be a quoted string`, "filter");
      return `${sql} ${c.comparator} ${p(c.value)}::text`;
    case "LIKE":
    case "ILIKE":
      if (typeof c.value !== "string")
        throw invalid(`Invalid clause for ${c.entity} '${c.key}': ${c.comparator} takes a quoted pattern`, "filter");
      return `${sql} ${c.comparator} ${p(c.value)}::text`;
    case "IN":
    case "NOT IN":
      if (!Array.isArray(c.value)) throw invalid(`Invalid clause for ${c.entity} '${c.key}': ${c.comparator} takes a list`, "filter");
      return c.comparator === "IN" ? `${sql} = ANY(${p(c.value)}::text[])` : `NOT (${sql} = ANY(${p(c.value)}::text[]))`;
    default:
      throw invalid(`Invalid comparator '${c.comparator}' for ${c.entity} '${c.key}': use =, !=, LIKE, ILIKE, IN or NOT IN`, "filter");
  }
}

export { MAX_EXPERIMENT_NAME_LENGTH };
