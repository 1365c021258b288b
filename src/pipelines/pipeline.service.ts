import type { EntityManager, Repository } from "typeorm";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { escapeLike } from "../kernel/sql-text";
import { lockWritableProject } from "../projects";
import { specHash } from "./canonical";
import { type SpecDiff, diffSpecs } from "./diff";
import { PipelineVersionRow } from "./pipeline-version.entity";
import { PipelineRow } from "./pipeline.entity";
import { checkSecretGrants, specGrantField } from "./secret-grants";
import type { NormalizedPipelineSpec, PipelineSpec } from "./spec";
import { validatePipelineSpec } from "./validate";

/** Events this capability emits. */
export const PipelineEvents = {
  created: "pipeline.created",
  versionCreated: "pipeline.version.created",
} as const;

/** What `apply` did: a new pipeline, a new version, or nothing (the spec was already there). */
export type ApplyOutcome = "CREATED" | "NEW_VERSION" | "UNCHANGED";

export interface ApplyResult {
  pipeline: PipelineRow;
  version: PipelineVersionRow;
  outcome: ApplyOutcome;
}

/**
 * Refuses a spec with more than `max` stages before any other work on it (validation, hashing and
 * storing grow with its size, and a run plans every stage).
 *
 * @throws InvalidInputError on `stages` naming the count, the limit and `SLUICE_MAX_PIPELINE_STAGES`.
 */
export function checkStageCount(input: unknown, max: number): void {
  const stages = typeof input === "object" && input !== null ? (input as { stages?: unknown }).stages : undefined;
  if (!Array.isArray(stages) || stages.length <= max) return;
  throw new InvalidInputError([
    { field: "stages", message: `has ${stages.length} stages; a pipeline may have at most ${max} (SLUICE_MAX_PIPELINE_STAGES)` },
  ]);
}

/** What a pipeline just applied is, for the hooks that keep other capabilities in step with its spec. */
export interface AppliedSpec {
  projectId: string;
  pipeline: PipelineRow;
  /** The validated, normalized spec now current. */
  spec: NormalizedPipelineSpec;
}

/**
 * Work another capability does in the apply's transaction (the SLAs a spec declares): what it
 * throws refuses the apply, so a spec is stored only with everything it declares.
 */
export type ApplyHook = (tx: MutationTx, applied: AppliedSpec) => Promise<void>;

/** Pipelines and their immutable, content-hashed versions. */
export class PipelineService {
  private readonly applyHooks: ApplyHook[] = [];

  /** Registers work to do in every apply's transaction (the app wires the SLAs a spec declares). */
  onApply(hook: ApplyHook): void {
    this.applyHooks.push(hook);
  }

  constructor(
    private readonly db: Database,
    /** Most stages one spec may have. `SLUICE_MAX_PIPELINE_STAGES`. @default 1000 */
    private readonly maxStages = 1000,
  ) {}

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  /**
   * Stores `input` (an untrusted spec) as the newest version of its pipeline in `projectId`.
   * Validation happens before anything is written; the same spec again changes nothing.
   */
  async apply(tx: MutationTx, projectId: string, input: unknown, baseDir: string): Promise<ApplyResult> {
    checkStageCount(input, this.maxStages);
    const spec = validatePipelineSpec(input);
    if (baseDir !== "" && !baseDir.startsWith("/")) {
      throw new InvalidInputError([{ field: "baseDir", message: "must be an absolute path (the folder the spec file is in)" }]);
    }
    await lockWritableProject(tx.manager, projectId);
    await checkSecretGrants(tx.manager, projectId, spec, specGrantField);
    const hash = specHash(spec);
    let pipeline = await tx.manager.findOne(PipelineRow, { where: { projectId, name: spec.name }, lock: { mode: "pessimistic_write" } });
    const created = !pipeline;
    if (!pipeline) {
      pipeline = await tx.manager.save(tx.manager.create(PipelineRow, { projectId, name: spec.name, description: spec.description ?? "" }));
      tx.emit({ type: PipelineEvents.created, projectId, subjectId: pipeline.id, payload: { name: spec.name } });
    }
    const result = await this.store(tx, pipeline, created, spec, hash, baseDir);
    // Also when nothing changed: re-applying is how declarations that failed to sync are retried.
    for (const hook of this.applyHooks) await hook(tx, { projectId, pipeline, spec });
    return result;
  }

