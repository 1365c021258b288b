import * as ort from "onnxruntime-node";
import type { EntityManager } from "typeorm";
import { InvalidInputError, NotFoundError } from "../../kernel/errors";
import { ArtifactRow } from "../../artifacts/artifact.entity";
import type { ArtifactStore } from "../../artifacts/store";
import type { Database } from "../../db/data-source";
import type { DatasetService } from "../../datasets";
import { type ModelVersionRow, type ModelSignature, answerOutputs, answerSignature, fetchesFor } from "../../registry";
import { feedsFor, scoreColumnsOf } from "../../scoring";
import { getColumn, type Table, loadTable, LoadColumnsError } from "../../training";
import { type Column, DriftInputError, type FeatureKind, parseReferenceSummary, type ReferenceSummary, summarizeReference } from "../drift";
import { MonitoringReferenceRow } from "../monitoring.entities";
import { inputKind, type PredictionColumn, predictionColumnOf } from "./prediction-column";

/** Rows of training data a reference is computed from at most (a seeded reservoir sample above that). */
export const REFERENCE_MAX_ROWS = 200_000;

export interface ComputedReference {
  source: "TRAINING" | "DATASET";
  datasetVersionId: string | null;
  prediction: PredictionColumn | null;
  rows: number;
  summary: ReferenceSummary;
}

/**
 * Training references of model versions. The features are the model's inputs, read by name from
 * the data the version was trained on (the `data` input of the stage that produced it, found
 * through its lineage) or from a dataset version given explicitly; the prediction column is the
 * model's own output on those rows (scored here with onnxruntime), so prediction drift compares
 * like with like. Computing reads files and runs DuckDB and ONNX: it never runs in a transaction.
 */
export class ReferenceService {
  constructor(
    private readonly db: Database,
    private readonly store: ArtifactStore,
    private readonly datasets: DatasetService,
  ) {}

  get(modelVersionId: string, manager: EntityManager = this.db.dataSource.manager): Promise<MonitoringReferenceRow | null> {
    return manager.getRepository(MonitoringReferenceRow).findOneBy({ modelVersionId });
  }

  /** The summary of a stored reference, checked. */
  static summaryOf(row: MonitoringReferenceRow): ReferenceSummary {
    return parseReferenceSummary(row.summary);
  }

  /** The training data file of a version trained by a pipeline run: its stage's `data` input (or only input). */
  async trainingFile(version: ModelVersionRow): Promise<string | null> {
    const stageRunId = typeof version.lineage.stageRunId === "string" ? version.lineage.stageRunId : null;
    if (!stageRunId) return null;
    const inputs: Array<{ input_name: string; artifact_id: string }> = await this.db.dataSource.query(
      `SELECT input_name, artifact_id FROM stage_run_inputs WHERE stage_run_id = $1 ORDER BY input_name`,
      [stageRunId],
    );
    const data = inputs.find((i) => i.input_name === "data") ?? (inputs.length === 1 ? inputs[0] : undefined);
    if (!data) return null;
    const artifact = await this.db.dataSource.getRepository(ArtifactRow).findOneBy({ id: data.artifact_id });
    return artifact ? this.store.localPath(artifact.uri) : null;
  }

  /** Computes a version's reference from its training data (lineage). */
  async computeFromTraining(version: ModelVersionRow): Promise<ComputedReference> {
    const file = await this.trainingFile(version);
    if (!file) {
      throw new InvalidInputError([
        {
          field: "modelVersionId",
          message: `version ${version.version} has no training data in its lineage (uploaded, or not trained by a run): set its reference from a dataset version`,
        },
      ]);
    }
    return { ...(await this.compute(version, file, "modelVersionId")), source: "TRAINING", datasetVersionId: null };
  }

  /** Computes a version's reference from a dataset version holding columns named like the model's inputs. */
  async computeFromDataset(version: ModelVersionRow, datasetVersionId: string): Promise<ComputedReference> {
    const dv = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(datasetVersionId)
      ? await this.datasets.version(datasetVersionId)
      : null;
    const dataset = dv ? await this.datasets.get(dv.datasetId) : null;
    if (!dv || dataset?.projectId !== version.projectId) throw new NotFoundError("DatasetVersion", datasetVersionId);
    const file = await this.datasets.versionFile(dv);
    return { ...(await this.compute(version, file, "datasetVersionId")), source: "DATASET", datasetVersionId };
  }

