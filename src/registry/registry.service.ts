import type { EntityManager, Repository } from "typeorm";
import { ConflictError, InvalidInputError, NotFoundError, type InputProblem } from "../kernel/errors";
import type { EventDraft } from "../kernel/ledger";
import type { MutationTx } from "../kernel/mutation";
import type { SystemTx } from "../events/system-change";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { artifactFor } from "../artifacts/record";
import type { ArtifactStore, StoredObject } from "../artifacts/store";
import type { Database } from "../db/data-source";
import type { JsonObject } from "../db/json";
import { escapeLike } from "../kernel/sql-text";
import { finiteMetrics } from "./metrics";
import { lockWritableProject } from "../projects";
import { ModelAliasHistoryRow, ModelAliasRow } from "./model-alias.entity";
import { type ModelVersionStatus, ModelVersionRow } from "./model-version.entity";
import { RegisteredModelRow } from "./registered-model.entity";
import { DEFAULT_OUTPUT_CHECK, type OutputCheckSettings, checkModelOutputs } from "./output-check";
import { type ModelSignature, decodeModel, signatureOf, withClassLabels } from "./signature";
import { valueDependentSizes } from "./value-dependent-sizes";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ALIAS = /^[a-z][a-z0-9_-]{0,62}$/;
const TAG_KEY = /^[A-Za-z0-9_.:/-]{1,128}$/;

export const RegistryEvents = {
  modelCreated: "model.created",
  versionCreated: "model.version.created",
  versionArchived: "model.version.archived",
  aliasMoved: "model.alias.moved",
  aliasDeleted: "model.alias.deleted",
  modelRenamed: "model.renamed",
  modelDeleted: "model.deleted",
} as const;

/** A model file checked and stored, waiting to become a version. */
export interface PreparedModel {
  stored: StoredObject;
  signature: ModelSignature;
  /** When the file is already an artifact (a run's output). */
  artifactId?: string;
  lineage: JsonObject;
  source: "UPLOAD" | "RUN";
  /** Metrics the producing stage reported with the file (a `train` stage's validation metrics). */
  reportedMetrics?: Record<string, number>;
}

function checkTags(tags: Record<string, unknown> | null | undefined, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: InputProblem[] = [];
  for (const [k, v] of Object.entries(tags ?? {})) {
    if (!TAG_KEY.test(k)) problems.push({ field: `${field}.${k}`, message: "tag keys are 1-128 letters, digits and _ . : / -" });
    else if (typeof v !== "string" || v.length > 1000)
      problems.push({ field: `${field}.${k}`, message: "tag values are strings of at most 1000 characters" });
    else out[k] = v;
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return out;
}

function checkMetrics(metrics: Record<string, unknown> | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics ?? {})) {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new InvalidInputError([{ field: `metrics.${k}`, message: "must be a finite number" }]);
    out[k] = v;
  }
  return out;
}

/**
 * The model registry: registered models, their versions (ONNX files with signature, metrics and
 * lineage) and aliases that move atomically and keep their history. Decisions on a version's
 * status belong to governance; the registry only records them.
 */
/**
 * Links a new version to the evaluation reports of its file and answers the newest one's metrics
 * (null: none). The evaluation service implements it; it sits above the registry, so the app
 * passes it in.
 */
export interface VersionEvaluations {
  linkToVersion(manager: EntityManager, artifactId: string, versionId: string): Promise<Record<string, number> | null>;
}

/**
 * Judges a new version by its model's policy in the registering transaction and sets its status.
 * The governance service implements it (above the registry; the app passes it in).
 */
export interface VersionJudge {
  onVersionRegistered(
    tx: { manager: EntityManager; emit(event: EventDraft): void },
    version: ModelVersionRow,
    model: RegisteredModelRow,
  ): Promise<unknown>;
}

