/**
 * Endpoints: create, change, roll back and delete them, each change a new revision with its
 * whole target, and an event (`deployment.created|updated|rolled_back|deleted`) that every
 * serving process follows.
 *
 * Only APPROVED versions are deployed: a pinned version, a canary, a shadow, and the version an
 * alias points at when an endpoint starts following it. What serves later is decided by
 * `servedVersions` (used by serving and by the API's `status`): an alias that moves to a version
 * that is not approved leaves the endpoint on the last approved version the alias pointed at.
 */
import { DEPLOYMENT_NAME } from "../pipelines";
import type { EntityManager, Repository } from "typeorm";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import { VersionNotApprovedError } from "./deployment.errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { escapeLike } from "../kernel/sql-text";
import { lockWritableProject } from "../projects";
import { ModelAliasHistoryRow, ModelAliasRow, ModelVersionRow, RegisteredModelRow } from "../registry";
import {
  type DeploymentChange,
  type DeploymentMode,
  DeploymentRevisionRow,
  DeploymentRow,
  type DeploymentTarget,
} from "./deployment.entity";

export const DeploymentEvents = {
  created: "deployment.created",
  updated: "deployment.updated",
  rolledBack: "deployment.rolled_back",
  deleted: "deployment.deleted",
} as const;

export const DEPLOYMENT_EVENT_TYPES: string[] = Object.values(DeploymentEvents);

/** Endpoint names appear in URLs (`/v2/models/{name}`): the registry's model-name rule. */

export interface DeployInput {
  projectId: string;
  name: string;
  /** The registered model's name. */
  model: string;
  version?: number | null;
  alias?: string | null;
  mode?: DeploymentMode | null;
}

/** The versions an endpoint serves now, each APPROVED, or why there is none. */
export interface ServedVersions {
  primary: ModelVersionRow | null;
  /** Why `primary` is null. */
  reason?: string;
  canary: ModelVersionRow | null;
  shadow: ModelVersionRow | null;
}

const TARGET_FIELDS = ["registeredModelId", "version", "alias", "mode", "canaryVersion", "canaryPercent", "shadowVersion"] as const;

function targetOf(t: DeploymentTarget): DeploymentTarget {
  return Object.fromEntries(TARGET_FIELDS.map((k) => [k, t[k]])) as unknown as DeploymentTarget;
}

export class DeploymentService {
  constructor(private readonly db: Database) {}

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  async get(id: string): Promise<DeploymentRow | null> {
    return this.repo(DeploymentRow).findOneBy({ id });
  }

  async byName(projectId: string, name: string): Promise<DeploymentRow | null> {
    return this.repo(DeploymentRow).findOneBy({ projectId, name });
  }

