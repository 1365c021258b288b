import { modelVersionIdOfFile } from "../registry";
import type { EntityManager } from "typeorm";
import { finiteMetrics } from "./common";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import type { JsonObject } from "../db/json";
import type { HookTx } from "../runs";
import { EvaluationReportRow } from "./evaluation-report.entity";

/** `evaluation.report.created`: a model was evaluated; the payload carries its flat metrics. */
export const EvaluationEvents = {
  reportCreated: "evaluation.report.created",
} as const;

/** Only finite numbers: what a model version's `metrics` accepts. */
/**
 * Stored evaluation reports: what `evaluate` stages found, kept against the model artifact (and
 * its registered version) and the evaluation set's dataset version.
 */
export class EvaluationService {
  constructor(private readonly db: Database) {}

  /** Stores a report; the model version is filled in when the artifact is already registered. */
  async record(
    tx: HookTx,
    input: {
      projectId: string;
      modelArtifactId: string;
      dataArtifactId: string;
      datasetVersionId: string | null;
      championArtifactId: string | null;
      task: string;
      metrics: Record<string, unknown>;
      report: JsonObject;
      stageRunId: string | null;
    },
  ): Promise<EvaluationReportRow> {
    const versionId = await modelVersionIdOfFile(tx.manager, input.modelArtifactId);
    const row = await tx.manager.save(
      tx.manager.create(EvaluationReportRow, {
        ...input,
        metrics: finiteMetrics(input.metrics),
        modelVersionId: versionId,
      }),
    );
    tx.emit({
      type: EvaluationEvents.reportCreated,
      projectId: row.projectId,
      subjectId: row.modelArtifactId,
      payload: {
        reportId: row.id,
        task: row.task,
        modelArtifactId: row.modelArtifactId,
        modelVersionId: row.modelVersionId,
        datasetVersionId: row.datasetVersionId,
        stageRunId: row.stageRunId,
        metrics: row.metrics,
      },
    });
    return row;
  }

  /**
   * Attaches the reports of a model file (by artifact, or by content) to the version just
   * registered from it, and returns the flat metrics of the latest one (null when none).
   */
  async linkToVersion(manager: EntityManager, artifactId: string, versionId: string): Promise<Record<string, number> | null> {
    // A file evaluated before: the same artifact, or another artifact with the same bytes (a rerun's output).
    const sameModel = `model_artifact_id IN (SELECT o.id FROM artifacts o JOIN artifacts a ON a.id = $1 WHERE o.hash = a.hash AND o.project_id = a.project_id)`;
    await manager.query(`UPDATE evaluation_reports SET model_version_id = $2 WHERE ${sameModel}`, [artifactId, versionId]);
    const [latest]: Array<{ metrics: Record<string, unknown> }> = await manager.query(
      `SELECT metrics FROM evaluation_reports WHERE ${sameModel} ORDER BY created_at DESC, id DESC LIMIT 1`,
      [artifactId],
    );
    return latest ? finiteMetrics(latest.metrics) : null;
  }

  async report(id: string): Promise<EvaluationReportRow | null> {
    return this.db.dataSource.getRepository(EvaluationReportRow).findOneBy({ id });
  }

  /**
   * Reports by project, model version or dataset version. A model version's reports are those
   * of its file (any artifact with its bytes), whichever version was linked last: one file may
   * be registered twice.
   */
  async reports(
    filter: { projectIds: "all" | string[]; modelVersionId?: string; datasetVersionId?: string },
    page: PageArgs,
    sort: SortSpec<EvaluationReportRow>,
  ): Promise<Page<EvaluationReportRow>> {
    const qb = this.db.dataSource.getRepository(EvaluationReportRow).createQueryBuilder("r");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("r.projectId IN (:...projectIds)", { projectIds: filter.projectIds });
    }
    if (filter.modelVersionId) {
      qb.andWhere(
        `(r.modelVersionId = :mv OR r.modelArtifactId IN (
           SELECT o.id FROM model_versions mv JOIN artifacts a ON a.id = mv.artifact_id
             JOIN artifacts o ON o.hash = a.hash AND o.project_id = a.project_id
            WHERE mv.id = :mv))`,
        { mv: filter.modelVersionId },
      );
    }
    if (filter.datasetVersionId) qb.andWhere("r.datasetVersionId = :dv", { dv: filter.datasetVersionId });
    return paginate(qb, page, sort);
  }
}
