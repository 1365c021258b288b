import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { EntityManager, Repository } from "typeorm";
import { ConflictError, InvalidInputError, NotFoundError, type InputProblem } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { artifactFor } from "../artifacts/record";
import type { ArtifactStore, StoredObject } from "../artifacts/store";
import type { Database } from "../db/data-source";
import { escapeLike } from "../kernel/sql-text";
import { lockWritableProject } from "../projects";
import { profileParquet } from "./columnar/profile";
import { materializeFiles } from "./columnar/read";
import { DatasetSourceRow } from "./dataset-source.entity";
import { DatasetVersionRow } from "./dataset-version.entity";
import { DatasetRow } from "./dataset.entity";
import { SchemaPolicyError } from "./dataset.errors";
import { FILE_FORMATS, isFileFormat } from "./file-format";
import { diffSchemas, policyViolations } from "./schema-diff";
import type { ColumnSchema, DatasetProfile, SchemaPolicy, SourceConfig } from "./types";

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const POLICIES: readonly SchemaPolicy[] = ["ALLOW_ALL", "FAIL_ON_BREAKING", "FAIL_ON_ANY"];

/** Events of this capability; `dataset.version.created` is the one event triggers listen for. */
export const DatasetEvents = {
  created: "dataset.created",
  versionCreated: "dataset.version.created",
} as const;

/** A materialized data set waiting to become a version: a Parquet file, its schema and profile. */
export interface Materialized {
  stored: StoredObject;
  rowCount: number;
  schema: ColumnSchema[];
  profile: DatasetProfile;
  origin: Record<string, unknown>;
}

/** What writing a version needs of a transaction: a mutation's, or the run engine's at stage completion. */
export type WriteTx = Pick<MutationTx, "manager" | "emit"> & { caller?: { principalId: string | null } };

/** What registering a version did: a new version, or the existing one with the same content. */
export interface VersionResult {
  version: DatasetVersionRow;
  created: boolean;
}

/**
 * Datasets, their sources and versions. Reading, converting and profiling data is DuckDB's
 * work in `columnar/`, done before any transaction; the transaction then only records the
 * version, so a slow ingest never holds database locks.
 */
export class DatasetService {
  constructor(
    private readonly db: Database,
    private readonly store: ArtifactStore,
  ) {}

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  async create(
    tx: MutationTx,
    input: { projectId: string; name: string; description?: string | null; schemaPolicy?: SchemaPolicy | null },
  ): Promise<DatasetRow> {
    const problems: InputProblem[] = [];
    if (!NAME.test(input.name))
      problems.push({
        field: "name",
        message: "must be 1-63 characters of lowercase letters, digits, _ and -, starting with a letter or digit",
      });
    if (input.schemaPolicy && !POLICIES.includes(input.schemaPolicy))
      problems.push({ field: "schemaPolicy", message: `must be one of ${POLICIES.join(", ")}` });
    if (problems.length) throw new InvalidInputError(problems);
    await lockWritableProject(tx.manager, input.projectId);
    if (await tx.manager.existsBy(DatasetRow, { projectId: input.projectId, name: input.name })) {
      throw new ConflictError(`The project already has a dataset named ${input.name}`, { field: "name" });
    }
    const row = await tx.manager.save(
      tx.manager.create(DatasetRow, {
        projectId: input.projectId,
        name: input.name,
        description: (input.description ?? "").trim(),
        schemaPolicy: input.schemaPolicy ?? "FAIL_ON_BREAKING",
      }),
    );
    tx.emit({
      type: DatasetEvents.created,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { datasetId: row.id, dataset: row.name },
    });
    return row;
  }

  /**
   * The dataset `name` of the project, created (with `schemaPolicy`) when there is none: for
   * datasets a pipeline writes (`ingest` stages, quarantines) rather than a person defines.
   */
  async findOrCreate(tx: WriteTx, projectId: string, name: string, schemaPolicy: SchemaPolicy = "FAIL_ON_BREAKING"): Promise<DatasetRow> {
    if (!NAME.test(name))
      throw new InvalidInputError([{ field: "dataset", message: "must be 1-63 characters of lowercase letters, digits, _ and -" }]);
    await lockWritableProject(tx.manager, projectId);
    const existing = await tx.manager.findOneBy(DatasetRow, { projectId, name });
    if (existing) return existing;
    const row = await tx.manager.save(tx.manager.create(DatasetRow, { projectId, name, description: "", schemaPolicy }));
    tx.emit({ type: DatasetEvents.created, projectId, subjectId: row.id, payload: { datasetId: row.id, dataset: row.name } });
    return row;
  }

