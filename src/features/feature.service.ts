import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { EntityManager, Repository } from "typeorm";
import { InvalidInputError, NotFoundError, type InputProblem } from "../kernel/errors";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { artifactFor } from "../artifacts/record";
import type { ArtifactStore, StoredObject } from "../artifacts/store";
import { sqlIdent, sqlString, withDuckDb } from "../datasets/columnar";
import { DatasetVersionRow, DatasetRow, type WriteTx } from "../datasets";
import type { Database } from "../db/data-source";
import { escapeLike } from "../kernel/sql-text";
import { canonicalHash } from "../pipelines";
import { lockWritableProject } from "../projects";
import { checkAgainstSource, checkViewSql, validateFeatureView, type ColumnType, type FeatureView } from "./definition";
import { FeatureMaterializationRow } from "./feature-materialization.entity";
import { FeatureViewRow } from "./feature-view.entity";
import { materializeOffline } from "./offline";
import { ENTITY_KEY_COLUMN, encodeEntityKey, latestPerEntity } from "./online";
import { buildTrainingSet } from "./training-set";
import { TrainingSetRow, type TrainingSetViewRef } from "./training-set.entity";

/** Events of this capability, for triggers (e.g. retrain when a view is materialized). */
export const FeatureEvents = {
  viewDefined: "feature.view.defined",
  materialized: "feature.materialized",
  trainingSetBuilt: "feature.training_set.built",
} as const;

/** Rows per online upsert statement: large enough to amortize the round trip, small enough for PGlite's single session. */
export const ONLINE_BATCH = 1000;
/** Keys one `onlineFeatures` call may ask for; serving callers batch above this. */
export const MAX_ONLINE_KEYS = 1000;

export interface DefineResult {
  view: FeatureViewRow;
  /** False when the same definition already existed under this name (that version is returned). */
  created: boolean;
}

/** A materialization computed outside any transaction, waiting to be recorded. */
export interface PreparedMaterialization {
  view: FeatureViewRow;
  sourceVersion: DatasetVersionRow;
  stored: StoredObject;
  rowCount: number;
  schema: ColumnType[];
  /** The latest row per entity (Parquet, with `entity_key`), when the online store is to be loaded. */
  latestFile: string | null;
  /** Removes the scratch folder; call once recorded (or failed). */
  dispose(): Promise<void>;
}

export interface TrainingSetViewInput {
  name: string;
  version?: number | null;
  features?: string[] | null;
}

export interface TrainingSetInput {
  projectId: string;
  entityVersionId: string;
  timestampColumn?: string | null;
  views: TrainingSetViewInput[];
  prefix?: boolean | null;
  name?: string | null;
}

/** A training set written to the store, waiting to be recorded. */
export interface PreparedTrainingSet {
  projectId: string;
  name: string | null;
  entityVersion: DatasetVersionRow;
  timestampColumn: string;
  views: TrainingSetViewRef[];
  stored: StoredObject;
  rowCount: number;
  columns: ColumnType[];
}

export interface OnlineVector {
  entityKey: string[];
  found: boolean;
  /** The stored row is older than the view's TTL: reported, but its values are withheld. */
  expired: boolean;
  eventTimestamp: Date | null;
  values: Record<string, unknown> | null;
}

/** The stored definition of a view version. */
export function definitionOf(row: FeatureViewRow): FeatureView {
  return row.definition as unknown as FeatureView;
}

/** Problems of validateFeatureView/checkAgainstSource, re-rooted at the mutation's `definition` field. */
function underDefinition(problems: InputProblem[]): InputProblem[] {
  return problems.map((p) => ({ field: p.field === "view" ? "definition" : `definition.${p.field}`, message: p.message }));
}

async function scratchDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Feature views, materializations, the online store and training sets. As with datasets, all
 * DuckDB work over data (materializing, latest-per-entity, as-of joins) happens in `prepare*`
 * methods, outside any transaction; `record*` methods then only write rows, so a slow job never
 * holds database locks. The one exception is the online load, which streams the (one row per
 * entity) latest file into PostgreSQL inside the recording transaction, so the online store
 * never shows a materialization that was not recorded.
 */
