import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { StageRunRow } from "./stage-run.entity";

/** The history of a stage run's attempts: who ran each, when, and how it ended. */
@Entity({ name: "stage_attempts" })
@Index("stage_attempts_runner_idx", ["runner"])
export class StageAttemptRow {
  @PrimaryColumn({ name: "stage_run_id", type: "uuid" })
  stageRunId: string;

  @PrimaryColumn({ type: "integer" })
  attempt: number;

  @ManyToOne(() => StageRunRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "stage_run_id", foreignKeyConstraintName: "stage_attempts_stage_run_id_fkey" })
  stageRun?: StageRunRow;

  @Column({ type: "text" })
  runner: string;

  @Column({ name: "lease_epoch", type: "integer" })
  leaseEpoch: number;

  /**
   * When this attempt could first have started: the stage's queueing, or the end of a retry's
   * delay (`not_before`), whichever is later. `started_at - ready_at` is its queue wait. Null for
   * attempts made before it was recorded.
   */
  @Column({ name: "ready_at", type: "timestamptz", precision: 3, nullable: true })
  readyAt: Date | null;

  @Column({ name: "started_at", type: "timestamptz", precision: 3 })
  startedAt: Date;

  @Column({ name: "finished_at", type: "timestamptz", precision: 3, nullable: true })
  finishedAt: Date | null;

  /** SUCCEEDED, FAILED, CANCELED or LOST (the lease expired), or null while running. */
  @Column({ type: "text", nullable: true })
  outcome: string | null;

  @Column({ type: "jsonb", nullable: true })
  failure: JsonObject | null;

  /** CPU seconds (user + system) the attempt used, as its runner measured them; null when not measured. */
  @Column({ name: "cpu_seconds", type: "double precision", nullable: true })
  cpuSeconds: number | null;

  /** Wall seconds the stage ran, as its runner measured them. */
  @Column({ name: "wall_seconds", type: "double precision", nullable: true })
  wallSeconds: number | null;

  /** Peak resident memory in bytes (none for worker-thread stages: threads share their process's memory). */
  @Column({ name: "peak_memory_bytes", type: "bigint", nullable: true })
  peakMemoryBytes: string | null;

  @Column({ name: "bytes_read", type: "bigint", nullable: true })
  bytesRead: string | null;

  @Column({ name: "bytes_written", type: "bigint", nullable: true })
  bytesWritten: string | null;

  /** How the usage was measured: process-tree, process or worker-thread (runners/contract.ts `StageUsage`). */
  @Column({ name: "usage_method", type: "text", nullable: true })
  usageMethod: string | null;
}
