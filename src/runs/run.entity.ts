import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { PipelineVersionRow } from "../pipelines";
import type { RunStatus, TriggerKind } from "./engine/run-state";
import { CreatedByColumns } from "../db/audited-columns";

/** One execution of a pipeline version. Its stages are `StageRunRow`s. */
@Entity({ name: "runs" })
@Index("runs_project_created_idx", ["projectId", "createdAt"])
@Index("runs_pipeline_created_idx", ["pipelineId", "createdAt"])
@Index("runs_pipeline_number_key", ["pipelineId", "number"], { unique: true })
@Index("runs_status_idx", ["status"])
export class RunRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "pipeline_id", type: "uuid" })
  pipelineId: string;

  @Column({ name: "pipeline_version_id", type: "uuid" })
  pipelineVersionId: string;

  @ManyToOne(() => PipelineVersionRow, { onDelete: "RESTRICT" })
  @JoinColumn({ name: "pipeline_version_id", foreignKeyConstraintName: "runs_pipeline_version_id_fkey" })
  pipelineVersion?: PipelineVersionRow;

  /** 1, 2, 3… per pipeline: the run's short name in the CLI (`flights#12`). */
  @Column({ type: "integer" })
  number: number;

  @Column({ type: "text" })
  status: RunStatus;

  /** Parameter overrides given when triggered, by stage name. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  params: JsonObject;

  @Column({ type: "jsonb", default: () => "'{}'" })
  tags: JsonObject;

  @Column({ name: "trigger_kind", type: "text" })
  triggerKind: TriggerKind;

  /** The schedule, event rule or fire that started it, when one did. */
  @Column({ name: "trigger_ref", type: "text", nullable: true })
  triggerRef: string | null;

  /** For a rerun: the run whose successful stages it reuses. */
  @Column({ name: "parent_run_id", type: "uuid", nullable: true })
  parentRunId: string | null;

  @Column({ name: "started_at", type: "timestamptz", precision: 3, nullable: true })
  startedAt: Date | null;

  @Column({ name: "finished_at", type: "timestamptz", precision: 3, nullable: true })
  finishedAt: Date | null;

  @Column({ name: "cancel_requested_at", type: "timestamptz", precision: 3, nullable: true })
  cancelRequestedAt: Date | null;

  /** The version's `maxParallel`, copied here so leasing reads no spec. */
  @Column({ name: "max_parallel", type: "integer", nullable: true })
  maxParallel: number | null;

  /** The version's `maxConcurrentRuns`, copied here for the same reason. */
  @Column({ name: "max_concurrent_runs", type: "integer", nullable: true })
  maxConcurrentRuns: number | null;

  /** Why the run failed: the first failing stage and its failure. */
  @Column({ type: "jsonb", nullable: true })
  error: JsonObject | null;
}
