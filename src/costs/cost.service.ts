import { type EntityManager, IsNull, Not } from "typeorm";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import { runSystemChange } from "../events/system-change";
import type { EventDraft } from "../kernel/ledger";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { BudgetAlertRow, ProjectCostSettingsRow } from "./cost.entities";
import {
  type CostGroup,
  type CostRow,
  DEFAULT_BUDGET_THRESHOLDS,
  type Money,
  type Prices,
  type UsageFigures,
  type UsageItem,
  ZERO_USAGE,
  addUsage,
  budgetPeriod,
  checkPriceOverride,
  crossedThresholds,
  overrideProblems,
  priceUsage,
  rollUp,
  withOverride,
} from "./pricing";
import { readInferenceUsage } from "./inference-usage";

export const CostEvents = {
  /** A project's spending this month reached one of its budget thresholds (once per threshold and month). */
  budgetThresholdCrossed: "budget.threshold_crossed",
  settingsChanged: "cost.settings_changed",
} as const;

/** Longest range one cost report covers. */
export const MAX_REPORT_DAYS = 400;
/** Most finest-grain usage items one report reads; a report that needs more asks for a narrower range. */
export const MAX_USAGE_ITEMS = 100_000;
/** Most groups one report returns (the most expensive first); `totalGroups` says how many there were. */
export const MAX_REPORT_GROUPS = 500;
/** Budget thresholds one project may set. */
const MAX_THRESHOLDS = 10;

const SECONDS_PER_MONTH = 30 * 86_400;
/** The end of "all time" for totals (a run's, a version's): far, but a date PostgreSQL takes. */
const FAR_FUTURE = new Date(Date.UTC(9999, 0, 1));

/** Which projects a query covers: all, or these. */
export type ProjectScope = "all" | readonly string[];

/** A cost report: the groups (most expensive first, at most `first`) and how many there were. */
export interface CostReportResult {
  rows: CostRow[];
  totalGroups: number;
}

/** A project's stored bytes: artifacts (each distinct content once), of which dataset versions. */
export interface ProjectStorage {
  objects: number;
  artifactBytes: number;
  datasetBytes: number;
}

/** What one set of attempts (a run, a model version's training run) used and cost. */
export interface UsageCost {
  usage: UsageFigures;
  money: Money;
}

/**
 * Costs: usage read from where it is recorded (stage attempts, artifacts, inference statistics),
 * priced with the server's prices under each project's own, rolled up by the pure core
 * (`pricing.ts`), and the monthly budgets checked against it.
 */
export class CostService {
  constructor(private readonly deps: { db: Database; events: EventBus; prices: Readonly<Prices> }) {}

  /** The server's prices (`SLUICE_PRICES`). */
  get serverPrices(): Readonly<Prices> {
    return this.deps.prices;
  }

  async settings(projectId: string): Promise<ProjectCostSettingsRow | null> {
    return this.deps.db.dataSource.getRepository(ProjectCostSettingsRow).findOneBy({ projectId });
  }

  /** Each project's prices: its override over the server's. */
  async pricesOf(projectIds: readonly string[]): Promise<Map<string, Prices>> {
    const rows = projectIds.length
      ? await this.deps.db.dataSource.query(`SELECT project_id, prices FROM project_cost_settings WHERE project_id = ANY($1)`, [
          [...projectIds],
        ])
      : [];
    const overrides = new Map<string, Prices>(
      (rows as Array<{ project_id: string; prices: Partial<Prices> }>).map((r) => [r.project_id, withOverride(this.deps.prices, r.prices)]),
    );
    return new Map(projectIds.map((id) => [id, overrides.get(id) ?? { ...this.deps.prices }]));
  }

