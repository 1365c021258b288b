import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { DatasetRow } from "./dataset.entity";
import { AuditedColumns } from "../db/audited-columns";

/**
 * Where a dataset's data comes from: files (paths, globs, partitioned folders) or a read-only
 * SQL query against a PostgreSQL database named by a secret. The config never holds a
 * credential itself, only the secret's name.
 */
@Entity({ name: "dataset_sources" })
@Index("dataset_sources_dataset_name_key", ["datasetId", "name"], { unique: true })
export class DatasetSourceRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "dataset_id", type: "uuid" })
  datasetId: string;

  @ManyToOne(() => DatasetRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "dataset_id", foreignKeyConstraintName: "dataset_sources_dataset_id_fkey" })
  dataset?: DatasetRow;

  @Column({ type: "text" })
  name: string;

  /** A `SourceConfig` (FILE or POSTGRES_QUERY). */
  @Column({ type: "jsonb" })
  config: JsonObject;
}
