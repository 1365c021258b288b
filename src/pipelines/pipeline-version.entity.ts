import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { PipelineRow } from "./pipeline.entity";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * One immutable version of a pipeline, identified by the hash of its normalized spec (and its
 * base folder): applying an identical spec again finds this row instead of adding one.
 */
@Entity({ name: "pipeline_versions" })
@Index("pipeline_versions_hash_key", ["pipelineId", "contentHash", "baseDir"], { unique: true })
@Index("pipeline_versions_number_key", ["pipelineId", "version"], { unique: true })
export class PipelineVersionRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "pipeline_id", type: "uuid" })
  pipelineId: string;

  @ManyToOne(() => PipelineRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "pipeline_id", foreignKeyConstraintName: "pipeline_versions_pipeline_id_fkey" })
  pipeline?: PipelineRow;

  /** 1, 2, 3… in order of first application. */
  @Column({ type: "integer" })
  version: number;

  /** `sha256:<hex>` of the canonical normalized spec. */
  @Column({ name: "content_hash", type: "text" })
  contentHash: string;

  /** The normalized `PipelineSpec`. */
  @Column({ type: "jsonb" })
  spec: JsonObject;

  /**
   * Folder the spec's relative module and command paths resolve against, on the runner's
   * machine; empty when the spec has none (applied through the API). Part of the version's
   * identity: the same spec from another folder runs other files.
   */
  @Column({ name: "base_dir", type: "text", default: "" })
  baseDir: string;
}