export class FeatureService {
  constructor(
    private readonly db: Database,
    private readonly store: ArtifactStore,
  ) {}

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  /**
   * Defines (or finds) a view version. The definition is validated and normalized; the source
   * dataset must exist in the project, and when it has a version the view's SQL is bound against
   * that version's columns, so a typo is refused here rather than at the first materialization.
   * The same normalized definition returns the existing version unchanged (its description too).
   *
   * @throws InvalidInputError with fields under `definition.`, nothing stored
   */
  async defineView(tx: WriteTx, projectId: string, input: unknown, description?: string | null): Promise<DefineResult> {
    let view: FeatureView;
    try {
      view = validateFeatureView(input);
    } catch (err) {
      if (err instanceof InvalidInputError) throw new InvalidInputError(underDefinition(err.problems));
      throw err;
    }
    const problems: InputProblem[] = [];
    // Checked here because latestPerEntitySql refuses it only at the first online load.
    [...view.entities, view.timestampColumn, ...view.features.map((f) => f.name)].forEach((n) => {
      if (n.toLowerCase() === ENTITY_KEY_COLUMN)
        problems.push({
          field: "definition",
          message: `a column or feature named ${ENTITY_KEY_COLUMN} clashes with the online key column`,
        });
    });
    const text = (description ?? "").trim();
    if (text.length > 2000) problems.push({ field: "description", message: "must be at most 2000 characters" });
    if (problems.length > 0) throw new InvalidInputError(problems);

    await lockWritableProject(tx.manager, projectId);
    const dataset = await tx.manager.findOneBy(DatasetRow, { projectId, name: view.source.dataset });
    if (!dataset)
      throw new InvalidInputError([
        { field: "definition.source.dataset", message: `no dataset named ${view.source.dataset} in this project; create it first` },
      ]);
    if (dataset.latestVersionId) {
      const file = await this.versionFile(tx.manager, dataset.latestVersionId);
      const found = await checkAgainstSource(view, file);
      if (found.length > 0) throw new InvalidInputError(underDefinition(found));
    } else {
      // Nothing to bind against yet, but SQL that reads files or tables is refused now, not at the first run.
      const found = await checkViewSql(view);
      if (found.length > 0) throw new InvalidInputError(underDefinition(found));
    }

    const hash = canonicalHash(view);
    const same = await tx.manager.findOneBy(FeatureViewRow, { projectId, name: view.name, hash });
    if (same) return { view: same, created: false };
    const [{ next }] = await tx.manager.query(
      `SELECT COALESCE(MAX(version), 0) + 1 AS next FROM feature_views WHERE project_id = $1 AND name = $2`,
      [projectId, view.name],
    );
    const row = await tx.manager.save(
      tx.manager.create(FeatureViewRow, {
        projectId,
        name: view.name,
        version: Number(next),
        definition: view as unknown as Record<string, unknown>,
        hash,
        sourceDatasetId: dataset.id,
        description: text,
        createdBy: tx.caller?.principalId ?? null,
      }),
    );
    tx.emit({
      type: FeatureEvents.viewDefined,
      projectId,
      subjectId: row.id,
      payload: { featureViewId: row.id, name: row.name, version: row.version, hash },
    });
    return { view: row, created: true };
  }

  /** The local path of a dataset version's Parquet file. */
  private async versionFile(manager: EntityManager, versionId: string): Promise<string> {
    const version = await manager.findOneByOrFail(DatasetVersionRow, { id: versionId });
    const artifact = await manager.findOneByOrFail(ArtifactRow, { id: version.artifactId });
    return this.store.localPath(artifact.uri);
  }

