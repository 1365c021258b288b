import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { DatasetVersionRow } from "../datasets";
import type { JsonObject } from "../db/json";
import { ProjectRow } from "../projects";
import { CreatedByColumns } from "../db/audited-columns";

/** What a training set took from one view: the version and the materialization it read. */
export interface TrainingSetViewRef {
  featureViewId: string;
  name: string;
  version: number;
  materializationId: string;
  features: string[];
}

/**
 * A point-in-time correct training set: the entity data frame (a dataset version) joined with
 * features of the listed materializations, written once as a FeatureSet Parquet artifact.
 */
@Entity({ name: "training_sets" })
@Index("training_sets_project_idx", ["projectId", "createdAt"])
export class TrainingSetRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "training_sets_project_id_fkey" })
  project?: ProjectRow;

  /** An optional label; training sets are identified by id. */
  @Column({ type: "text", nullable: true })
  name: string | null;

  @Column({ name: "artifact_id", type: "uuid" })
  artifactId: string;

  @ManyToOne(() => ArtifactRow, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "artifact_id", foreignKeyConstraintName: "training_sets_artifact_id_fkey" })
  artifact?: ArtifactRow;

  @Column({ name: "entity_version_id", type: "uuid" })
  entityVersionId: string;

  @ManyToOne(() => DatasetVersionRow)
  @JoinColumn({ name: "entity_version_id", foreignKeyConstraintName: "training_sets_entity_version_id_fkey" })
  entityVersion?: DatasetVersionRow;

  @Column({ name: "timestamp_column", type: "text" })
  timestampColumn: string;

  /** `TrainingSetViewRef[]`, in request order (which is the column order). */
  @Column({ type: "jsonb" })
  views: JsonObject[];

  @Column({ name: "row_count", type: "bigint" })
  rowCount: string;

  /** `{name, type}[]` of the Parquet file: the entity columns, then the features. */
  @Column({ type: "jsonb" })
  columns: JsonObject[];

  @Column({ name: "produced_by", type: "uuid", nullable: true })
  producedBy: string | null;
}