export class RegistryService {
  constructor(
    private readonly db: Database,
    private readonly store: ArtifactStore,
    /** Links a new version to the evaluation reports of its file. */
    private readonly evaluation?: VersionEvaluations,
    /** Judges each new version by its model's policy (and sets its status). */
    private readonly governance?: VersionJudge,
    /** Bounds of the output check every new version's file passes (output-check.ts). */
    private readonly outputCheck: OutputCheckSettings = DEFAULT_OUTPUT_CHECK,
  ) {}

  /**
   * Reads the signature of `bytes` and checks the model: no operator may take its output size
   * from a request's values (value-dependent-sizes.ts), onnxruntime must load it in a capped
   * child process, and its outputs per row (measured on synthetic rows) must stay under the limit.
   * The measured figure goes into the signature (`outputBytesPerRow`), which serving reads.
   */
  private async checkedSignature(bytes: Uint8Array, field: string): Promise<ModelSignature> {
    const model = decodeModel(bytes);
    const signature = signatureOf(model);
    const unbounded = valueDependentSizes(model);
    if (unbounded.length > 0) {
      const u = unbounded[0]!;
      throw new InvalidInputError([
        {
          field,
          message: `is refused: its output size depends on the values of a request (node "${u.node}", ${u.op}, takes its size from "${u.input}"), so one request could make it allocate without bound`,
        },
      ]);
    }
    const check = await checkModelOutputs(bytes, signature, this.outputCheck);
    if (!check.ok) {
      const message = check.kind === "load" ? check.reason : `is refused: ${check.reason}`;
      throw new InvalidInputError([{ field, message }]);
    }
    return check.outputBytesPerRow === undefined ? signature : { ...signature, outputBytesPerRow: check.outputBytesPerRow };
  }

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  async createModel(
    tx: MutationTx,
    input: { projectId: string; name: string; description?: string | null; tags?: Record<string, unknown> | null },
  ): Promise<RegisteredModelRow> {
    if (!NAME.test(input.name)) {
      throw new InvalidInputError([
        { field: "name", message: "must be 1-128 letters, digits, _ . and -, starting with a letter or digit" },
      ]);
    }
    const tags = checkTags(input.tags, "tags");
    await lockWritableProject(tx.manager, input.projectId);
    if (await tx.manager.existsBy(RegisteredModelRow, { projectId: input.projectId, name: input.name })) {
      throw new ConflictError(`The project already has a registered model named ${input.name}`, { field: "name" });
    }
    const row = await tx.manager.save(
      tx.manager.create(RegisteredModelRow, {
        projectId: input.projectId,
        name: input.name,
        description: (input.description ?? "").trim(),
        tags,
        createdBy: tx.caller.principalId,
      }),
    );
    tx.emit({
      type: RegistryEvents.modelCreated,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { registeredModelId: row.id, name: row.name },
    });
    return row;
  }

  async updateModel(
    tx: MutationTx,
    id: string,
    input: { description?: string | null; tags?: Record<string, unknown> | null },
  ): Promise<RegisteredModelRow> {
    const row = await this.lockModel(tx.manager, id);
    if (input.description !== undefined && input.description !== null) row.description = input.description.trim();
    if (input.tags) row.tags = checkTags(input.tags, "tags");
    return tx.manager.save(row);
  }

  /**
   * Checks that `bytes` are an ONNX model onnxruntime can load and whose outputs per row stay
   * bounded (a file that cannot serve is refused here, not at deployment), reads its signature
   * and stores it. No transaction.
   */
  async prepareUpload(file: string, bytes: Uint8Array): Promise<PreparedModel> {
    const signature = await this.checkedSignature(bytes, "model");
    const stored = await this.store.put(file, { move: true });
    return { stored, signature, lineage: {}, source: "UPLOAD" };
  }

