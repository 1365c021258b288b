import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ArtifactRow } from "../artifacts/artifact.entity";
import type { JsonObject } from "../db/json";
import { RegisteredModelRow } from "./registered-model.entity";
import { AuditedColumns } from "../db/audited-columns";

/** Where a model version stands. Governance moves it from PENDING_APPROVAL; ARCHIVED is final. */
export type ModelVersionStatus = "PENDING_APPROVAL" | "APPROVED" | "REJECTED" | "ARCHIVED";

/**
 * One version of a registered model: an ONNX file (a `Model` artifact, content-addressed), its
 * signature, metrics and full lineage — the run, stage, pipeline version, dataset versions and
 * feature views it was trained from, and its code version.
 */
@Entity({ name: "model_versions" })
@Index("model_versions_number_key", ["registeredModelId", "version"], { unique: true })
export class ModelVersionRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @ManyToOne(() => RegisteredModelRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "registered_model_id", foreignKeyConstraintName: "model_versions_registered_model_id_fkey" })
  registeredModel?: RegisteredModelRow;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ type: "integer" })
  version: number;

  @Column({ type: "text", default: "PENDING_APPROVAL" })
  status: ModelVersionStatus;

  @Column({ name: "artifact_id", type: "uuid" })
  artifactId: string;

  @ManyToOne(() => ArtifactRow, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "artifact_id", foreignKeyConstraintName: "model_versions_artifact_id_fkey" })
  artifact?: ArtifactRow;

  /** `ModelSignature`: inputs and outputs with names, element types and shapes. */
  @Column({ type: "jsonb" })
  signature: JsonObject;

  /** Flat `name → number` metrics (validation AUC, RMSE…). */
  @Column({ type: "jsonb", default: () => "'{}'" })
  metrics: Record<string, number>;

  @Column({ type: "jsonb", default: () => "'{}'" })
  tags: Record<string, string>;

  @Column({ type: "text", default: "" })
  description: string;

  /** `UPLOAD` or `RUN`. */
  @Column({ type: "text" })
  source: "UPLOAD" | "RUN";

  /** Lineage: `{ runId, stageRunId, pipelineVersionId, datasetVersionIds, featureViewIds, codeVersion }`. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  lineage: JsonObject;

  // createdBy (from AuditedColumns): who triggered the training run, or uploaded the file (separation of duties reads it).
}
