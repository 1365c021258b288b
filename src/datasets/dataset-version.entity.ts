import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ArtifactRow } from "../artifacts/artifact.entity";
import type { JsonObject } from "../db/json";
import { DatasetRow } from "./dataset.entity";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * One immutable version of a dataset: a Parquet artifact named by its content hash (so the same
 * data ingested again is this version, not a new one), with its schema, row count, profile, the
 * schema diff from the version before, and where it came from.
 */
@Entity({ name: "dataset_versions" })
@Index("dataset_versions_number_key", ["datasetId", "version"], { unique: true })
@Index("dataset_versions_hash_key", ["datasetId", "contentHash"], { unique: true })
export class DatasetVersionRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "dataset_id", type: "uuid" })
  datasetId: string;

  @ManyToOne(() => DatasetRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "dataset_id", foreignKeyConstraintName: "dataset_versions_dataset_id_fkey" })
  dataset?: DatasetRow;

  /** 1, 2, 3… in order of ingestion. */
  @Column({ type: "integer" })
  version: number;

  /** `sha256:<hex>` of the Parquet file. */
  @Column({ name: "content_hash", type: "text" })
  contentHash: string;

  @Column({ name: "artifact_id", type: "uuid" })
  artifactId: string;

  @ManyToOne(() => ArtifactRow, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "artifact_id", foreignKeyConstraintName: "dataset_versions_artifact_id_fkey" })
  artifact?: ArtifactRow;

  @Column({ name: "row_count", type: "bigint" })
  rowCount: string;

  /** `ColumnSchema[]`. */
  @Column({ type: "jsonb" })
  schema: JsonObject[];

  /** `DatasetProfile`. */
  @Column({ type: "jsonb" })
  profile: JsonObject;

  /** `SchemaDiff` from the previous version; null for the first. */
  @Column({ name: "schema_diff", type: "jsonb", nullable: true })
  schemaDiff: JsonObject | null;

  /** The source it was ingested from, when one (uploads and stage outputs have none). */
  @Column({ name: "source_id", type: "uuid", nullable: true })
  sourceId: string | null;

  /** What was read: the files with sizes and times, the query, or the upload. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  origin: JsonObject;

  /** The stage run that produced it, when a pipeline did. */
  @Column({ name: "produced_by", type: "uuid", nullable: true })
  producedBy: string | null;
}