  async update(
    tx: MutationTx,
    id: string,
    input: { description?: string | null; schemaPolicy?: SchemaPolicy | null },
  ): Promise<DatasetRow> {
    const row = await tx.manager.findOne(DatasetRow, { where: { id }, lock: { mode: "pessimistic_write" } });
    if (!row) throw new NotFoundError("Dataset", id);
    await lockWritableProject(tx.manager, row.projectId);
    if (input.schemaPolicy) {
      if (!POLICIES.includes(input.schemaPolicy))
        throw new InvalidInputError([{ field: "schemaPolicy", message: `must be one of ${POLICIES.join(", ")}` }]);
      row.schemaPolicy = input.schemaPolicy;
    }
    if (input.description !== undefined && input.description !== null) row.description = input.description.trim();
    return tx.manager.save(row);
  }

  /** Adds (or replaces, by name) a source. Paths are checked when data is read, not here. */
  async putSource(tx: MutationTx, datasetId: string, name: string, config: SourceConfig): Promise<DatasetSourceRow> {
    const dataset = await this.requireDataset(tx.manager, datasetId);
    await lockWritableProject(tx.manager, dataset.projectId);
    if (!NAME.test(name))
      throw new InvalidInputError([{ field: "name", message: "must be 1-63 characters of lowercase letters, digits, _ and -" }]);
    checkSourceConfig(config);
    const existing = await tx.manager.findOneBy(DatasetSourceRow, { datasetId, name });
    const row = existing ?? tx.manager.create(DatasetSourceRow, { datasetId, name, createdBy: tx.caller.principalId });
    row.config = config as unknown as Record<string, unknown>;
    return tx.manager.save(row);
  }

  async deleteSource(tx: MutationTx, sourceId: string): Promise<DatasetSourceRow> {
    const row = await tx.manager.findOneBy(DatasetSourceRow, { id: sourceId });
    if (!row) throw new NotFoundError("DatasetSource", sourceId);
    await tx.manager.delete(DatasetSourceRow, { id: sourceId });
    return row;
  }