  /**
   * The slow half of a materialization, with no transaction open: the view's offline feature
   * table over the source version (default: the source dataset's latest), stored as a
   * content-addressed Parquet object, and, when `online`, the latest row per entity in a scratch
   * file for {@link recordMaterialization} to load.
   *
   * @throws NotFoundError for an unknown view; InvalidInputError when the source version is not
   *   one of the view's source dataset, there is none, or the view's SQL no longer binds
   */
  async prepareMaterialization(
    viewId: string,
    sourceVersionId: string | null | undefined,
    online: boolean,
  ): Promise<PreparedMaterialization> {
    const view = await this.getView(viewId);
    if (!view) throw new NotFoundError("FeatureView", viewId);
    const dataset = await this.repo(DatasetRow).findOneByOrFail({ id: view.sourceDatasetId });
    let sourceVersion: DatasetVersionRow | null;
    if (sourceVersionId) {
      sourceVersion = await this.repo(DatasetVersionRow).findOneBy({ id: sourceVersionId });
      if (!sourceVersion || sourceVersion.datasetId !== dataset.id)
        throw new InvalidInputError([
          { field: "sourceVersionId", message: `is not a version of ${dataset.name}, the source dataset of view ${view.name}` },
        ]);
    } else {
      sourceVersion = dataset.latestVersionId ? await this.repo(DatasetVersionRow).findOneBy({ id: dataset.latestVersionId }) : null;
      if (!sourceVersion)
        throw new InvalidInputError([
          { field: "sourceVersionId", message: `the source dataset ${dataset.name} has no versions yet; ingest it first` },
        ]);
    }
    const sourceFile = await this.versionFile(this.db.dataSource.manager, sourceVersion.id);
    const scratch = await scratchDir("sluice-features-");
    const dispose = () => fs.rm(scratch, { recursive: true, force: true });
    try {
      const definition = definitionOf(view);
      const offline = path.join(scratch, "offline.parquet");
      const result = await materializeOffline(definition, sourceFile, offline);
      let latestFile: string | null = null;
      if (online) {
        // Computed before the offline file is moved into the store, which makes it read-only elsewhere.
        latestFile = path.join(scratch, "latest.parquet");
        await latestPerEntity(definition, offline, latestFile);
      }
      const stored = await this.store.put(offline, { move: true });
      return { view, sourceVersion, stored, rowCount: result.rowCount, schema: result.schema, latestFile, dispose };
    } catch (err) {
      await dispose();
      throw err;
    }
  }

  /** Records a prepared materialization: its artifact, its row and, when prepared so, the online load. */
  async recordMaterialization(
    tx: WriteTx,
    prepared: Omit<PreparedMaterialization, "dispose">,
    from: { producedBy?: string | null; createdBy?: string | null; artifactId?: string } = {},
  ): Promise<FeatureMaterializationRow> {
    const { view, sourceVersion } = prepared;
    await lockWritableProject(tx.manager, view.projectId);
    const artifact = await artifactFor(tx.manager, from.artifactId, {
      projectId: view.projectId,
      kind: "FeatureSet",
      stored: prepared.stored,
      metadata: {
        featureView: view.name,
        featureViewVersion: view.version,
        featureViewHash: view.hash,
        sourceVersionId: sourceVersion.id,
        rowCount: prepared.rowCount,
        format: "parquet",
        columns: prepared.schema,
      },
      producedBy: from.producedBy ?? null,
    });
    const row = await tx.manager.save(
      tx.manager.create(FeatureMaterializationRow, {
        projectId: view.projectId,
        featureViewId: view.id,
        sourceVersionId: sourceVersion.id,
        artifactId: artifact.id,
        rowCount: String(prepared.rowCount),
        onlineRows: 0,
        producedBy: from.producedBy ?? null,
        createdBy: from.createdBy !== undefined ? from.createdBy : (tx.caller?.principalId ?? null),
      }),
    );
    if (prepared.latestFile) {
      row.onlineRows = await this.loadOnline(tx.manager, view, row.id, prepared.latestFile);
      await tx.manager.update(FeatureMaterializationRow, { id: row.id }, { onlineRows: row.onlineRows });
    }
    tx.emit({
      type: FeatureEvents.materialized,
      projectId: view.projectId,
      subjectId: view.id,
      payload: {
        featureViewId: view.id,
        name: view.name,
        version: view.version,
        materializationId: row.id,
        sourceVersionId: sourceVersion.id,
        artifactId: artifact.id,
        rowCount: prepared.rowCount,
        onlineRows: row.onlineRows,
      },
    });
    return row;
  }