  private async store(
    tx: MutationTx,
    pipeline: PipelineRow,
    created: boolean,
    spec: NormalizedPipelineSpec,
    hash: string,
    baseDir: string,
  ): Promise<ApplyResult> {
    const existing = await tx.manager.findOneBy(PipelineVersionRow, { pipelineId: pipeline.id, contentHash: hash, baseDir });
    if (existing) {
      if (pipeline.latestVersionId === existing.id) return { pipeline, version: existing, outcome: "UNCHANGED" };
      // Re-applying an older spec makes it current again, without a new version.
      pipeline.latestVersionId = existing.id;
      await tx.manager.save(pipeline);
      return { pipeline, version: existing, outcome: "UNCHANGED" };
    }
    const version = await this.insertVersion(tx, pipeline, spec, hash, baseDir);
    pipeline.latestVersionId = version.id;
    pipeline.description = spec.description ?? "";
    await tx.manager.save(pipeline);
    return { pipeline, version, outcome: created ? "CREATED" : "NEW_VERSION" };
  }

  private async insertVersion(
    tx: MutationTx,
    pipeline: PipelineRow,
    spec: PipelineSpec,
    hash: string,
    baseDir: string,
  ): Promise<PipelineVersionRow> {
    const last = await tx.manager
      .createQueryBuilder(PipelineVersionRow, "v")
      .select("COALESCE(MAX(v.version), 0)", "max")
      .where("v.pipelineId = :id", { id: pipeline.id })
      .getRawOne<{ max: number }>();
    const version = await tx.manager.save(
      tx.manager.create(PipelineVersionRow, {
        pipelineId: pipeline.id,
        version: Number(last?.max ?? 0) + 1,
        contentHash: hash,
        spec: spec as unknown as Record<string, unknown>,
        baseDir,
        createdBy: tx.caller.principalId,
      }),
    );
    tx.emit({
      type: PipelineEvents.versionCreated,
      projectId: pipeline.projectId,
      subjectId: pipeline.id,
      payload: { pipeline: pipeline.name, version: version.version, versionId: version.id, hash },
    });
    return version;
  }

  async get(id: string): Promise<PipelineRow | null> {
    return this.repo(PipelineRow).findOneBy({ id });
  }

  async getByName(projectId: string, name: string): Promise<PipelineRow | null> {
    return this.repo(PipelineRow).findOneBy({ projectId, name });
  }

  async getVersion(id: string, manager?: EntityManager): Promise<PipelineVersionRow | null> {
    return (manager ?? this.db.dataSource.manager).findOneBy(PipelineVersionRow, { id });
  }

  async getVersionByNumber(pipelineId: string, version: number, manager?: EntityManager): Promise<PipelineVersionRow | null> {
    return (manager ?? this.db.dataSource.manager).findOneBy(PipelineVersionRow, { pipelineId, version });
  }

  async list(
    filter: { projectIds: "all" | string[]; nameContains?: string },
    page: PageArgs,
    sort: SortSpec<PipelineRow>,
  ): Promise<Page<PipelineRow>> {
    const qb = this.repo(PipelineRow).createQueryBuilder("p");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("p.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.nameContains) qb.andWhere("p.name ILIKE :pattern", { pattern: `%${escapeLike(filter.nameContains)}%` });
    return paginate(qb, page, sort);
  }

  async listVersions(pipelineId: string, page: PageArgs, sort: SortSpec<PipelineVersionRow>): Promise<Page<PipelineVersionRow>> {
    const qb = this.repo(PipelineVersionRow).createQueryBuilder("v").where("v.pipelineId = :pipelineId", { pipelineId });
    return paginate(qb, page, sort);
  }

  /** What changed from version `fromId` to version `toId` (both of one pipeline). */
  async diff(fromId: string, toId: string): Promise<{ from: PipelineVersionRow; to: PipelineVersionRow; diff: SpecDiff }> {
    const [from, to] = await Promise.all([this.getVersion(fromId), this.getVersion(toId)]);
    if (!from) throw new NotFoundError("PipelineVersion", fromId);
    if (!to) throw new NotFoundError("PipelineVersion", toId);
    if (from.pipelineId !== to.pipelineId) {
      throw new InvalidInputError([{ field: "to", message: "must be a version of the same pipeline as `from`" }]);
    }
    return { from, to, diff: diffSpecs(from.spec as unknown as PipelineSpec, to.spec as unknown as PipelineSpec) };
  }
}
