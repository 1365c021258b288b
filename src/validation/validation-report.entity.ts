import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { DatasetVersionRow } from "../datasets";
import type { JsonObject } from "../db/json";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * What checking one dataset version against one suite found: per expectation its observed value,
 * unexpected count and a sample of failing rows. Written whether the check passed or not — a
 * failed gate's report is the most useful one.
 */
@Entity({ name: "validation_reports" })
@Index("validation_reports_version_idx", ["datasetVersionId", "createdAt"])
@Index("validation_reports_dataset_idx", ["datasetId", "createdAt"])
export class ValidationReportRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "dataset_id", type: "uuid" })
  datasetId: string;

  @Column({ name: "dataset_version_id", type: "uuid" })
  datasetVersionId: string;

  @ManyToOne(() => DatasetVersionRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "dataset_version_id", foreignKeyConstraintName: "validation_reports_dataset_version_id_fkey" })
  datasetVersion?: DatasetVersionRow;

  /** The stored suite checked, when it was one; a pipeline stage's inline suite has none. */
  @Column({ name: "suite_id", type: "uuid", nullable: true })
  suiteId: string | null;

  @Column({ name: "suite_name", type: "text" })
  suiteName: string;

  @Column({ name: "suite_hash", type: "text" })
  suiteHash: string;

  /** No `error`-severity expectation failed. */
  @Column({ type: "boolean" })
  success: boolean;

  @Column({ name: "row_count", type: "bigint" })
  rowCount: string;

  /** `{ evaluated, successful, failedWarn, failedError }`. */
  @Column({ type: "jsonb" })
  statistics: JsonObject;

  /** `ExpectationResult[]`. */
  @Column({ type: "jsonb" })
  results: JsonObject[];

  /** The version a distribution expectation compared with. */
  @Column({ name: "reference_version_id", type: "uuid", nullable: true })
  referenceVersionId: string | null;

  /** The version holding the rows that failed, when they were quarantined. */
  @Column({ name: "quarantine_version_id", type: "uuid", nullable: true })
  quarantineVersionId: string | null;

  /** The stage run that ran the check, when a pipeline did. */
  @Column({ name: "stage_run_id", type: "uuid", nullable: true })
  stageRunId: string | null;

  @Column({ name: "duration_ms", type: "integer" })
  durationMs: number;
}