  async list(
    filter: { projectIds: "all" | string[]; nameContains?: string; registeredModelId?: string },
    page: PageArgs,
    sort: SortSpec<DeploymentRow>,
  ): Promise<Page<DeploymentRow>> {
    const qb = this.repo(DeploymentRow).createQueryBuilder("d");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("d.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.nameContains) qb.andWhere("d.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    if (filter.registeredModelId) qb.andWhere("d.registeredModelId = :m", { m: filter.registeredModelId });
    return paginate(qb, page, sort);
  }

  /** An endpoint's revisions, newest first. */
  async revisions(deploymentId: string, page: PageArgs): Promise<Page<DeploymentRevisionRow>> {
    const qb = this.repo(DeploymentRevisionRow).createQueryBuilder("r").where("r.deploymentId = :id", { id: deploymentId });
    return paginate(qb, page, { property: "revision", direction: "DESC" });
  }

  async modelOf(row: DeploymentTarget): Promise<RegisteredModelRow | null> {
    return this.repo(RegisteredModelRow).findOneBy({ id: row.registeredModelId });
  }

  /**
   * Creates the endpoint `name`, or changes its target (model, pinned version or alias, mode).
   * A changed model drops the canary and shadow, which were versions of the old one.
   */
  async deploy(tx: MutationTx, input: DeployInput): Promise<{ row: DeploymentRow; created: boolean }> {
    if (!DEPLOYMENT_NAME.test(input.name)) {
      throw new InvalidInputError([
        { field: "name", message: "must be 1-128 letters, digits, _ . and -, starting with a letter or digit" },
      ]);
    }
    const hasVersion = input.version !== undefined && input.version !== null;
    const hasAlias = input.alias !== undefined && input.alias !== null && input.alias !== "";
    if (hasVersion === hasAlias) {
      throw new InvalidInputError([
        { field: "version", message: "give exactly one of version (a pinned version) and alias (an alias the endpoint follows)" },
      ]);
    }
    await lockWritableProject(tx.manager, input.projectId);
    const model = await tx.manager.findOneBy(RegisteredModelRow, { projectId: input.projectId, name: input.model });
    if (!model) throw new NotFoundError("RegisteredModel", input.model);
    if (hasVersion) await requireApproved(tx.manager, model, input.version!, "version");
    else await requireAliasApproved(tx.manager, model, input.alias!);
    const existing = await tx.manager.findOne(DeploymentRow, {
      where: { projectId: input.projectId, name: input.name },
      lock: { mode: "pessimistic_write" },
    });
    const mode = input.mode ?? existing?.mode ?? "REALTIME";
    const sameModel = existing?.registeredModelId === model.id;
    const target: DeploymentTarget = {
      registeredModelId: model.id,
      version: hasVersion ? input.version! : null,
      alias: hasAlias ? input.alias! : null,
      mode,
      canaryVersion: sameModel ? existing!.canaryVersion : null,
      canaryPercent: sameModel ? existing!.canaryPercent : 0,
      shadowVersion: sameModel ? existing!.shadowVersion : null,
    };
    if (!existing) {
      const row = await tx.manager.save(
        tx.manager.create(DeploymentRow, {
          projectId: input.projectId,
          name: input.name,
          ...target,
          revision: 0,
          createdBy: tx.caller.principalId,
        }),
      );
      return { row: await this.revise(tx, row, target, "CREATED", model), created: true };
    }
    return { row: await this.revise(tx, existing, target, "UPDATED", model), created: false };
  }

  /** Sends `percent` % of requests to `version` (an APPROVED version of the endpoint's model); null version removes the canary. */
  async setCanary(tx: MutationTx, projectId: string, name: string, version: number | null, percent: number | null): Promise<DeploymentRow> {
    const { row, model } = await this.lock(tx, projectId, name);
    if (version === null) return this.revise(tx, row, { ...targetOf(row), canaryVersion: null, canaryPercent: 0 }, "CANARY_SET", model);
    const p = percent ?? 0;
    if (!Number.isInteger(p) || p < 0 || p > 100) {
      throw new InvalidInputError([{ field: "percent", message: `must be an integer from 0 to 100, not ${percent}` }]);
    }
    await requireApproved(tx.manager, model, version, "version", "a canary");
    return this.revise(tx, row, { ...targetOf(row), canaryVersion: version, canaryPercent: p }, "CANARY_SET", model);
  }

  /** Mirrors every request to `version` (APPROVED); null removes the shadow. */
  async setShadow(tx: MutationTx, projectId: string, name: string, version: number | null): Promise<DeploymentRow> {
    const { row, model } = await this.lock(tx, projectId, name);
    if (version !== null) await requireApproved(tx.manager, model, version, "version", "a shadow");
    return this.revise(tx, row, { ...targetOf(row), shadowVersion: version }, "SHADOW_SET", model);
  }

  /** The canary becomes the pinned primary (an alias is no longer followed); no canary after. */
  async promoteCanary(tx: MutationTx, projectId: string, name: string): Promise<DeploymentRow> {
    const { row, model } = await this.lock(tx, projectId, name);
    if (row.canaryVersion === null) {
      throw new InvalidInputError([{ field: "name", message: `endpoint ${name} has no canary to promote` }]);
    }
    await requireApproved(tx.manager, model, row.canaryVersion, "version", "a promoted canary");
    const target = { ...targetOf(row), version: row.canaryVersion, alias: null, canaryVersion: null, canaryPercent: 0 };
    return this.revise(tx, row, target, "CANARY_PROMOTED", model);
  }

  /**
   * Returns the endpoint to the target of revision `toRevision`, by default the one before the
   * current: a new revision with that target (so a second rollback undoes the first). Its
   * versions must still be APPROVED.
   */
  async rollback(
    tx: MutationTx,
    projectId: string,
    name: string,
    toRevision: number | null,
  ): Promise<{ row: DeploymentRow; from: number; to: number }> {
    const { row } = await this.lock(tx, projectId, name);
    const wanted = toRevision ?? row.revision - 1;
    if (wanted < 1 || wanted >= row.revision) {
      throw new InvalidInputError([
        {
          field: "toRevision",
          message:
            row.revision === 1
              ? `endpoint ${name} has only its first revision: there is nothing to roll back to`
              : `must be a revision of ${name} from 1 to ${row.revision - 1}, not ${wanted}`,
        },
      ]);
    }
    const rev = await tx.manager.findOneByOrFail(DeploymentRevisionRow, { deploymentId: row.id, revision: wanted });
    const model = await tx.manager.findOneBy(RegisteredModelRow, { id: rev.registeredModelId });
    if (!model) throw new NotFoundError("RegisteredModel", rev.registeredModelId);
    if (rev.version !== null) await requireApproved(tx.manager, model, rev.version, "toRevision", `revision ${wanted}'s version`);
    else await requireAliasApproved(tx.manager, model, rev.alias!, "toRevision");
    if (rev.canaryVersion !== null)
      await requireApproved(tx.manager, model, rev.canaryVersion, "toRevision", `revision ${wanted}'s canary`);
    if (rev.shadowVersion !== null)
      await requireApproved(tx.manager, model, rev.shadowVersion, "toRevision", `revision ${wanted}'s shadow`);
    const from = row.revision;
    return {
      row: await this.revise(tx, row, targetOf(rev), "ROLLED_BACK", model, { fromRevision: from, toRevision: wanted }),
      from,
      to: wanted,
    };
  }

  async delete(tx: MutationTx, projectId: string, name: string): Promise<DeploymentRow> {
    const { row, model } = await this.lock(tx, projectId, name);
    await tx.manager.delete(DeploymentRow, { id: row.id });
    tx.emit({ type: DeploymentEvents.deleted, projectId, subjectId: row.id, payload: payloadOf(row, model, null) });
    return row;
  }

  /** The versions the endpoint serves now: see `servedVersionsWith`. */
  async servedVersions(row: DeploymentTarget, modelName: string): Promise<ServedVersions> {
    return servedVersionsWith(this.db.dataSource.manager, row, modelName);
  }

  private async lock(tx: MutationTx, projectId: string, name: string): Promise<{ row: DeploymentRow; model: RegisteredModelRow }> {
    await lockWritableProject(tx.manager, projectId);
    const row = await tx.manager.findOne(DeploymentRow, { where: { projectId, name }, lock: { mode: "pessimistic_write" } });
    if (!row) throw new NotFoundError("Deployment", name);
    const model = await tx.manager.findOneBy(RegisteredModelRow, { id: row.registeredModelId });
    if (!model) throw new NotFoundError("RegisteredModel", row.registeredModelId);
    return { row, model };
  }

  /** Writes `target` onto the endpoint as its next revision, and the event saying so. */
  private async revise(
    tx: MutationTx,
    row: DeploymentRow,
    target: DeploymentTarget,
    change: DeploymentChange,
    model: RegisteredModelRow,
    extra: Record<string, unknown> = {},
  ): Promise<DeploymentRow> {
    Object.assign(row, targetOf(target), { revision: row.revision + 1 });
    const saved = await tx.manager.save(row);
    await tx.manager.save(
      tx.manager.create(DeploymentRevisionRow, {
        deploymentId: row.id,
        revision: row.revision,
        change,
        actorId: tx.caller.principalId,
        ...targetOf(target),
      }),
    );
    const type =
      change === "CREATED" ? DeploymentEvents.created : change === "ROLLED_BACK" ? DeploymentEvents.rolledBack : DeploymentEvents.updated;
    const served = await this.servedVersionsIn(tx.manager, saved, model);
    tx.emit({
      type,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { ...payloadOf(saved, model, change), servingVersion: served, ...extra },
    });
    return saved;
  }

  /** The primary version number serving right after a change (checked approved above, so the alias's or the pinned one). */
  private async servedVersionsIn(manager: EntityManager, row: DeploymentRow, model: RegisteredModelRow): Promise<number | null> {
    if (row.version !== null) return row.version;
    const alias = await manager.findOneBy(ModelAliasRow, { registeredModelId: model.id, alias: row.alias! });
    const v = alias ? await manager.findOneBy(ModelVersionRow, { id: alias.versionId }) : null;
    return v?.version ?? null;
  }
}

function payloadOf(row: DeploymentRow, model: RegisteredModelRow, change: DeploymentChange | null): Record<string, unknown> {
  return {
    deploymentId: row.id,
    projectId: row.projectId,
    name: row.name,
    registeredModelId: model.id,
    model: model.name,
    version: row.version,
    alias: row.alias,
    mode: row.mode,
    canaryVersion: row.canaryVersion,
    canaryPercent: row.canaryPercent,
    shadowVersion: row.shadowVersion,
    revision: row.revision,
    ...(change ? { change } : {}),
  };
}

/** Refuses a version that does not exist or is not APPROVED, naming it and its status. */
async function requireApproved(
  manager: EntityManager,
  model: RegisteredModelRow,
  version: number,
  field: string,
  role = "a deployment",
): Promise<ModelVersionRow> {
  const v = await manager.findOneBy(ModelVersionRow, { registeredModelId: model.id, version });
  if (!v) throw new NotFoundError("ModelVersion", `${model.name} v${version}`);
  if (v.status !== "APPROVED") {
    throw new VersionNotApprovedError(model.id, model.name, version, v.status, field, null, role);
  }
  return v;
}

async function requireAliasApproved(manager: EntityManager, model: RegisteredModelRow, alias: string, field = "alias"): Promise<void> {
  const a = await manager.findOneBy(ModelAliasRow, { registeredModelId: model.id, alias });
  if (!a) throw new NotFoundError("ModelAlias", `${model.name}@${alias}`);
  const v = await manager.findOneByOrFail(ModelVersionRow, { id: a.versionId });
  if (v.status !== "APPROVED") {
    throw new VersionNotApprovedError(model.id, model.name, v.version, v.status, field, alias, "a deployment");
  }
}

/**
 * The versions the endpoint serves now (read by every serving process, so all replicas agree
 * from the database alone; inside a transaction pass its manager, PGlite having one session):
 * the pinned version, or the version its alias points at — or, when that one is not APPROVED (the alias moved to a version still pending, say), the latest
 * APPROVED version the alias pointed at before. Canary and shadow count only while APPROVED.
 */
export async function servedVersionsWith(manager: EntityManager, row: DeploymentTarget, modelName: string): Promise<ServedVersions> {
  const repo = <T extends object>(cls: new () => T) => manager.getRepository(cls);
  const versions = repo(ModelVersionRow);
  const approved = async (n: number | null) => {
    if (n === null) return null;
    const v = await versions.findOneBy({ registeredModelId: row.registeredModelId, version: n });
    return v?.status === "APPROVED" ? v : null;
  };
  const [canary, shadow] = await Promise.all([row.canaryPercent > 0 ? approved(row.canaryVersion) : null, approved(row.shadowVersion)]);
  if (row.version !== null) {
    const primary = await approved(row.version);
    if (primary) return { primary, canary, shadow };
    const v = await versions.findOneBy({ registeredModelId: row.registeredModelId, version: row.version });
    return {
      primary: null,
      canary,
      shadow,
      reason: `version ${row.version} of ${modelName} is ${v?.status ?? "gone"}; only APPROVED versions are served`,
    };
  }
  const alias = await repo(ModelAliasRow).findOneBy({ registeredModelId: row.registeredModelId, alias: row.alias! });
  if (alias) {
    const v = await versions.findOneBy({ id: alias.versionId });
    if (v?.status === "APPROVED") return { primary: v, canary, shadow };
  }
  const history = await repo(ModelAliasHistoryRow).find({
    where: { registeredModelId: row.registeredModelId, alias: row.alias! },
    order: { seq: "DESC" },
    take: 100,
  });
  for (const h of history) {
    if (!h.toVersionId) continue;
    const v = await versions.findOneBy({ id: h.toVersionId });
    if (v?.status === "APPROVED") return { primary: v, canary, shadow };
  }
  return {
    primary: null,
    canary,
    shadow,
    reason: `alias '${row.alias}' of ${modelName} has never pointed at an APPROVED version that still is`,
  };
}