  /**
   * Upserts the latest-per-entity file into the online store, ONLINE_BATCH rows per statement,
   * reading DuckDB's result chunk by chunk so memory stays flat however many entities there are.
   * A stored row is replaced when the new one is at least as recent, or comes from another
   * version of the view (a redefinition replaces values even when its data is older). Rows of
   * other versions that this load did not replace are then removed: they were computed by a
   * definition the store no longer serves. Returns the rows written.
   */
  private async loadOnline(manager: EntityManager, view: FeatureViewRow, materializationId: string, latestFile: string): Promise<number> {
    const definition = definitionOf(view);
    const values = `to_json({${definition.features.map((f) => `${sqlString(f.name)}: ${sqlIdent(f.name)}`).join(", ")}})::VARCHAR`;
    const sql = `SELECT ${ENTITY_KEY_COLUMN}, epoch_us(${sqlIdent(definition.timestampColumn)})::VARCHAR, ${values}
FROM read_parquet(${sqlString(latestFile)})`;
    let written = 0;
    const flush = async (keys: string[], micros: string[], json: string[]) => {
      if (keys.length === 0) return;
      const rows: unknown[] = await manager.query(
        `INSERT INTO feature_online_values AS o (project_id, view_name, entity_key, feature_view_id, materialization_id, event_timestamp, "values")
         SELECT $1, $2, r.k, $3, $4, timestamptz 'epoch' + r.us * interval '1 microsecond', r.v::jsonb
         FROM unnest($5::text[], $6::bigint[], $7::text[]) AS r(k, us, v)
         ON CONFLICT (project_id, view_name, entity_key) DO UPDATE SET
           feature_view_id = EXCLUDED.feature_view_id, materialization_id = EXCLUDED.materialization_id,
           event_timestamp = EXCLUDED.event_timestamp, "values" = EXCLUDED."values"
         WHERE EXCLUDED.event_timestamp >= o.event_timestamp OR EXCLUDED.feature_view_id <> o.feature_view_id
         RETURNING 1`,
        [view.projectId, view.name, view.id, materializationId, keys, micros, json],
      );
      written += rows.length;
    };
    await withDuckDb(async (conn) => {
      const result = await conn.stream(sql);
      let keys: string[] = [];
      let micros: string[] = [];
      let json: string[] = [];
      for await (const chunk of result.yieldRowsJson()) {
        for (const [k, us, v] of chunk) {
          keys.push(String(k));
          micros.push(String(us));
          json.push(String(v));
          if (keys.length >= ONLINE_BATCH) {
            await flush(keys, micros, json);
            keys = [];
            micros = [];
            json = [];
          }
        }
      }
      await flush(keys, micros, json);
    });
    await manager.query(`DELETE FROM feature_online_values WHERE project_id = $1 AND view_name = $2 AND feature_view_id <> $3`, [
      view.projectId,
      view.name,
      view.id,
    ]);
    return written;
  }