  /**
   * A run's `Model` output as a version to be: its file checked as for an upload, and its
   * lineage gathered — the run, the stage, the pipeline version, the stage's code version, and
   * the dataset versions and feature views of everything the run read or wrote.
   */
  async prepareFromArtifact(projectId: string, artifactId: string): Promise<PreparedModel> {
    const manager = this.db.dataSource.manager;
    const artifact = await manager.findOneBy(ArtifactRow, { id: artifactId });
    if (!artifact || artifact.projectId !== projectId) throw new NotFoundError("Artifact", artifactId);
    if (artifact.kind !== "Model") throw new InvalidInputError([{ field: "artifactId", message: `is a ${artifact.kind}, not a Model` }]);
    const file = await this.store.localPath(artifact.uri);
    const bytes = await import("node:fs/promises").then((fs) => fs.readFile(file));
    let signature = await this.checkedSignature(bytes, "artifactId");
    // Files trained before the class names went into the graph carry them in the artifact's metadata only.
    const classes = (artifact.metadata as { classes?: unknown }).classes;
    if (signature.classLabels === undefined && classes !== undefined) signature = withClassLabels(signature, classes, "artifactId");
    return {
      stored: { uri: artifact.uri, hash: artifact.hash, size: Number(artifact.size), isDirectory: artifact.isDirectory },
      signature,
      artifactId,
      lineage: await this.lineageOf(manager, artifact),
      source: artifact.producedBy ? "RUN" : "UPLOAD",
      reportedMetrics: await this.reportedMetricsOf(manager, artifact),
    };
  }

  /**
   * The metrics that came with a Model output: its metadata's `metrics` (what the built-in `train`
   * stage writes), else the last value of each metric its stage run reported — an external
   * trainer's `::metric key=value` lines (process runner), so any language registers the same way.
   */
  private async reportedMetricsOf(manager: EntityManager, artifact: ArtifactRow): Promise<Record<string, number>> {
    const own = finiteMetrics((artifact.metadata as { metrics?: unknown }).metrics);
    if (Object.keys(own).length > 0 || !artifact.producedBy) return own;
    const rows: Array<{ key: string; value: number }> = await manager.query(
      `SELECT DISTINCT ON (key) key, value FROM run_metrics WHERE stage_run_id = $1 ORDER BY key, step DESC, id DESC`,
      [artifact.producedBy],
    );
    return finiteMetrics(Object.fromEntries(rows.map((r) => [r.key, Number(r.value)])));
  }

  private async lineageOf(manager: EntityManager, artifact: ArtifactRow): Promise<JsonObject> {
    if (!artifact.producedBy) return {};
    const [sr] = await manager.query(
      `SELECT sr.id, sr.run_id, sr.stage_name, r.pipeline_version_id, pv.spec
         FROM stage_runs sr JOIN runs r ON r.id = sr.run_id JOIN pipeline_versions pv ON pv.id = r.pipeline_version_id
        WHERE sr.id = $1`,
      [artifact.producedBy],
    );
    if (!sr) return {};
    // Everything the run touched: what its stages read and what they wrote.
    const touched = `SELECT sri.artifact_id FROM stage_run_inputs sri JOIN stage_runs s ON s.id = sri.stage_run_id WHERE s.run_id = $1
                     UNION SELECT id FROM artifacts WHERE run_id = $1`;
    const datasets: Array<{ id: string }> = await manager.query(
      `SELECT DISTINCT v.id FROM dataset_versions v WHERE v.artifact_id IN (${touched}) ORDER BY v.id`,
      [sr.run_id],
    );
    const views: Array<{ id: string }> = await manager.query(
      `SELECT DISTINCT m.feature_view_id AS id FROM feature_materializations m WHERE m.artifact_id IN (${touched})
       UNION SELECT DISTINCT (v->>'featureViewId')::uuid FROM training_sets t, jsonb_array_elements(t.views) v WHERE t.artifact_id IN (${touched})
       ORDER BY 1`,
      [sr.run_id],
    );
    const stage = (sr.spec?.stages ?? []).find((s: { name: string }) => s.name === sr.stage_name);
    return {
      runId: sr.run_id,
      stageRunId: sr.id,
      stage: sr.stage_name,
      pipelineVersionId: sr.pipeline_version_id,
      codeVersion: stage?.run?.codeVersion ?? stage?.run?.operator ?? null,
      datasetVersionIds: datasets.map((d) => d.id),
      featureViewIds: views.map((v) => v.id),
    };
  }