  /**
   * Sets a project's prices and budget. Omitted fields stay as they are; `prices: {}` goes back to
   * the server's prices; `removeBudget` removes the budget.
   * @throws InvalidInputError naming each bad price, the budget or a threshold
   */
  async setSettings(
    tx: { manager: EntityManager; emit(e: EventDraft): void },
    projectId: string,
    input: { prices?: unknown; monthlyBudget?: number | null; budgetThresholds?: readonly number[] | null; removeBudget?: boolean | null },
  ): Promise<ProjectCostSettingsRow> {
    const problems: InputProblem[] = [];
    let prices: Partial<Prices> | undefined;
    if (input.prices !== undefined && input.prices !== null) {
      try {
        prices = checkPriceOverride(input.prices, "prices");
        problems.push(...overrideProblems(this.deps.prices, prices, "prices"));
      } catch (err) {
        if (!(err instanceof InvalidInputError)) throw err;
        problems.push(...err.problems);
      }
    }
    if (
      input.monthlyBudget !== undefined &&
      input.monthlyBudget !== null &&
      !(Number.isFinite(input.monthlyBudget) && input.monthlyBudget > 0)
    ) {
      problems.push({ field: "monthlyBudget", message: "must be a number above 0" });
    }
    if (input.removeBudget && input.monthlyBudget !== undefined && input.monthlyBudget !== null) {
      problems.push({ field: "removeBudget", message: "cannot be given with monthlyBudget" });
    }
    const thresholds = input.budgetThresholds ?? undefined;
    if (thresholds !== undefined) {
      if (thresholds.length === 0 || thresholds.length > MAX_THRESHOLDS) {
        problems.push({ field: "budgetThresholds", message: `must hold 1 to ${MAX_THRESHOLDS} percentages` });
      }
      thresholds.forEach((t, i) => {
        if (!(Number.isInteger(t) && t >= 1 && t <= 1000))
          problems.push({ field: `budgetThresholds[${i}]`, message: "must be a whole percentage from 1 to 1000" });
      });
      if (new Set(thresholds).size !== thresholds.length)
        problems.push({ field: "budgetThresholds", message: "must not repeat a percentage" });
    }
    if (problems.length) throw new InvalidInputError(problems);

    const repo = tx.manager.getRepository(ProjectCostSettingsRow);
    const row =
      (await repo.findOne({ where: { projectId }, lock: { mode: "pessimistic_write" } })) ??
      Object.assign(new ProjectCostSettingsRow(), {
        projectId,
        prices: {},
        monthlyBudget: null,
        budgetThresholds: [...DEFAULT_BUDGET_THRESHOLDS],
      });
    if (prices !== undefined) row.prices = prices;
    if (input.monthlyBudget !== undefined && input.monthlyBudget !== null) row.monthlyBudget = input.monthlyBudget;
    if (input.removeBudget) row.monthlyBudget = null;
    if (thresholds !== undefined) row.budgetThresholds = [...thresholds].sort((a, b) => a - b);
    row.updatedAt = new Date();
    const saved = await repo.save(row);
    tx.emit({
      type: CostEvents.settingsChanged,
      projectId,
      subjectId: projectId,
      payload: { projectId, prices: saved.prices, monthlyBudget: saved.monthlyBudget, budgetThresholds: saved.budgetThresholds },
    });
    return saved;
  }

  /**
   * The cost report of `projects` over [`from`, `to`), grouped by `groupBy`: the most expensive
   * `first` groups.
   * @throws InvalidInputError for a range that is empty, longer than MAX_REPORT_DAYS, or needs more than MAX_USAGE_ITEMS items
   */
  async report(q: {
    projects: ProjectScope;
    groupBy: readonly CostGroup[];
    from: Date;
    to: Date;
    first: number;
  }): Promise<CostReportResult> {
    checkRange(q.from, q.to);
    const items = await this.usageItems(q.projects, q.from, q.to);
    const prices = await this.pricesOf([...new Set(items.map((i) => i.keys.projectId))]);
    const rows = rollUp(items, q.groupBy, (id) => prices.get(id)!);
    return { rows: rows.slice(0, q.first), totalGroups: rows.length };
  }

  /** Every usage item at the finest grain: stage attempts, stored bytes and inference, per project and UTC day. */
  async usageItems(projects: ProjectScope, from: Date, to: Date): Promise<UsageItem[]> {
    if (projects !== "all" && projects.length === 0) return [];
    const items = [
      ...(await this.attemptItems(projects, from, to)),
      ...(await this.storageItems(projects, from, to)),
      ...(await readInferenceUsage(this.deps.db.dataSource.manager, projects, from, to, MAX_USAGE_ITEMS)),
    ];
    if (items.length > MAX_USAGE_ITEMS) {
      throw new InvalidInputError([
        { field: "from", message: `the range holds more than ${MAX_USAGE_ITEMS} usage items; narrow it or name a project` },
      ]);
    }
    return items;
  }