  /**
   * Serving: the online values of `viewName` for each key, in the order of `keys`, with one SQL
   * query for all of them. Each key lists the view's entity values in order (strings; numbers and
   * booleans spelled as encodeEntityKey spells them). A row older than the TTL of the version that
   * wrote it (against the database clock, at read time) is reported `found: false, expired: true`
   * with no values, since the store keeps rows until they are replaced.
   *
   * @throws NotFoundError when the project has no view of that name; InvalidInputError for a key
   *   of the wrong length or too many keys
   */
  async onlineFeatures(projectId: string, viewName: string, keys: unknown[][]): Promise<OnlineVector[]> {
    const view = await this.getViewByName(projectId, viewName);
    if (!view) throw new NotFoundError("FeatureView", viewName);
    const entities = definitionOf(view).entities;
    const problems: InputProblem[] = [];
    if (keys.length > MAX_ONLINE_KEYS)
      problems.push({ field: "entityKeys", message: `must list at most ${MAX_ONLINE_KEYS} keys per call` });
    const encoded = keys.map((key, i) => {
      if (key.length !== entities.length) {
        problems.push({ field: `entityKeys[${i}]`, message: `must have ${entities.length} value(s): ${entities.join(", ")}` });
        return "";
      }
      try {
        return encodeEntityKey(key);
      } catch (err) {
        problems.push({ field: `entityKeys[${i}]`, message: (err as Error).message });
        return "";
      }
    });
    if (problems.length > 0) throw new InvalidInputError(problems);
    if (keys.length === 0) return [];
    return this.onlineByEncodedKeys(projectId, viewName, encoded);
  }

  /**
   * The online values of `viewName` for keys already spelled by `encodeEntityKey`, in their order,
   * with one SQL query for all of them (TTL applied as in `onlineFeatures`). No checks and no view
   * lookup: for serving, which knows the view and has checked the keys; callers keep to
   * MAX_ONLINE_KEYS per call.
   *
   * `asOf` reads the store as of another instant than now (a replay of past data, a backtest): a
   * row is then fresh when it lies in the TTL window ending at `asOf` — not older than the TTL,
   * and not after `asOf` (a value from after that instant was not known then) — and is reported
   * `expired` otherwise.
   */
  async onlineByEncodedKeys(projectId: string, viewName: string, encoded: string[], asOf?: Date): Promise<OnlineVector[]> {
    if (encoded.length === 0) return [];
    const rows: Array<{ entity_key: string; event_timestamp: Date; values: Record<string, unknown>; fresh: boolean }> =
      await this.db.dataSource.query(
        `SELECT o.entity_key, o.event_timestamp, o."values",
                ($4::timestamptz IS NULL OR o.event_timestamp <= $4::timestamptz)
                AND ((v.definition->>'ttlSeconds') IS NULL
                  OR o.event_timestamp >= COALESCE($4::timestamptz, now()) - (v.definition->>'ttlSeconds')::bigint * interval '1 second') AS fresh
         FROM feature_online_values o JOIN feature_views v ON v.id = o.feature_view_id
         WHERE o.project_id = $1 AND o.view_name = $2 AND o.entity_key = ANY($3::text[])`,
        [projectId, viewName, [...new Set(encoded)], asOf ?? null],
      );
    const byKey = new Map(rows.map((r) => [r.entity_key, r]));
    return encoded.map((key) => {
      const row = byKey.get(key);
      const entityKey = JSON.parse(key) as string[];
      if (!row) return { entityKey, found: false, expired: false, eventTimestamp: null, values: null };
      if (!row.fresh) return { entityKey, found: false, expired: true, eventTimestamp: new Date(row.event_timestamp), values: null };
      return { entityKey, found: true, expired: false, eventTimestamp: new Date(row.event_timestamp), values: row.values };
    });
  }