  /** Records the next version of a model, PENDING_APPROVAL until governance decides. */
  async createVersion(
    tx: Pick<MutationTx, "manager" | "emit"> & { caller?: { principalId: string | null } },
    modelId: string,
    prepared: PreparedModel,
    input: {
      metrics?: Record<string, unknown> | null;
      tags?: Record<string, unknown> | null;
      description?: string | null;
      createdBy?: string | null;
    },
  ): Promise<ModelVersionRow> {
    const model = await this.lockModel(tx.manager, modelId);
    // Given metrics win; else the producing stage's own (a `train` stage's validation metrics).
    const metrics = checkMetrics(input.metrics && Object.keys(input.metrics).length > 0 ? input.metrics : prepared.reportedMetrics);
    const tags = checkTags(input.tags, "tags");
    const [{ next }] = await tx.manager.query(
      `SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE registered_model_id = $1`,
      [modelId],
    );
    const artifact = await artifactFor(tx.manager, prepared.artifactId, {
      projectId: model.projectId,
      kind: "Model",
      stored: prepared.stored,
      metadata: { registeredModel: model.name, version: Number(next), format: "onnx" },
    });
    const row = await tx.manager.save(
      tx.manager.create(ModelVersionRow, {
        registeredModelId: modelId,
        projectId: model.projectId,
        version: Number(next),
        status: "PENDING_APPROVAL",
        artifactId: artifact.id,
        signature: prepared.signature as unknown as JsonObject,
        metrics,
        tags,
        description: (input.description ?? "").trim(),
        source: prepared.source,
        lineage: prepared.lineage,
        createdBy: input.createdBy !== undefined ? input.createdBy : (tx.caller?.principalId ?? null),
      }),
    );
    // Reports of this file written before it was registered now belong to the version; the
    // latest evaluation's metrics stand in for metrics neither the caller nor the stage gave.
    const evaluated = this.evaluation ? await this.evaluation.linkToVersion(tx.manager, artifact.id, row.id) : null;
    if (evaluated && Object.keys(metrics).length === 0 && Object.keys(evaluated).length > 0) {
      row.metrics = evaluated;
      await tx.manager.update(ModelVersionRow, { id: row.id }, { metrics: evaluated });
    }
    tx.emit({
      type: RegistryEvents.versionCreated,
      projectId: model.projectId,
      subjectId: model.id,
      payload: {
        registeredModelId: model.id,
        name: model.name,
        versionId: row.id,
        version: row.version,
        source: row.source,
        metrics: row.metrics,
      },
    });
    // Judged in the same transaction: a version is never visible without its governance outcome.
    if (this.governance) await this.governance.onVersionRegistered(tx, row, model);
    return row;
  }

  /**
   * Points `alias` at a version, atomically (the model row is locked, so two moves serialize)
   * and with history. An ARCHIVED or REJECTED version cannot take an alias. A system change
   * (a gate promoting what was approved) has no caller: the history names no actor.
   */
  async setAlias(
    tx: SystemTx & { caller?: MutationTx["caller"] },
    modelId: string,
    alias: string,
    version: number,
  ): Promise<ModelAliasRow> {
    if (!ALIAS.test(alias))
      throw new InvalidInputError([{ field: "alias", message: "must be 1-63 lowercase letters, digits, _ and -, starting with a letter" }]);
    const model = await this.lockModel(tx.manager, modelId);
    const target = await tx.manager.findOneBy(ModelVersionRow, { registeredModelId: modelId, version });
    if (!target) throw new NotFoundError("ModelVersion", `${model.name} v${version}`);
    if (target.status === "ARCHIVED" || target.status === "REJECTED") {
      throw new ConflictError(`Version ${version} of ${model.name} is ${target.status}; an alias cannot point at it`, { field: "version" });
    }
    const current = await tx.manager.findOneBy(ModelAliasRow, { registeredModelId: modelId, alias });
    if (current?.versionId === target.id) return current;
    const row = await tx.manager.save(tx.manager.create(ModelAliasRow, { registeredModelId: modelId, alias, versionId: target.id }));
    await tx.manager.save(
      tx.manager.create(ModelAliasHistoryRow, {
        registeredModelId: modelId,
        alias,
        fromVersionId: current?.versionId ?? null,
        toVersionId: target.id,
        actorId: tx.caller?.principalId ?? null,
      }),
    );
    const from = current ? await tx.manager.findOneBy(ModelVersionRow, { id: current.versionId }) : null;
    tx.emit({
      type: RegistryEvents.aliasMoved,
      projectId: model.projectId,
      subjectId: model.id,
      payload: {
        registeredModelId: model.id,
        name: model.name,
        alias,
        fromVersion: from?.version ?? null,
        toVersion: version,
        versionId: target.id,
      },
    });
    return row;
  }

