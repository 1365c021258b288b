/**
 * What the server does when a data-plane operator's stage succeeds or its gate fails: the
 * bookkeeping half of each operator, run in the transaction that records the stage's outcome.
 * The operators (in their capability folders) compute in worker threads and describe their
 * outputs in metadata (`register: { type, … }`); these hooks turn that into records.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { EntityManager } from "typeorm";
import { InvalidInputError } from "../kernel/errors";
import type { ArtifactStore } from "../artifacts/store";
import { DatasetVersionRow, DatasetRow, type DatasetService, type ColumnSchema, type DatasetProfile, type SchemaPolicy } from "../datasets";
import { describeParquet, profileParquet } from "../datasets/columnar";
import type { EvaluationService } from "../evaluation/evaluation.service";
import type { EvaluationReport } from "../evaluation";
import { type FeatureView, FeatureMaterializationRow, type FeatureService, latestPerEntity, type ColumnType } from "../features";
import { type FailureHookContext, type HookTx, type OutputHookContext, StageHooks } from "../runs";
import { type ValidationReport, type Suite, ValidationEvents, type ValidationService } from "../validation";

/** The dataset version an input artifact is: the one recorded from it, else one with its content. */
async function versionOf(manager: EntityManager, projectId: string, artifactId: string | undefined) {
  if (!artifactId) return null;
  const [row]: Array<{ id: string }> = await manager.query(
    `SELECT v.id FROM dataset_versions v
       JOIN datasets d ON d.id = v.dataset_id
       JOIN artifacts a ON a.id = $2
      WHERE d.project_id = $1 AND (v.artifact_id = a.id OR v.content_hash = a.hash)
      ORDER BY (v.artifact_id = a.id) DESC, v.created_at DESC
      LIMIT 1`,
    [projectId, artifactId],
  );
  if (!row) return null;
  const version = await manager.findOneByOrFail(DatasetVersionRow, { id: row.id });
  const dataset = await manager.findOneByOrFail(DatasetRow, { id: version.datasetId });
  return { version, dataset };
}

interface ReportRegistration {
  report: ValidationReport;
  suite: Suite;
  dataInput: string;
  referenceInput: string | null;
  quarantineOutput?: string;
  quarantinedRows?: number;
  quarantineProfile?: DatasetProfile;
  quarantineSchema?: ColumnSchema[];
}

