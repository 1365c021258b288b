import type { EntityManager, Repository } from "typeorm";
import { ConflictError, InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { escapeLike } from "../kernel/sql-text";
import { ProjectRow } from "./project.entity";

/** Project names are DNS-label-like slugs: they appear in URLs, CLI arguments and file paths. */
const PROJECT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME_RULE = "must be 1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit";
const MAX_DESCRIPTION = 2000;

export interface ProjectFilter {
  nameContains?: string;
  includeArchived?: boolean;
}

/** Events this capability emits. */
export const ProjectEvents = {
  created: "project.created",
  renamed: "project.renamed",
  archived: "project.archived",
  restored: "project.restored",
} as const;

function checkName(name: string): string {
  const trimmed = name.trim();
  if (!PROJECT_NAME.test(trimmed)) throw new InvalidInputError([{ field: "name", message: NAME_RULE }]);
  return trimmed;
}

/**
 * The project in `manager`'s transaction, locked for update, refusing archived ones: every
 * capability that writes into a project calls this first.
 */
export async function lockWritableProject(manager: EntityManager, projectId: string): Promise<ProjectRow> {
  const row = await manager.findOne(ProjectRow, { where: { id: projectId }, lock: { mode: "pessimistic_write" } });
  if (!row) throw new NotFoundError("Project", projectId);
  if (row.archivedAt) throw new ConflictError(`Project ${row.name} is archived; restore it before changing it`, { projectId });
  return row;
}

/** Projects: the namespaces everything else lives in. */
export class ProjectService {
  constructor(private readonly db: Database) {}

  private get repo(): Repository<ProjectRow> {
    return this.db.dataSource.getRepository(ProjectRow);
  }

  async create(tx: MutationTx, input: { name: string; description?: string | null }): Promise<ProjectRow> {
    const name = checkName(input.name);
    const description = (input.description ?? "").trim();
    if (description.length > MAX_DESCRIPTION)
      throw new InvalidInputError([{ field: "description", message: `must be at most ${MAX_DESCRIPTION} characters` }]);
    if (await tx.manager.existsBy(ProjectRow, { name }))
      throw new ConflictError(`A project named ${name} already exists`, { field: "name" });
    const row = await tx.manager.save(tx.manager.create(ProjectRow, { name, description }));
    tx.emit({ type: ProjectEvents.created, projectId: row.id, subjectId: row.id, payload: { name } });
    return row;
  }

  async rename(tx: MutationTx, id: string, newName: string): Promise<ProjectRow> {
    const name = checkName(newName);
    const row = await lockWritableProject(tx.manager, id);
    if (row.name === name) return row;
    if (await tx.manager.existsBy(ProjectRow, { name }))
      throw new ConflictError(`A project named ${name} already exists`, { field: "name" });
    const oldName = row.name;
    row.name = name;
    await tx.manager.save(row);
    tx.emit({ type: ProjectEvents.renamed, projectId: id, subjectId: id, payload: { from: oldName, to: name } });
    return row;
  }

  async archive(tx: MutationTx, id: string): Promise<ProjectRow> {
    const row = await lockWritableProject(tx.manager, id);
    row.archivedAt = new Date();
    await tx.manager.save(row);
    tx.emit({ type: ProjectEvents.archived, projectId: id, subjectId: id, payload: { name: row.name } });
    return row;
  }

  async restore(tx: MutationTx, id: string): Promise<ProjectRow> {
    const row = await tx.manager.findOne(ProjectRow, { where: { id }, lock: { mode: "pessimistic_write" } });
    if (!row) throw new NotFoundError("Project", id);
    if (!row.archivedAt) throw new ConflictError(`Project ${row.name} is not archived`, { projectId: id });
    row.archivedAt = null;
    await tx.manager.save(row);
    tx.emit({ type: ProjectEvents.restored, projectId: id, subjectId: id, payload: { name: row.name } });
    return row;
  }

  async get(id: string): Promise<ProjectRow | null> {
    return this.repo.findOneBy({ id });
  }

  async getByName(name: string): Promise<ProjectRow | null> {
    return this.repo.findOneBy({ name });
  }

  /**
   * The project when the server has exactly one (archived or not), else null: routes that need a
   * project (OIP, MLflow) use it when the request names none, so a one-project server needs no
   * `X-Sluice-Project`.
   */
  async onlyProject(): Promise<ProjectRow | null> {
    const rows = await this.repo.find({ take: 2, order: { createdAt: "ASC" } });
    return rows.length === 1 ? rows[0]! : null;
  }

  /** Whether the server has no project at all (a fresh server). */
  async none(): Promise<boolean> {
    return !(await this.repo.exists());
  }

  /** Projects matching `filter` among `visible` (`"all"` or ids the caller may read). */
  async list(filter: ProjectFilter, visible: "all" | string[], page: PageArgs, sort: SortSpec<ProjectRow>): Promise<Page<ProjectRow>> {
    const qb = this.repo.createQueryBuilder("p");
    if (visible !== "all") {
      if (visible.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("p.id IN (:...visible)", { visible });
    }
    if (!filter.includeArchived) qb.andWhere("p.archivedAt IS NULL");
    if (filter.nameContains) qb.andWhere("p.name ILIKE :pattern", { pattern: `%${escapeLike(filter.nameContains)}%` });
    return paginate(qb, page, sort);
  }
}
