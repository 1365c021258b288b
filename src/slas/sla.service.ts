import type { EntityManager } from "typeorm";
import { ConflictError, InvalidInputError, type InputProblem, NotFoundError } from "../kernel/errors";
import { isUuid } from "../kernel/ids";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, paginate, type SortSpec } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { deleteSlaAlerts } from "../monitoring";
import type { SlaSpec } from "../../packages/sdk/src/spec";
import {
  definitionProblems,
  SLA_KIND_INFO,
  type SlaDefinition,
  slaDefinitionOf,
  type SlaKind,
  type SlaSeverity,
} from "../pipelines/sla-objectives";
import { SlaBreachRow, SlaRow } from "./sla.entities";
import { SlaEvents, slaChangePayload } from "./sla-events";

type WriteTx = Pick<MutationTx, "manager" | "emit" | "caller">;

/** A new SLA through the API (units: objectives.ts). */
export interface CreateSlaFields {
  projectId: string;
  name: string;
  kind: string;
  subjectName: string;
  objective: number;
  windowSeconds?: number | null;
  schedule?: string | null;
  metric?: string | null;
  severity?: string | null;
  description?: string | null;
  enabled?: boolean | null;
}

/** A change: every field left out keeps its value. */
export interface UpdateSlaFields {
  slaId: string;
  subjectName?: string | null;
  objective?: number | null;
  windowSeconds?: number | null;
  schedule?: string | null;
  metric?: string | null;
  severity?: string | null;
  description?: string | null;
  enabled?: boolean | null;
}

/** The fields of the API's inputs, for naming them in problems. */
const API_FIELDS = {
  name: "name",
  kind: "kind",
  subjectName: "subjectName",
  objective: "objective",
  window: "windowSeconds",
  schedule: "schedule",
  metric: "metric",
  severity: "severity",
};

/**
 * SLAs as data: creating, changing, deleting and listing them, and keeping those a pipeline spec
 * declares in step with its latest apply. Judging them is SlaChecker's (sla-checker.ts).
 */
export class SlaService {
  constructor(private readonly db: Database) {}

  private get manager(): EntityManager {
    return this.db.dataSource.manager;
  }

  async create(tx: WriteTx, input: CreateSlaFields): Promise<SlaRow> {
    const def: SlaDefinition = {
      name: (input.name ?? "").trim(),
      kind: input.kind as SlaKind,
      description: input.description ?? "",
      subjectName: (input.subjectName ?? "").trim(),
      objective: input.objective,
      windowSeconds: input.windowSeconds ?? null,
      schedule: input.schedule ?? null,
      metric: input.metric ?? null,
      severity: (input.severity ?? "WARNING") as SlaSeverity,
    };
    check(def);
    const repo = tx.manager.getRepository(SlaRow);
    const taken = await repo.findOneBy({ projectId: input.projectId, name: def.name });
    if (taken)
      throw new ConflictError(`an SLA named ${def.name} already exists in this project (${await ownerOf(tx.manager, taken)})`, {
        field: "name",
      });
    const row = await repo.save(
      repo.create({
        projectId: input.projectId,
        ...columnsOf(def),
        enabled: input.enabled ?? true,
        source: "API",
        pipelineId: null,
        createdBy: tx.caller.principalId,
      }),
    );
    tx.emit({ type: SlaEvents.created, projectId: row.projectId, subjectId: row.id, payload: slaChangePayload(row) });
    return row;
  }

  async update(tx: WriteTx, row: SlaRow, input: UpdateSlaFields): Promise<SlaRow> {
    refuseSpecOwned(row);
    const def: SlaDefinition = {
      ...definitionOf(row),
      ...(input.subjectName != null && { subjectName: input.subjectName.trim() }),
      ...(input.objective != null && { objective: input.objective }),
      ...(input.windowSeconds !== undefined && { windowSeconds: input.windowSeconds }),
      ...(input.schedule !== undefined && { schedule: input.schedule }),
      ...(input.metric !== undefined && { metric: input.metric }),
      ...(input.severity != null && { severity: input.severity as SlaSeverity }),
      ...(input.description != null && { description: input.description }),
    };
    check(def);
    Object.assign(row, columnsOf(def));
    if (input.enabled != null) row.enabled = input.enabled;
    const saved = await tx.manager.getRepository(SlaRow).save(row);
    tx.emit({ type: SlaEvents.updated, projectId: row.projectId, subjectId: row.id, payload: slaChangePayload(saved) });
    return saved;
  }

  async delete(tx: WriteTx, row: SlaRow): Promise<void> {
    refuseSpecOwned(row);
    await this.remove(tx, row);
  }

  /** Deletes the SLA with its breaches and alerts (event `sla.deleted`). */
  private async remove(tx: Pick<WriteTx, "manager" | "emit">, row: SlaRow): Promise<void> {
    await tx.manager.getRepository(SlaBreachRow).delete({ slaId: row.id });
    await deleteSlaAlerts(tx.manager, row.id);
    await tx.manager.getRepository(SlaRow).delete({ id: row.id });
    tx.emit({ type: SlaEvents.deleted, projectId: row.projectId, subjectId: row.id, payload: slaChangePayload(row) });
  }

