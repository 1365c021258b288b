/**
 * Reading the prediction log and joining ground truth to it. Outcomes are matched on
 * (project, registered model, prediction id); every logged row with that id gets the outcome
 * (a client that reuses an id for several requests gets all of them updated). Queued rows are
 * flushed first, so an outcome reported right after its prediction still finds it.
 */
import type { DataSource, EntityManager } from "typeorm";
import { InvalidInputError, NotFoundError } from "../../kernel/errors";
import type { MutationTx } from "../../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../../kernel/pagination";
import { RegisteredModelRow, type RegistryService } from "../../registry";
import type { PredictionLog } from "./prediction-log";
import { PredictionRow } from "./prediction.entity";

/** Most outcomes one call takes. */
export const MAX_OUTCOMES = 1000;

export interface OutcomeInput {
  predictionId: string;
  outcome: unknown;
}

export interface OutcomesResult {
  matched: number;
  unmatched: number;
  /** The prediction ids no logged prediction has (at most 100 listed). */
  unmatchedIds: string[];
  /** Logged rows updated (more than `matched` when ids repeat). */
  updatedRows: number;
}

export class PredictionLogService {
  constructor(
    private readonly db: DataSource,
    private readonly registry: RegistryService,
    readonly log: PredictionLog,
  ) {}

  /** The registered model named `model` (a name or an id) in the project; 404 otherwise. Inside a transaction pass its manager (PGlite: one session). */
  async model(projectId: string, model: string, manager: EntityManager = this.db.manager): Promise<RegisteredModelRow> {
    const repo = manager.getRepository(RegisteredModelRow);
    const byName = await repo.findOneBy({ projectId, name: model });
    if (byName) return byName;
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(model)) {
      const byId = await repo.findOneBy({ projectId, id: model });
      if (byId) return byId;
    }
    throw new NotFoundError("RegisteredModel", model);
  }

  async list(
    projectId: string,
    model: string,
    page: PageArgs,
    filter: { predictionId?: string | null; hasOutcome?: boolean | null } = {},
    sort: SortSpec<PredictionRow> = { property: "createdAt", direction: "DESC" },
  ): Promise<Page<PredictionRow>> {
    const m = await this.model(projectId, model);
    await this.log.flush();
    const qb = this.db
      .getRepository(PredictionRow)
      .createQueryBuilder("p")
      .where("p.project_id = :projectId AND p.registered_model_id = :modelId", { projectId, modelId: m.id });
    if (filter.predictionId != null) qb.andWhere("p.prediction_id = :pid", { pid: filter.predictionId });
    if (filter.hasOutcome === true) qb.andWhere("p.outcome IS NOT NULL");
    if (filter.hasOutcome === false) qb.andWhere("p.outcome IS NULL");
    return paginate(qb, page, sort);
  }

  /** Validates outcomes; each bad one is named by its field. */
  static check(outcomes: OutcomeInput[], field = "outcomes"): void {
    const problems: Array<{ field: string; message: string }> = [];
    if (outcomes.length === 0) problems.push({ field, message: "must hold at least one outcome" });
    if (outcomes.length > MAX_OUTCOMES) problems.push({ field, message: `holds ${outcomes.length}; at most ${MAX_OUTCOMES} per call` });
    outcomes.forEach((o, i) => {
      const at = field === "outcomes" ? `outcomes[${i}]` : "";
      const f = (name: string) => (at ? `${at}.${name}` : name);
      if (typeof o.predictionId !== "string" || o.predictionId.trim() === "")
        problems.push({ field: f("predictionId"), message: "must be a non-empty string" });
      if (o.outcome === undefined || o.outcome === null)
        problems.push({ field: f("outcome"), message: "is required (any JSON value but null)" });
    });
    if (problems.length > 0) throw new InvalidInputError(problems);
  }

  /**
   * One UPDATE for the whole batch (a statement per outcome made 1,000 outcomes take seconds).
   * An id sent twice keeps its last outcome, as if they were applied in order.
   * Call `log.flush()` before the mutation's transaction: on PGlite the writer would wait for it (one session).
   */
  async recordOutcomes(tx: MutationTx, model: RegisteredModelRow, outcomes: OutcomeInput[]): Promise<OutcomesResult> {
    const last = new Map<string, unknown>();
    for (const o of outcomes) last.set(o.predictionId, o.outcome);
    const ids = [...last.keys()];
    const rows = (await tx.manager.query(
      `WITH given AS (SELECT * FROM unnest($3::text[], $4::text[]) AS g(prediction_id, outcome))
       UPDATE predictions p SET outcome = given.outcome::jsonb, outcome_at = now()
         FROM given
        WHERE p.project_id = $1 AND p.registered_model_id = $2 AND p.prediction_id = given.prediction_id
        RETURNING p.prediction_id`,
      [model.projectId, model.id, ids, ids.map((id) => JSON.stringify(last.get(id)))],
    )) as unknown;
    // PostgreSQL's driver answers [rows, count] for UPDATE … RETURNING; PGlite's the rows.
    const list = (
      Array.isArray(rows) && rows.length === 2 && Array.isArray(rows[0]) && typeof rows[1] === "number" ? rows[0] : rows
    ) as Array<{ prediction_id: string }>;
    const matched = new Set(list.map((r) => r.prediction_id));
    const unmatchedIds = ids.filter((id) => !matched.has(id));
    return { matched: matched.size, unmatched: unmatchedIds.length, unmatchedIds: unmatchedIds.slice(0, 100), updatedRows: list.length };
  }
}