  /** Stage attempts' usage per project, pipeline, stage and UTC day of their end. */
  private async attemptItems(projects: ProjectScope, from: Date, to: Date, runId?: string): Promise<UsageItem[]> {
    const params: unknown[] = [from, to];
    let where = "";
    if (projects !== "all") {
      params.push([...projects]);
      where += ` AND r.project_id = ANY($${params.length})`;
    }
    if (runId) {
      params.push(runId);
      where += ` AND r.id = $${params.length}`;
    }
    const rows: Array<Record<string, string | number>> = await this.deps.db.dataSource.query(
      `SELECT r.project_id, r.pipeline_id, sr.stage_name, to_char(a.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              count(*)::int AS attempts,
              coalesce(sum(a.cpu_seconds), 0)::float8 AS cpu,
              coalesce(sum(a.wall_seconds), 0)::float8 AS wall,
              coalesce(sum(coalesce(a.peak_memory_bytes, 0)::float8 / 1e9 * coalesce(a.wall_seconds, 0) / 3600), 0)::float8 AS mem,
              coalesce(sum(a.bytes_read), 0)::float8 AS rd,
              coalesce(sum(a.bytes_written), 0)::float8 AS wr
         FROM stage_attempts a
         JOIN stage_runs sr ON sr.id = a.stage_run_id
         JOIN runs r ON r.id = sr.run_id
        WHERE a.usage_method IS NOT NULL AND a.finished_at >= $1 AND a.finished_at < $2${where}
        GROUP BY 1, 2, 3, 4
        LIMIT ${MAX_USAGE_ITEMS + 1}`,
      params,
    );
    return rows.map((r) => ({
      keys: {
        projectId: r.project_id as string,
        pipelineId: r.pipeline_id as string,
        stageName: r.stage_name as string,
        endpoint: null,
        modelVersionId: null,
        day: r.day as string,
      },
      usage: {
        ...ZERO_USAGE,
        attempts: Number(r.attempts),
        cpuSeconds: Number(r.cpu),
        wallSeconds: Number(r.wall),
        memoryGbHours: Number(r.mem),
        bytesRead: Number(r.rd),
        bytesWritten: Number(r.wr),
      },
    }));
  }

  /**
   * Stored bytes per project and UTC day, as GB-months: each distinct content of a project (a hash)
   * counts from when it was first stored. Artifacts are never deleted today, so nothing ends.
   */
  private async storageItems(projects: ProjectScope, from: Date, to: Date): Promise<UsageItem[]> {
    const days = utcDays(from, to);
    const params: unknown[] = [from, to, days];
    let where = "";
    if (projects !== "all") {
      params.push([...projects]);
      where = ` AND project_id = ANY($${params.length})`;
    }
    const rows: Array<{ project_id: string; day: string; gb_months: number }> = await this.deps.db.dataSource.query(
      `WITH objects AS (
         SELECT project_id, hash, max(size)::float8 AS size, min(created_at) AS created
           FROM artifacts WHERE created_at < $2${where} GROUP BY project_id, hash),
       days AS (SELECT unnest($3::timestamptz[]) AS d)
       SELECT o.project_id, to_char(days.d AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              sum(o.size / 1e9 * greatest(0, extract(epoch FROM least($2::timestamptz, days.d + interval '86400 seconds')
                                                       - greatest(o.created, $1::timestamptz, days.d)))::float8 / ${SECONDS_PER_MONTH})::float8 AS gb_months
         FROM objects o CROSS JOIN days
        WHERE o.created < least($2::timestamptz, days.d + interval '86400 seconds')
        GROUP BY 1, 2
        LIMIT ${MAX_USAGE_ITEMS + 1}`,
      params,
    );
    return rows.map((r) => ({
      keys: { projectId: r.project_id, pipelineId: null, stageName: null, endpoint: null, modelVersionId: null, day: r.day },
      usage: { ...ZERO_USAGE, storageGbMonths: Number(r.gb_months) },
    }));
  }

  /** A project's stored bytes now: artifacts (each distinct content once) and, of those, dataset versions. */
  async storage(projectId: string): Promise<ProjectStorage> {
    const [row]: Array<{ objects: number; total: number; datasets: number }> = await this.deps.db.dataSource.query(
      `SELECT count(*)::int AS objects, coalesce(sum(size), 0)::float8 AS total,
              coalesce(sum(size) FILTER (WHERE dataset), 0)::float8 AS datasets
         FROM (SELECT a.hash, max(a.size) AS size, bool_or(dv.id IS NOT NULL) AS dataset
                 FROM artifacts a LEFT JOIN dataset_versions dv ON dv.artifact_id = a.id
                WHERE a.project_id = $1 GROUP BY a.hash) o`,
      [projectId],
    );
    return { objects: row!.objects, artifactBytes: Number(row!.total), datasetBytes: Number(row!.datasets) };
  }

  /** What one run's stage attempts used and cost, at its project's prices. */
  async runCost(runId: string, projectId: string): Promise<UsageCost> {
    const items = await this.attemptItems([projectId], new Date(0), FAR_FUTURE, runId);
    return this.priced(projectId, items);
  }