  private async compute(version: ModelVersionRow, file: string, field: string) {
    const signature = version.signature as unknown as ModelSignature;
    if (!signature?.inputs?.length)
      throw new InvalidInputError([{ field: "modelVersionId", message: "the version's signature has no inputs" }]);
    const kinds: Record<string, FeatureKind> = {};
    for (const spec of signature.inputs) kinds[spec.name] = inputKind(spec);
    let table: Table;
    try {
      ({ table } = await loadTable(
        file,
        signature.inputs.map((s) => ({ name: s.name, as: kinds[s.name] })),
        { maxRows: REFERENCE_MAX_ROWS, seed: 42 },
      ));
    } catch (err) {
      if (err instanceof LoadColumnsError) throw new InvalidInputError([{ field, message: `the model's inputs: ${err.message}` }]);
      throw err;
    }
    if (table.rows === 0) throw new InvalidInputError([{ field, message: "the data has no rows" }]);
    const columns: Record<string, Column> = {};
    for (const spec of signature.inputs) columns[spec.name] = getColumn(table, spec.name).values as Column;
    // The prediction column among the outputs serving answers (and logs): a classifier's `label` is its class name.
    const prediction = predictionColumnOf(answerSignature(signature));
    if (prediction) {
      const modelFile = await this.store.localPath(
        (await this.db.dataSource.getRepository(ArtifactRow).findOneByOrFail({ id: version.artifactId })).uri,
      );
      columns[prediction.label] = await scorePredictions(modelFile, signature, table, prediction);
      kinds[prediction.label] = prediction.kind;
    }
    try {
      const summary = summarizeReference(columns, { kinds, ...(prediction ? { prediction: prediction.label } : {}) });
      return { prediction, rows: table.rows, summary };
    } catch (err) {
      if (err instanceof DriftInputError) throw new InvalidInputError([{ field, message: err.message }]);
      throw err;
    }
  }

  /** Stores (or replaces) a version's reference. */
  async save(manager: EntityManager, version: ModelVersionRow, computed: ComputedReference): Promise<MonitoringReferenceRow> {
    const repo = manager.getRepository(MonitoringReferenceRow);
    await repo.delete({ modelVersionId: version.id });
    return repo.save(
      repo.create({
        projectId: version.projectId,
        modelVersionId: version.id,
        source: computed.source,
        datasetVersionId: computed.datasetVersionId,
        predictionOutput: computed.prediction?.output ?? null,
        predictionIndex: computed.prediction?.index ?? null,
        rows: computed.rows,
        summary: computed.summary as unknown as Record<string, unknown>,
      }),
    );
  }
}

/** The model's prediction column on every row of `table`, run in chunks with a session of its own. */
async function scorePredictions(modelFile: string, sig: ModelSignature, table: Table, pred: PredictionColumn): Promise<Column> {
  const session = await ort.InferenceSession.create(modelFile, { logSeverityLevel: 4 });
  try {
    const chunk = 8192;
    const buffers = scoreColumnsOf(sig, chunk);
    const inputs = sig.inputs.map((spec) => getColumn(table, spec.name).values as unknown as readonly unknown[]);
    const numeric = pred.kind === "numeric";
    const out: Float64Array | Array<string | number | null> = numeric ? new Float64Array(table.rows) : new Array(table.rows).fill(null);
    for (let at = 0; at < table.rows; at += chunk) {
      const n = Math.min(chunk, table.rows - at);
      buffers.forEach((b, i) => b.fillValues(inputs[i]!, at, 0, n));
      const result = answerOutputs(sig, [pred.output], await session.run(feedsFor(sig, buffers, n), fetchesFor(sig, [pred.output])));
      const data = (result[pred.output] as ort.Tensor).data as ArrayLike<number | bigint | string | boolean>;
      for (let r = 0; r < n; r++) {
        const v = data[r * pred.width + pred.index];
        out[at + r] = typeof v === "bigint" ? Number(v) : typeof v === "boolean" ? String(v) : (v as number | string);
      }
    }
    return out;
  } finally {
    await session.release().catch(() => undefined);
  }
}