  /**
   * Makes the SLAs the pipeline's spec declares those of the project: new ones created, changed
   * ones updated, the ones no longer declared deleted (in the apply's transaction, so a refused
   * SLA refuses the apply). A name already used by an API SLA or another pipeline's is refused
   * on `slas[i].name`.
   */
  async syncSpec(tx: WriteTx, projectId: string, pipeline: { id: string; name: string }, slas: readonly SlaSpec[]): Promise<void> {
    const pipelineId = pipeline.id;
    const declared = slas.map((sla, index) => ({ index, definition: slaDefinitionOf(sla, pipeline.name) }));
    const repo = tx.manager.getRepository(SlaRow);
    const owned = await repo.find({ where: { projectId, pipelineId, source: "SPEC" } });
    const byName = new Map(owned.map((r) => [r.name, r]));
    const problems: InputProblem[] = [];
    for (const { index, definition } of declared) {
      const mine = byName.get(definition.name);
      if (mine) continue;
      const taken = await repo.findOneBy({ projectId, name: definition.name });
      if (taken)
        problems.push({
          field: `slas[${index}].name`,
          message: `is already the name of an SLA in this project (${await ownerOf(tx.manager, taken)}); choose another name`,
        });
    }
    if (problems.length > 0) throw new InvalidInputError(problems);
    const keep = new Set(declared.map((d) => d.definition.name));
    for (const row of owned) if (!keep.has(row.name)) await this.remove(tx, row);
    for (const { definition } of declared) {
      const mine = byName.get(definition.name);
      const columns = columnsOf(definition);
      if (!mine) {
        const row = await repo.save(
          repo.create({
            projectId,
            ...columns,
            enabled: true,
            source: "SPEC",
            pipelineId,
            createdBy: tx.caller.principalId,
          }),
        );
        tx.emit({ type: SlaEvents.created, projectId, subjectId: row.id, payload: slaChangePayload(row) });
      } else if (!sameDefinition(mine, columns)) {
        Object.assign(mine, columns);
        const saved = await repo.save(mine);
        tx.emit({ type: SlaEvents.updated, projectId, subjectId: mine.id, payload: slaChangePayload(saved) });
      }
    }
  }

  async get(id: string, manager = this.manager): Promise<SlaRow | null> {
    return isUuid(id) ? manager.getRepository(SlaRow).findOneBy({ id }) : null;
  }

  async require(id: string, manager = this.manager): Promise<SlaRow> {
    const row = await this.get(id, manager);
    if (!row) throw new NotFoundError("Sla", id);
    return row;
  }

  list(
    projectId: string,
    filter: { kind?: string | null; subjectName?: string | null; state?: string | null; source?: string | null; enabled?: boolean | null },
    page: PageArgs,
    sort: SortSpec<SlaRow>,
  ): Promise<Page<SlaRow>> {
    const qb = this.manager.getRepository(SlaRow).createQueryBuilder("s").where("s.project_id = :projectId", { projectId });
    if (filter.kind) qb.andWhere("s.kind = :kind", { kind: filter.kind });
    if (filter.subjectName) qb.andWhere("s.subject_name = :subjectName", { subjectName: filter.subjectName });
    if (filter.state) qb.andWhere("s.state = :state", { state: filter.state });
    if (filter.source) qb.andWhere("s.source = :source", { source: filter.source });
    if (filter.enabled != null) qb.andWhere("s.enabled = :enabled", { enabled: filter.enabled });
    return paginate(qb, page, sort);
  }

  /** A breach by id (the SLA's open one); null for none. */
  async breach(id: string | null): Promise<SlaBreachRow | null> {
    return id && isUuid(id) ? this.manager.getRepository(SlaBreachRow).findOneBy({ id }) : null;
  }

  /** The SLA's newest breaches, newest first (at most `limit`). */
  breaches(slaId: string, limit: number): Promise<SlaBreachRow[]> {
    return this.manager.getRepository(SlaBreachRow).find({ where: { slaId }, order: { startedAt: "DESC" }, take: limit });
  }
}

function check(def: SlaDefinition): void {
  const problems = definitionProblems(def, API_FIELDS);
  if (problems.length > 0) throw new InvalidInputError(problems);
}

function refuseSpecOwned(row: SlaRow): void {
  if (row.source === "SPEC")
    throw new ConflictError(`the SLA ${row.name} is declared in a pipeline spec: change the spec and apply it again`, { field: "slaId" });
}

/** Who defines an SLA, for messages: the API, or the pipeline whose spec declares it. */
async function ownerOf(manager: EntityManager, row: SlaRow): Promise<string> {
  if (row.source !== "SPEC") return "made through the API";
  const [p] = (await manager.query(`SELECT name FROM pipelines WHERE id = $1`, [row.pipelineId])) as Array<{ name: string }>;
  return `declared in the spec of pipeline ${p?.name ?? row.pipelineId}`;
}

/** The definition an SLA row holds. */
export function definitionOf(row: SlaRow): SlaDefinition {
  return {
    name: row.name,
    kind: row.kind as SlaKind,
    description: row.description,
    subjectName: row.subjectName,
    objective: Number(row.objective),
    windowSeconds: row.windowSeconds === null ? null : Number(row.windowSeconds),
    schedule: row.schedule,
    metric: row.metric,
    severity: row.severity as SlaSeverity,
  };
}

function columnsOf(def: SlaDefinition) {
  return {
    name: def.name,
    kind: def.kind,
    subjectKind: SLA_KIND_INFO[def.kind].subject,
    subjectName: def.subjectName,
    description: def.description,
    objective: def.objective,
    windowSeconds: def.windowSeconds,
    schedule: def.schedule,
    metric: def.metric,
    severity: def.severity,
  };
}

function sameDefinition(row: SlaRow, columns: ReturnType<typeof columnsOf>): boolean {
  const current = columnsOf(definitionOf(row));
  return (Object.keys(columns) as Array<keyof typeof columns>).every((k) => current[k] === columns[k]);
}
