import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { DatasetRow } from "../datasets";
import type { JsonObject } from "../db/json";
import { ProjectRow } from "../projects";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * One version of a named feature view. Versions are immutable: defining the name again with a
 * different definition adds version n+1, so materializations and training sets that point at a
 * version keep meaning what they meant. The hash index makes "the same definition again" a lookup.
 */
@Entity({ name: "feature_views" })
@Index("feature_views_name_version_key", ["projectId", "name", "version"], { unique: true })
@Index("feature_views_name_hash_key", ["projectId", "name", "hash"], { unique: true })
export class FeatureViewRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "feature_views_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  /** 1, 2, 3… per name, in order of definition. */
  @Column({ type: "integer" })
  version: number;

  /** The normalized `FeatureView` (validateFeatureView), exactly what `hash` covers. */
  @Column({ type: "jsonb" })
  definition: JsonObject;

  /** `sha256:<hex>` of the canonical definition (`viewHash`). */
  @Column({ type: "text" })
  hash: string;

  /** The dataset `definition.source.dataset` named when this version was defined. */
  @Column({ name: "source_dataset_id", type: "uuid" })
  sourceDatasetId: string;

  @ManyToOne(() => DatasetRow)
  @JoinColumn({ name: "source_dataset_id", foreignKeyConstraintName: "feature_views_source_dataset_id_fkey" })
  sourceDataset?: DatasetRow;

  @Column({ type: "text", default: "" })
  description: string;
}