export function dataPlaneHooks(deps: {
  datasets: DatasetService;
  validation: ValidationService;
  features: FeatureService;
  evaluation: EvaluationService;
  store: ArtifactStore;
}): StageHooks {
  const { datasets, validation, features, evaluation, store } = deps;

  /**
   * The dataset versions the named inputs are (an input that is no dataset version, such as an
   * unregistered intermediate output, has its artifact id only): a derived version's lineage.
   */
  async function lineageOf(tx: HookTx, ctx: OutputHookContext, inputNames: readonly string[]) {
    const lineage = [];
    for (const input of inputNames) {
      const artifactId = ctx.inputs[input];
      if (!artifactId) continue;
      const found = await versionOf(tx.manager, ctx.run.projectId, artifactId);
      lineage.push(
        found
          ? {
              input,
              artifactId,
              datasetId: found.dataset.id,
              dataset: found.dataset.name,
              versionId: found.version.id,
              version: found.version.version,
            }
          : { input, artifactId },
      );
    }
    return lineage;
  }

  /**
   * `ingest`, `transform`, `split`, `score`: the output becomes the next version of its dataset
   * (created when missing); a derived one lists the versions it was computed from (`origin.inputs`).
   */
  async function datasetVersion(tx: HookTx, ctx: OutputHookContext) {
    const reg = ctx.metadata.register as {
      dataset: string;
      schemaPolicy?: SchemaPolicy;
      rowCount: number;
      schema: ColumnSchema[];
      profile: DatasetProfile;
      origin: Record<string, unknown>;
      /** Input names whose dataset versions this one derives from. */
      lineage?: string[];
    };
    const lineage = reg.lineage ? { inputs: await lineageOf(tx, ctx, reg.lineage) } : {};
    const dataset = await datasets.findOrCreate(tx, ctx.run.projectId, reg.dataset, reg.schemaPolicy);
    const { version, created } = await datasets.registerVersion(
      tx,
      dataset.id,
      {
        stored: ctx.stored,
        rowCount: reg.rowCount,
        schema: reg.schema,
        profile: reg.profile,
        origin: { ...reg.origin, ...lineage, runId: ctx.run.id },
      },
      { producedBy: ctx.stageRunId, createdBy: ctx.triggeredBy, artifactId: ctx.artifactId },
    );
    return { datasetId: dataset.id, dataset: dataset.name, datasetVersionId: version.id, version: version.version, created };
  }

  /**
   * A Dataset output written by project code (`ctx.outputs.x.writeRows(rows, { dataset })`, the
   * Python helper's `write_table(…, dataset=…)`): it names only the dataset (and the policy of a
   * new one). Schema, row count and profile are read here from the stored Parquet, never taken
   * from the stage, whose code is the project's; a file that is not Parquet is refused.
   */
  async function stageDataset(tx: HookTx, ctx: OutputHookContext) {
    const reg = ctx.metadata.register as { dataset?: unknown; schemaPolicy?: unknown };
    const field = `outputs.${ctx.outputName}.metadata.register`;
    if (typeof reg.dataset !== "string") throw new InvalidInputError([{ field: `${field}.dataset`, message: "must name a dataset" }]);
    const policy = reg.schemaPolicy ?? "FAIL_ON_BREAKING";
    if (policy !== "ALLOW_ALL" && policy !== "FAIL_ON_BREAKING" && policy !== "FAIL_ON_ANY")
      throw new InvalidInputError([{ field: `${field}.schemaPolicy`, message: "must be ALLOW_ALL, FAIL_ON_BREAKING or FAIL_ON_ANY" }]);
    if (ctx.stored.isDirectory)
      throw new InvalidInputError([
        { field: `outputs.${ctx.outputName}`, message: "must be one Parquet file to become a dataset version" },
      ]);
    const file = await store.localPath(ctx.stored.uri);
    let schema: ColumnSchema[];
    let profile: DatasetProfile;
    try {
      [schema, profile] = [await describeParquet(file), await profileParquet(file)];
    } catch {
      // DuckDB's message would name the artifact store's path on the server: not for the stage's author.
      throw new InvalidInputError([{ field: `outputs.${ctx.outputName}`, message: "is not a readable Parquet file" }]);
    }
    const dataset = await datasets.findOrCreate(tx, ctx.run.projectId, reg.dataset, policy);
    const { version, created } = await datasets.registerVersion(
      tx,
      dataset.id,
      {
        stored: ctx.stored,
        rowCount: profile.rowCount,
        schema,
        profile,
        origin: { kind: "STAGE_OUTPUT", stage: ctx.stageName, output: ctx.outputName, runId: ctx.run.id },
      },
      { producedBy: ctx.stageRunId, createdBy: ctx.triggeredBy, artifactId: ctx.artifactId },
    );
    return { datasetId: dataset.id, dataset: dataset.name, datasetVersionId: version.id, version: version.version, created };
  }

  /** `validate`: the report is stored against the data's version, with the quarantined rows as a version of their own. */
  async function recordReport(
    tx: HookTx,
    projectId: string,
    stageRunId: string,
    inputs: Record<string, string>,
    reg: ReportRegistration,
    quarantine?: { artifactId: string; stored: OutputHookContext["stored"] },
    createdBy?: string | null,
  ) {
    const data = await versionOf(tx.manager, projectId, inputs[reg.dataInput]);
    if (!data) {
      // Data that is not a dataset version (an intermediate output) has its report in the stage's
      // `report` output only; the alert still goes out.
      if (!reg.report.success) {
        tx.emit({
          type: ValidationEvents.failed,
          projectId,
          subjectId: stageRunId,
          payload: { suite: reg.suite.name, success: false, stageRunId, ...reg.report.statistics, severity: "error" },
        });
      }
      return { stored: false };
    }
    const reference = reg.referenceInput ? await versionOf(tx.manager, projectId, inputs[reg.referenceInput]) : null;
    const row = await validation.record(
      tx,
      {
        version: data.version,
        dataset: data.dataset,
        suite: reg.suite,
        suiteId: null,
        report: reg.report,
        referenceVersionId: reference?.version.id ?? null,
        quarantine:
          quarantine && reg.quarantinedRows && reg.quarantineProfile && reg.quarantineSchema
            ? {
                stored: quarantine.stored,
                rowCount: reg.quarantinedRows,
                schema: reg.quarantineSchema,
                profile: reg.quarantineProfile,
                origin: { kind: "QUARANTINE", from: { datasetId: data.dataset.id, versionId: data.version.id }, suite: reg.suite.name },
              }
            : null,
        quarantineArtifactId: quarantine?.artifactId,
      },
      { stageRunId, createdBy },
    );
    return { stored: true, reportId: row.id, success: row.success, quarantineVersionId: row.quarantineVersionId };
  }

  async function validationReport(tx: HookTx, ctx: OutputHookContext) {
    const reg = ctx.metadata.register as unknown as ReportRegistration;
    const qName = reg.quarantineOutput;
    const quarantine =
      qName && ctx.outputs[qName]
        ? { artifactId: ctx.outputs[qName]!, stored: await storedOf(tx.manager, ctx.outputs[qName]!) }
        : undefined;
    return recordReport(tx, ctx.run.projectId, ctx.stageRunId, ctx.inputs, reg, quarantine, ctx.triggeredBy);
  }

  /** A failed gate: its report (carried in the failure's details) is stored, and `validation.failed` emitted. */
  async function gateFailed(tx: HookTx, ctx: FailureHookContext) {
    const reg = ctx.failure.details as unknown as ReportRegistration | undefined;
    if (!reg?.report || !reg.suite) return;
    await recordReport(tx, ctx.run.projectId, ctx.stageRunId, ctx.inputs, reg);
  }

  /** `features.materialize`: the view is registered (a new version when changed), the materialization recorded and the online store loaded. */
  async function featureMaterialization(tx: HookTx, ctx: OutputHookContext) {
    const reg = ctx.metadata.register as { view: FeatureView; sourceInput: string; rowCount: number; schema: ColumnType[] };
    const source = await versionOf(tx.manager, ctx.run.projectId, ctx.inputs[reg.sourceInput]);
    if (!source || source.dataset.name !== reg.view.source.dataset) {
      throw new InvalidInputError([
        {
          field: `inputs.${reg.sourceInput}`,
          message: `must be a version of dataset ${reg.view.source.dataset}, the view's source (wire it to an ingest stage)`,
        },
      ]);
    }
    const { view, created } = await features.defineView(tx, ctx.run.projectId, reg.view);
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-online-"));
    try {
      const latestFile = path.join(scratch, "latest.parquet");
      await latestPerEntity(reg.view, await store.localPath(ctx.stored.uri), latestFile);
      const row = await features.recordMaterialization(
        tx,
        { view, sourceVersion: source.version, stored: ctx.stored, rowCount: reg.rowCount, schema: reg.schema, latestFile },
        { producedBy: ctx.stageRunId, createdBy: ctx.triggeredBy, artifactId: ctx.artifactId },
      );
      return {
        featureViewId: view.id,
        featureViewVersion: view.version,
        viewCreated: created,
        materializationId: row.id,
        onlineRows: row.onlineRows,
        view: reg.view,
      };
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }

  /** `features.trainingSet`: recorded with its lineage, the entity version and each view's materialization. */
  async function trainingSet(tx: HookTx, ctx: OutputHookContext) {
    const reg = ctx.metadata.register as {
      name: string | null;
      entitiesInput: string;
      timestampColumn: string;
      views: Array<{ input: string; features: string[] }>;
      rowCount: number;
      columns: ColumnType[];
    };
    const entities = await versionOf(tx.manager, ctx.run.projectId, ctx.inputs[reg.entitiesInput]);
    if (!entities) {
      throw new InvalidInputError([
        { field: `inputs.${reg.entitiesInput}`, message: "must be a dataset version (wire it to an ingest stage)" },
      ]);
    }
    const views = [];
    for (const v of reg.views) {
      const m = await tx.manager.findOne(FeatureMaterializationRow, { where: { artifactId: ctx.inputs[v.input] } });
      if (!m)
        throw new InvalidInputError([
          { field: `inputs.${v.input}`, message: "must be the features output of a features.materialize stage" },
        ]);
      const view = await features.getViewIn(tx.manager, m.featureViewId);
      views.push({ featureViewId: view.id, name: view.name, version: view.version, materializationId: m.id, features: v.features });
    }
    const row = await features.recordTrainingSet(
      tx,
      {
        projectId: ctx.run.projectId,
        name: reg.name,
        entityVersion: entities.version,
        timestampColumn: reg.timestampColumn,
        views,
        stored: ctx.stored,
        rowCount: reg.rowCount,
        columns: reg.columns,
      },
      { producedBy: ctx.stageRunId, createdBy: ctx.triggeredBy, artifactId: ctx.artifactId },
    );
    return { trainingSetId: row.id };
  }

  /** `evaluate`: the report is stored against the model artifact (and its version, if registered) and the data's version. */
  async function evaluationReport(tx: HookTx, ctx: OutputHookContext) {
    const reg = ctx.metadata.register as {
      modelInput: string;
      dataInput: string;
      championInput?: string;
      task: string;
      metrics: Record<string, unknown>;
      report: EvaluationReport;
    };
    const modelArtifactId = ctx.inputs[reg.modelInput];
    const dataArtifactId = ctx.inputs[reg.dataInput];
    if (!modelArtifactId || !dataArtifactId) {
      throw new InvalidInputError([{ field: `inputs.${modelArtifactId ? reg.dataInput : reg.modelInput}`, message: "is not wired" }]);
    }
    const data = await versionOf(tx.manager, ctx.run.projectId, dataArtifactId);
    const row = await evaluation.record(tx, {
      projectId: ctx.run.projectId,
      modelArtifactId,
      dataArtifactId,
      datasetVersionId: data?.version.id ?? null,
      championArtifactId: (reg.championInput && ctx.inputs[reg.championInput]) || null,
      task: reg.task,
      metrics: reg.metrics,
      report: reg.report as unknown as Record<string, unknown>,
      stageRunId: ctx.stageRunId,
    });
    return { evaluationReportId: row.id, modelVersionId: row.modelVersionId, datasetVersionId: row.datasetVersionId, metrics: row.metrics };
  }

  return new StageHooks()
    .onOutput("evaluationReport", evaluationReport)
    .onOutput("datasetVersion", datasetVersion)
    .onOutput("stageDataset", stageDataset)
    .onOutput("validationReport", validationReport)
    .onOutput("featureMaterialization", featureMaterialization)
    .onOutput("trainingSet", trainingSet)
    .onFailure("GATE_FAILED", gateFailed);
}

/** A recorded artifact as the store knows it. */
async function storedOf(manager: EntityManager, artifactId: string): Promise<OutputHookContext["stored"]> {
  const [a] = await manager.query(`SELECT uri, hash, size, is_directory FROM artifacts WHERE id = $1`, [artifactId]);
  return { uri: a.uri, hash: a.hash, size: Number(a.size), isDirectory: a.is_directory };
}
