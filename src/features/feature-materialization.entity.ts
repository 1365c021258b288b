import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { DatasetVersionRow } from "../datasets";
import { ProjectRow } from "../projects";
import { FeatureViewRow } from "./feature-view.entity";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * A view version's feature table computed from one source dataset version: the offline Parquet
 * (a FeatureSet artifact) and, when loaded, how many entities went to the online store. The pair
 * (view version, source version) is the lineage of every value it holds.
 */
@Entity({ name: "feature_materializations" })
@Index("feature_materializations_view_idx", ["featureViewId", "createdAt"])
export class FeatureMaterializationRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "feature_materializations_project_id_fkey" })
  project?: ProjectRow;

  @Column({ name: "feature_view_id", type: "uuid" })
  featureViewId: string;

  @ManyToOne(() => FeatureViewRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "feature_view_id", foreignKeyConstraintName: "feature_materializations_feature_view_id_fkey" })
  featureView?: FeatureViewRow;

  @Column({ name: "source_version_id", type: "uuid" })
  sourceVersionId: string;

  @ManyToOne(() => DatasetVersionRow)
  @JoinColumn({ name: "source_version_id", foreignKeyConstraintName: "feature_materializations_source_version_id_fkey" })
  sourceVersion?: DatasetVersionRow;

  /** The offline feature table (Parquet, sorted by keys then timestamp). */
  @Column({ name: "artifact_id", type: "uuid" })
  artifactId: string;

  @ManyToOne(() => ArtifactRow, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "artifact_id", foreignKeyConstraintName: "feature_materializations_artifact_id_fkey" })
  artifact?: ArtifactRow;

  @Column({ name: "row_count", type: "bigint" })
  rowCount: string;

  /** Entities written to the online store; 0 when it was materialized offline only. */
  @Column({ name: "online_rows", type: "integer", default: 0 })
  onlineRows: number;

  /** The stage run that asked for it, when a pipeline did. */
  @Column({ name: "produced_by", type: "uuid", nullable: true })
  producedBy: string | null;
}