  async deleteAlias(tx: MutationTx, modelId: string, alias: string): Promise<void> {
    const model = await this.lockModel(tx.manager, modelId);
    const current = await tx.manager.findOneBy(ModelAliasRow, { registeredModelId: modelId, alias });
    if (!current) throw new NotFoundError("ModelAlias", `${model.name}@${alias}`);
    await tx.manager.delete(ModelAliasRow, { registeredModelId: modelId, alias });
    await tx.manager.save(
      tx.manager.create(ModelAliasHistoryRow, {
        registeredModelId: modelId,
        alias,
        fromVersionId: current.versionId,
        toVersionId: null,
        actorId: tx.caller?.principalId ?? null,
      }),
    );
    tx.emit({
      type: RegistryEvents.aliasDeleted,
      projectId: model.projectId,
      subjectId: model.id,
      payload: { registeredModelId: model.id, name: model.name, alias },
    });
  }

  /** Archives a version no alias points at; archiving is final. */
  async archiveVersion(tx: MutationTx, versionId: string): Promise<ModelVersionRow> {
    const v = await tx.manager.findOneBy(ModelVersionRow, { id: versionId });
    if (!v) throw new NotFoundError("ModelVersion", versionId);
    const model = await this.lockModel(tx.manager, v.registeredModelId);
    const aliased = await tx.manager.findBy(ModelAliasRow, { versionId });
    if (aliased.length > 0) {
      throw new ConflictError(`Version ${v.version} of ${model.name} is ${aliased.map((a) => a.alias).join(", ")}; move the alias first`, {
        aliases: aliased.map((a) => a.alias),
      });
    }
    if (v.status === "ARCHIVED") return v;
    v.status = "ARCHIVED";
    await tx.manager.save(v);
    tx.emit({
      type: RegistryEvents.versionArchived,
      projectId: model.projectId,
      subjectId: model.id,
      payload: { registeredModelId: model.id, versionId: v.id, version: v.version },
    });
    return v;
  }

  async updateVersion(
    tx: MutationTx,
    versionId: string,
    input: { description?: string | null; tags?: Record<string, unknown> | null },
  ): Promise<ModelVersionRow> {
    const v = await tx.manager.findOneBy(ModelVersionRow, { id: versionId });
    if (!v) throw new NotFoundError("ModelVersion", versionId);
    await this.lockModel(tx.manager, v.registeredModelId);
    if (input.description !== undefined && input.description !== null) v.description = input.description.trim();
    if (input.tags) v.tags = checkTags(input.tags, "tags");
    return tx.manager.save(v);
  }

  private async lockModel(manager: EntityManager, id: string): Promise<RegisteredModelRow> {
    const row = await manager.findOne(RegisteredModelRow, { where: { id }, lock: { mode: "pessimistic_write" } });
    if (!row) throw new NotFoundError("RegisteredModel", id);
    await lockWritableProject(manager, row.projectId);
    return row;
  }