  /** What serving one model version took and cost: the inference usage recorded for it. */
  async servingCost(modelVersionId: string, projectId: string): Promise<UsageCost> {
    const items = await readInferenceUsage(
      this.deps.db.dataSource.manager,
      [projectId],
      new Date(0),
      FAR_FUTURE,
      MAX_USAGE_ITEMS,
      modelVersionId,
    );
    return this.priced(projectId, items);
  }

  /** The run that produced a model version's file, or null for an uploaded file. */
  async producingRun(modelVersionId: string): Promise<string | null> {
    const [row]: Array<{ run_id: string | null }> = await this.deps.db.dataSource.query(
      `SELECT a.run_id FROM model_versions mv JOIN artifacts a ON a.id = mv.artifact_id WHERE mv.id = $1`,
      [modelVersionId],
    );
    return row?.run_id ?? null;
  }

  private async priced(projectId: string, items: readonly UsageItem[]): Promise<UsageCost> {
    const prices = (await this.pricesOf([projectId])).get(projectId)!;
    const usage = items.reduce((sum, i) => addUsage(sum, i.usage), { ...ZERO_USAGE });
    return { usage, money: priceUsage(usage, prices) };
  }

  /**
   * Checks every project's budget for the month of `now`: each threshold its spending has reached
   * and that has not fired this month fires `budget.threshold_crossed`, recorded in the same
   * transaction so that it never fires twice. Returns how many fired.
   */
  async checkBudgets(now: Date): Promise<number> {
    const budgets = await this.deps.db.dataSource.getRepository(ProjectCostSettingsRow).find({
      where: { monthlyBudget: Not(IsNull()) },
      order: { projectId: "ASC" },
    });
    const { period, from } = budgetPeriod(now);
    let fired = 0;
    for (const settings of budgets) {
      if (settings.monthlyBudget === null) continue;
      const items = await this.usageItems([settings.projectId], from, now);
      const prices = withOverride(this.deps.prices, settings.prices);
      const spent = items.reduce((sum, i) => sum + priceUsage(i.usage, prices).total, 0);
      const crossed = crossedThresholds(spent, settings.monthlyBudget, settings.budgetThresholds);
      if (crossed.length === 0) continue;
      fired += await runSystemChange(this.deps, async (tx) => {
        const inserted: Array<{ threshold: number }> = await tx.manager.query(
          `INSERT INTO budget_alerts (project_id, period, threshold, spent, budget, currency, fired_at)
           SELECT $1, $2, t, $3, $4, $5, $6 FROM unnest($7::int[]) AS t
           ON CONFLICT DO NOTHING RETURNING threshold`,
          [settings.projectId, period, spent, settings.monthlyBudget, prices.currency, now, crossed],
        );
        for (const { threshold } of inserted.sort((a, b) => a.threshold - b.threshold)) {
          tx.emit({
            type: CostEvents.budgetThresholdCrossed,
            projectId: settings.projectId,
            subjectId: settings.projectId,
            payload: {
              projectId: settings.projectId,
              period,
              threshold,
              spent,
              budget: settings.monthlyBudget,
              currency: prices.currency,
              percent: (spent / settings.monthlyBudget!) * 100,
            },
          });
        }
        return inserted.length;
      });
    }
    return fired;
  }

  /** The budget alerts a project has fired, newest first (at most `limit`). */
  async budgetAlerts(
    projectId: string,
    limit: number,
    manager: EntityManager = this.deps.db.dataSource.manager,
  ): Promise<BudgetAlertRow[]> {
    return manager.getRepository(BudgetAlertRow).find({
      where: { projectId },
      order: { firedAt: "DESC", threshold: "DESC" },
      take: limit,
    });
  }
}

function checkRange(from: Date, to: Date): void {
  if (!(from.getTime() < to.getTime())) throw new InvalidInputError([{ field: "to", message: "must be after from" }]);
  if (to.getTime() - from.getTime() > MAX_REPORT_DAYS * 86_400_000) {
    throw new InvalidInputError([{ field: "from", message: `the range may span at most ${MAX_REPORT_DAYS} days` }]);
  }
}

/** The starts of the UTC days that [`from`, `to`) touches. */
function utcDays(from: Date, to: Date): Date[] {
  const days: Date[] = [];
  const first = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let t = first; t < to.getTime() && days.length <= MAX_REPORT_DAYS + 1; t += 86_400_000) days.push(new Date(t));
  return days;
}
