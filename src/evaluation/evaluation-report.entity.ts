import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { DatasetVersionRow } from "../datasets";
import type { JsonObject } from "../db/json";
import { ProjectRow } from "../projects";
import { ModelVersionRow } from "../registry";
import { CreatedAtColumns } from "../db/audited-columns";

/**
 * One evaluation of a model (an ONNX artifact) on one evaluation set, as an `evaluate` stage
 * wrote it: flat metrics for lists and comparisons, and the whole plot-ready report (curves,
 * confusion matrix, slices, fairness, the comparison with a champion). Attached to the model's
 * registered version when the artifact is one, or as soon as it becomes one.
 */
@Entity({ name: "evaluation_reports" })
@Index("evaluation_reports_project_idx", ["projectId", "createdAt"])
@Index("evaluation_reports_model_artifact_idx", ["modelArtifactId", "createdAt"])
@Index("evaluation_reports_model_version_idx", ["modelVersionId", "createdAt"])
@Index("evaluation_reports_dataset_version_idx", ["datasetVersionId", "createdAt"])
export class EvaluationReportRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "evaluation_reports_project_id_fkey" })
  project?: ProjectRow;

  /** The evaluated model: a `Model` artifact. */
  @Column({ name: "model_artifact_id", type: "uuid" })
  modelArtifactId: string;

  /** The registered version of that artifact, once there is one. */
  @Column({ name: "model_version_id", type: "uuid", nullable: true })
  modelVersionId: string | null;

  @ManyToOne(() => ModelVersionRow, { onDelete: "SET NULL" })
  @JoinColumn({ name: "model_version_id", foreignKeyConstraintName: "evaluation_reports_model_version_id_fkey" })
  modelVersion?: ModelVersionRow;

  /** The evaluation set: a Dataset or FeatureSet artifact. */
  @Column({ name: "data_artifact_id", type: "uuid" })
  dataArtifactId: string;

  /** The evaluation set's dataset version, when it is one. */
  @Column({ name: "dataset_version_id", type: "uuid", nullable: true })
  datasetVersionId: string | null;

  @ManyToOne(() => DatasetVersionRow, { onDelete: "SET NULL" })
  @JoinColumn({ name: "dataset_version_id", foreignKeyConstraintName: "evaluation_reports_dataset_version_id_fkey" })
  datasetVersion?: DatasetVersionRow;

  /** The champion scored on the same rows, when one was given. */
  @Column({ name: "champion_artifact_id", type: "uuid", nullable: true })
  championArtifactId: string | null;

  /** `binary`, `multiclass` or `regression`. */
  @Column({ type: "text" })
  task: string;

  /** Flat `name → number` (finite metrics only). */
  @Column({ type: "jsonb", default: () => "'{}'" })
  metrics: Record<string, number>;

  /** The `EvaluationReport` (src/evaluation/report.ts). */
  @Column({ type: "jsonb" })
  report: JsonObject;

  /** The `evaluate` stage run that produced it. */
  @Column({ name: "stage_run_id", type: "uuid", nullable: true })
  stageRunId: string | null;
}