  /**
   * Reads files into one Parquet file in the artifact store, with schema and profile. No
   * transaction is open meanwhile. The caller records it with `registerVersion`.
   */
  async materializeFileSource(config: Extract<SourceConfig, { kind: "FILE" }>, roots: string[]): Promise<Materialized> {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-ingest-"));
    try {
      const out = path.join(scratch, "data.parquet");
      const read = await materializeFiles(config, out, { roots });
      return await this.storeParquet(out, read.rowCount, read.schema, { kind: "FILE", format: config.format, files: read.files });
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  /** Profiles a Parquet file and moves it into the artifact store. */
  async storeParquet(file: string, rowCount: number, schema: ColumnSchema[], origin: Record<string, unknown>): Promise<Materialized> {
    const profile = await profileParquet(file);
    const stored = await this.store.put(file, { move: true });
    return { stored, rowCount, schema, profile, origin };
  }

  /**
   * Records `data` as the next version of the dataset — or finds the version that already has
   * its content. The schema diff from the latest version is computed and checked against the
   * dataset's policy; a refused change throws SchemaPolicyError and records nothing.
   */
  async registerVersion(
    tx: WriteTx,
    datasetId: string,
    data: Materialized,
    from: { sourceId?: string | null; producedBy?: string | null; createdBy?: string | null; artifactId?: string },
  ): Promise<VersionResult> {
    const dataset = await tx.manager.findOne(DatasetRow, { where: { id: datasetId }, lock: { mode: "pessimistic_write" } });
    if (!dataset) throw new NotFoundError("Dataset", datasetId);
    await lockWritableProject(tx.manager, dataset.projectId);
    const same = await tx.manager.findOneBy(DatasetVersionRow, { datasetId, contentHash: data.stored.hash });
    if (same) return { version: same, created: false };
    const latest = dataset.latestVersionId ? await tx.manager.findOneBy(DatasetVersionRow, { id: dataset.latestVersionId }) : null;
    const diff = latest
      ? diffSchemas(latest.schema as unknown as ColumnSchema[], data.schema, {
          prevProfile: latest.profile as unknown as DatasetProfile,
          nextProfile: data.profile,
        })
      : null;
    if (diff) {
      const violations = policyViolations(diff, dataset.schemaPolicy);
      if (violations.length > 0) throw new SchemaPolicyError(dataset.name, dataset.schemaPolicy, diff, violations);
    }
    const [{ next }] = await tx.manager.query(`SELECT COALESCE(MAX(version), 0) + 1 AS next FROM dataset_versions WHERE dataset_id = $1`, [
      datasetId,
    ]);
    const artifact = await artifactFor(tx.manager, from.artifactId, {
      projectId: dataset.projectId,
      kind: "Dataset",
      stored: data.stored,
      metadata: { dataset: dataset.name, version: Number(next), rowCount: data.rowCount, format: "parquet" },
      producedBy: from.producedBy,
    });
    const version = await tx.manager.save(
      tx.manager.create(DatasetVersionRow, {
        datasetId,
        version: Number(next),
        contentHash: data.stored.hash,
        artifactId: artifact.id,
        rowCount: String(data.rowCount),
        schema: data.schema as unknown as Record<string, unknown>[],
        profile: data.profile as unknown as Record<string, unknown>,
        schemaDiff: diff as unknown as Record<string, unknown> | null,
        sourceId: from.sourceId ?? null,
        origin: data.origin,
        producedBy: from.producedBy ?? null,
        createdBy: from.createdBy !== undefined ? from.createdBy : (tx.caller?.principalId ?? null),
      }),
    );
    dataset.latestVersionId = version.id;
    await tx.manager.save(dataset);
    tx.emit({
      type: DatasetEvents.versionCreated,
      projectId: dataset.projectId,
      subjectId: dataset.id,
      payload: {
        datasetId: dataset.id,
        dataset: dataset.name,
        versionId: version.id,
        version: version.version,
        artifactId: artifact.id,
        rowCount: data.rowCount,
        breakingChange: diff?.breaking ?? false,
      },
    });
    return { version, created: true };
  }

  private async requireDataset(manager: EntityManager, id: string): Promise<DatasetRow> {
    const row = await manager.findOneBy(DatasetRow, { id });
    if (!row) throw new NotFoundError("Dataset", id);
    return row;
  }

  async get(id: string): Promise<DatasetRow | null> {
    return this.repo(DatasetRow).findOneBy({ id });
  }

  /** The local path of a version's Parquet file (in the artifact store; read it, never write it). */
  async versionFile(version: Pick<DatasetVersionRow, "artifactId">): Promise<string> {
    const artifact = await this.repo(ArtifactRow).findOneByOrFail({ id: version.artifactId });
    return this.store.localPath(artifact.uri);
  }

  async getByName(projectId: string, name: string): Promise<DatasetRow | null> {
    return this.repo(DatasetRow).findOneBy({ projectId, name });
  }

  async source(id: string): Promise<DatasetSourceRow | null> {
    return this.repo(DatasetSourceRow).findOneBy({ id });
  }

  async sources(datasetId: string): Promise<DatasetSourceRow[]> {
    return this.repo(DatasetSourceRow).find({ where: { datasetId }, order: { name: "ASC" } });
  }

  async version(id: string): Promise<DatasetVersionRow | null> {
    return this.repo(DatasetVersionRow).findOneBy({ id });
  }

  async versionByNumber(datasetId: string, version: number): Promise<DatasetVersionRow | null> {
    return this.repo(DatasetVersionRow).findOneBy({ datasetId, version });
  }

  async list(
    filter: { projectIds: "all" | string[]; nameContains?: string },
    page: PageArgs,
    sort: SortSpec<DatasetRow>,
  ): Promise<Page<DatasetRow>> {
    const qb = this.repo(DatasetRow).createQueryBuilder("d");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("d.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.nameContains) qb.andWhere("d.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    return paginate(qb, page, sort);
  }

  async versions(datasetId: string, page: PageArgs, sort: SortSpec<DatasetVersionRow>): Promise<Page<DatasetVersionRow>> {
    return paginate(this.repo(DatasetVersionRow).createQueryBuilder("v").where("v.datasetId = :datasetId", { datasetId }), page, sort);
  }
}

/** Checks a source config's shape; paths and the secret are checked when it is read. */
export function checkSourceConfig(config: SourceConfig): void {
  const problems: InputProblem[] = [];
  if (config.kind === "FILE") {
    if (!Array.isArray(config.paths) || config.paths.length === 0 || config.paths.some((p) => typeof p !== "string" || !p.trim())) {
      problems.push({ field: "config.paths", message: "must list at least one path or glob" });
    }
    if (!isFileFormat(config.format))
      problems.push({
        field: "config.format",
        message: `must be one of ${FILE_FORMATS.join(", ")} (given, or said by the paths' extension)`,
      });
  } else if (config.kind === "POSTGRES_QUERY") {
    if (!/^[A-Z][A-Z0-9_]{0,62}$/.test(config.secret ?? ""))
      problems.push({ field: "config.secret", message: "must name a project secret (like DATABASE_URL)" });
    if (!config.query?.trim()) problems.push({ field: "config.query", message: "must be a SELECT query" });
  } else {
    problems.push({ field: "config.kind", message: "must be FILE or POSTGRES_QUERY" });
  }
  if (problems.length) throw new InvalidInputError(problems);
}