  async model(id: string): Promise<RegisteredModelRow | null> {
    return this.repo(RegisteredModelRow).findOneBy({ id });
  }

  async modelByName(projectId: string, name: string): Promise<RegisteredModelRow | null> {
    return this.repo(RegisteredModelRow).findOneBy({ projectId, name });
  }

  async version(id: string): Promise<ModelVersionRow | null> {
    return this.repo(ModelVersionRow).findOneBy({ id });
  }

  async versionByNumber(modelId: string, version: number): Promise<ModelVersionRow | null> {
    return this.repo(ModelVersionRow).findOneBy({ registeredModelId: modelId, version });
  }

  /** The version an alias points at, or null. */
  async versionByAlias(modelId: string, alias: string): Promise<ModelVersionRow | null> {
    const a = await this.repo(ModelAliasRow).findOneBy({ registeredModelId: modelId, alias });
    return a ? this.version(a.versionId) : null;
  }

  async aliases(modelId: string): Promise<ModelAliasRow[]> {
    return this.repo(ModelAliasRow).find({ where: { registeredModelId: modelId }, order: { alias: "ASC" } });
  }

  async aliasHistory(modelId: string, alias?: string): Promise<ModelAliasHistoryRow[]> {
    return this.repo(ModelAliasHistoryRow).find({
      where: { registeredModelId: modelId, ...(alias ? { alias } : {}) },
      order: { seq: "ASC" },
    });
  }

  /** The local path of a version's ONNX file (read it, never write it). */
  async versionFile(v: ModelVersionRow): Promise<string> {
    const artifact = await this.repo(ArtifactRow).findOneByOrFail({ id: v.artifactId });
    return this.store.localPath(artifact.uri);
  }

  async listModels(
    filter: { projectIds: "all" | string[]; nameContains?: string },
    page: PageArgs,
    sort: SortSpec<RegisteredModelRow>,
  ): Promise<Page<RegisteredModelRow>> {
    const qb = this.repo(RegisteredModelRow).createQueryBuilder("m");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("m.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.nameContains) qb.andWhere("m.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    return paginate(qb, page, sort);
  }

  async listVersions(
    filter: { registeredModelId: string; status?: ModelVersionStatus },
    page: PageArgs,
    sort: SortSpec<ModelVersionRow>,
  ): Promise<Page<ModelVersionRow>> {
    const qb = this.repo(ModelVersionRow).createQueryBuilder("v").where("v.registeredModelId = :id", { id: filter.registeredModelId });
    if (filter.status) qb.andWhere("v.status = :s", { s: filter.status });
    return paginate(qb, page, sort);
  }
  /** Renames a registered model; the new name must be free in its project. */
  async renameModel(tx: MutationTx, id: string, newName: string): Promise<RegisteredModelRow> {
    if (!NAME.test(newName)) {
      throw new InvalidInputError([
        { field: "newName", message: "must be 1-128 letters, digits, _ . and -, starting with a letter or digit" },
      ]);
    }
    const row = await this.lockModel(tx.manager, id);
    if (row.name === newName) return row;
    if (await tx.manager.existsBy(RegisteredModelRow, { projectId: row.projectId, name: newName })) {
      throw new ConflictError(`The project already has a registered model named ${newName}`, { field: "newName" });
    }
    const from = row.name;
    row.name = newName;
    await tx.manager.save(row);
    tx.emit({
      type: RegistryEvents.modelRenamed,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { registeredModelId: row.id, from, name: newName },
    });
    return row;
  }

  /**
   * Deletes a registered model with its versions, aliases and alias history (the ONNX files stay
   * in the artifact store, as artifacts). Evaluation reports of its versions keep their metrics.
   */
  async deleteModel(tx: MutationTx, id: string): Promise<RegisteredModelRow> {
    const row = await this.lockModel(tx.manager, id);
    await tx.manager.delete(RegisteredModelRow, { id });
    tx.emit({
      type: RegistryEvents.modelDeleted,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { registeredModelId: row.id, name: row.name },
    });
    return row;
  }
}
