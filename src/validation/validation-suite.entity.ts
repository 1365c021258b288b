import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { DatasetRow } from "../datasets";
import type { JsonObject } from "../db/json";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * One version of an expectation suite attached to a dataset. Defining a suite again with the
 * same expectations returns this version; a changed definition becomes the next version, so a
 * report always points at exactly the expectations it checked. (Suites inside a pipeline's
 * `validate` stage are versioned with the pipeline instead.)
 */
@Entity({ name: "validation_suites" })
@Index("validation_suites_number_key", ["datasetId", "name", "version"], { unique: true })
export class ValidationSuiteRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "dataset_id", type: "uuid" })
  datasetId: string;

  @ManyToOne(() => DatasetRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "dataset_id", foreignKeyConstraintName: "validation_suites_dataset_id_fkey" })
  dataset?: DatasetRow;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "integer" })
  version: number;

  /** The normalized `Suite` (defaults filled in). */
  @Column({ type: "jsonb" })
  definition: JsonObject;

  /** `sha256:<hex>` of the canonical definition. */
  @Column({ type: "text" })
  hash: string;
}