  /**
   * The slow half of a training set, with no transaction open. Each view is taken at the given
   * version (default: the latest) and read from that version's most recent materialization; a
   * view version never materialized is refused rather than materialized here, so that building a
   * training set never silently recomputes (and re-versions) features: materialize explicitly.
   *
   * @throws NotFoundError for an entity version outside the project; InvalidInputError naming
   *   each unknown view, unmaterialized view, missing column, unknown feature or clashing name
   */
  async prepareTrainingSet(input: TrainingSetInput): Promise<PreparedTrainingSet> {
    const problems: InputProblem[] = [];
    const name = input.name?.trim() || null;
    if (name !== null && name.length > 200) problems.push({ field: "name", message: "must be at most 200 characters" });
    const timestampColumn = input.timestampColumn?.trim() || "event_timestamp";
    const entityVersion = await this.repo(DatasetVersionRow).findOneBy({ id: input.entityVersionId });
    const entityDataset = entityVersion ? await this.repo(DatasetRow).findOneBy({ id: entityVersion.datasetId }) : null;
    if (!entityVersion || entityDataset?.projectId !== input.projectId) throw new NotFoundError("DatasetVersion", input.entityVersionId);
    if (input.views.length === 0) problems.push({ field: "views", message: "must list at least one view" });

    const picked: Array<{ view: FeatureViewRow; materialization: FeatureMaterializationRow; features?: string[] }> = [];
    for (const [i, spec] of input.views.entries()) {
      const view = await this.getViewByName(input.projectId, spec.name, spec.version ?? undefined);
      if (!view) {
        problems.push(
          spec.version
            ? { field: `views[${i}].version`, message: `view ${spec.name} has no version ${spec.version}` }
            : { field: `views[${i}].name`, message: `no feature view named ${spec.name} in this project` },
        );
        continue;
      }
      const materialization = await this.latestMaterialization(view.id);
      if (!materialization) {
        problems.push({
          field: `views[${i}].name`,
          message: `view ${view.name} version ${view.version} has not been materialized; run materializeFeatureView first`,
        });
        continue;
      }
      picked.push({ view, materialization, features: spec.features ?? undefined });
    }
    if (problems.length > 0) throw new InvalidInputError(problems);

    const manager = this.db.dataSource.manager;
    const entityFile = await this.versionFile(manager, entityVersion.id);
    const offlineFiles = await Promise.all(
      picked.map(async (p) => this.store.localPath((await manager.findOneByOrFail(ArtifactRow, { id: p.materialization.artifactId })).uri)),
    );
    const scratch = await scratchDir("sluice-training-");
    try {
      const outFile = path.join(scratch, "training-set.parquet");
      let result;
      try {
        result = await buildTrainingSet({
          entityFile,
          timestampColumn,
          views: picked.map((p, i) => ({
            view: definitionOf(p.view),
            offlineFile: offlineFiles[i]!,
            features: p.features,
            prefix: !!input.prefix,
          })),
          outFile,
        });
      } catch (err) {
        if (err instanceof InvalidInputError) throw new InvalidInputError(err.problems.map(inputField));
        throw err;
      }
      const stored = await this.store.put(outFile, { move: true });
      return {
        projectId: input.projectId,
        name,
        entityVersion,
        timestampColumn,
        views: picked.map((p) => ({
          featureViewId: p.view.id,
          name: p.view.name,
          version: p.view.version,
          materializationId: p.materialization.id,
          features: p.features ?? definitionOf(p.view).features.map((f) => f.name),
        })),
        stored,
        rowCount: result.rowCount,
        columns: result.columns,
      };
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  async recordTrainingSet(
    tx: WriteTx,
    prepared: PreparedTrainingSet,
    from: { producedBy?: string | null; createdBy?: string | null; artifactId?: string } = {},
  ): Promise<TrainingSetRow> {
    await lockWritableProject(tx.manager, prepared.projectId);
    const artifact = await artifactFor(tx.manager, from.artifactId, {
      projectId: prepared.projectId,
      kind: "FeatureSet",
      stored: prepared.stored,
      metadata: {
        trainingSet: prepared.name,
        entityVersionId: prepared.entityVersion.id,
        views: prepared.views.map((v) => `${v.name}@${v.version}`),
        rowCount: prepared.rowCount,
        format: "parquet",
        columns: prepared.columns,
      },
      producedBy: from.producedBy ?? null,
    });
    const row = await tx.manager.save(
      tx.manager.create(TrainingSetRow, {
        projectId: prepared.projectId,
        name: prepared.name,
        artifactId: artifact.id,
        entityVersionId: prepared.entityVersion.id,
        timestampColumn: prepared.timestampColumn,
        views: prepared.views as unknown as Record<string, unknown>[],
        rowCount: String(prepared.rowCount),
        columns: prepared.columns as unknown as Record<string, unknown>[],
        producedBy: from.producedBy ?? null,
        createdBy: from.createdBy !== undefined ? from.createdBy : (tx.caller?.principalId ?? null),
      }),
    );
    tx.emit({
      type: FeatureEvents.trainingSetBuilt,
      projectId: prepared.projectId,
      subjectId: row.id,
      payload: { trainingSetId: row.id, name: row.name, artifactId: artifact.id, rowCount: prepared.rowCount },
    });
    return row;
  }

  /** A view version read in a transaction (the run engine's, when a stage's output names it). */
  async getViewIn(manager: EntityManager, id: string): Promise<FeatureViewRow> {
    return manager.findOneByOrFail(FeatureViewRow, { id });
  }

  async getView(id: string): Promise<FeatureViewRow | null> {
    return this.repo(FeatureViewRow).findOneBy({ id });
  }

  /** A view version by name: `version`, or the latest when absent. */
  async getViewByName(projectId: string, name: string, version?: number): Promise<FeatureViewRow | null> {
    if (version !== undefined) return this.repo(FeatureViewRow).findOneBy({ projectId, name, version });
    return this.repo(FeatureViewRow).findOne({ where: { projectId, name }, order: { version: "DESC" } });
  }

  /**
   * Views the caller may read: by default only the latest version of each name (what a catalog
   * shows); `allVersions` lists every version, e.g. with `name` for one view's history.
   */
  async listViews(
    filter: { projectIds: "all" | string[]; nameContains?: string; name?: string; allVersions?: boolean },
    page: PageArgs,
    sort: SortSpec<FeatureViewRow>,
  ): Promise<Page<FeatureViewRow>> {
    const qb = this.repo(FeatureViewRow).createQueryBuilder("v");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("v.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.name) qb.andWhere("v.name = :name", { name: filter.name });
    if (filter.nameContains) qb.andWhere("v.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    if (!filter.allVersions)
      qb.andWhere("v.version = (SELECT MAX(l.version) FROM feature_views l WHERE l.project_id = v.project_id AND l.name = v.name)");
    return paginate(qb, page, sort);
  }

  async materialization(id: string): Promise<FeatureMaterializationRow | null> {
    return this.repo(FeatureMaterializationRow).findOneBy({ id });
  }

  async latestMaterialization(viewId: string): Promise<FeatureMaterializationRow | null> {
    return this.repo(FeatureMaterializationRow).findOne({ where: { featureViewId: viewId }, order: { createdAt: "DESC", id: "DESC" } });
  }

  async materializations(
    viewId: string,
    page: PageArgs,
    sort: SortSpec<FeatureMaterializationRow>,
  ): Promise<Page<FeatureMaterializationRow>> {
    return paginate(
      this.repo(FeatureMaterializationRow).createQueryBuilder("m").where("m.featureViewId = :viewId", { viewId }),
      page,
      sort,
    );
  }

  async trainingSet(id: string): Promise<TrainingSetRow | null> {
    return this.repo(TrainingSetRow).findOneBy({ id });
  }

  async listTrainingSets(
    filter: { projectIds: "all" | string[]; nameContains?: string },
    page: PageArgs,
    sort: SortSpec<TrainingSetRow>,
  ): Promise<Page<TrainingSetRow>> {
    const qb = this.repo(TrainingSetRow).createQueryBuilder("t");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("t.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.nameContains) qb.andWhere("t.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    return paginate(qb, page, sort);
  }
}

/** A problem of the DuckDB core's request, named by the `buildTrainingSet` input field it comes from. */
function inputField(p: InputProblem): InputProblem {
  const field = p.field
    .replace(/^entityFile$/, "entityVersionId")
    .replace(/^views\[(\d+)\]\.view\.entities\[\d+\]$/, "entityVersionId")
    .replace(/^views\[(\d+)\]\.view\.features$/, "views[$1].features")
    .replace(/^views\[(\d+)\]\.offlineFile$/, "views[$1].name");
  return { field, message: field === "entityVersionId" && !p.field.startsWith("entity") ? `the entity dataset: ${p.message}` : p.message };
}
