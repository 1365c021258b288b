import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { PipelineRow } from "../pipelines";
import type { JsonObject } from "../db/json";
import { AuditedColumns } from "../db/audited-columns";

/** After downtime: skip the fires that were missed, or run once for the latest of them. */
export type MissedFirePolicy = "SKIP" | "RUN_ONCE";

/** A cron schedule that triggers runs of a pipeline. */
@Entity({ name: "schedules" })
@Index("schedules_pipeline_name_key", ["pipelineId", "name"], { unique: true })
export class ScheduleRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "pipeline_id", type: "uuid" })
  pipelineId: string;

  @ManyToOne(() => PipelineRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "pipeline_id", foreignKeyConstraintName: "schedules_pipeline_id_fkey" })
  pipeline?: PipelineRow;

  @Column({ type: "text" })
  name: string;

  /** node-cron syntax: 5 fields, or 6 with seconds first. */
  @Column({ type: "text" })
  cron: string;

  /** IANA time zone the expression is read in. */
  @Column({ type: "text", default: "UTC" })
  timezone: string;

  /** Parameter overrides for the runs it starts, by stage name. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  params: JsonObject;

  @Column({ type: "boolean", default: false })
  paused: boolean;

  @Column({ name: "missed_policy", type: "text", default: "SKIP" })
  missedPolicy: MissedFirePolicy;

  /** The scheduled time of the last fire (not when it ran). */
  @Column({ name: "last_fire_at", type: "timestamptz", precision: 3, nullable: true })
  lastFireAt: Date | null;
}
