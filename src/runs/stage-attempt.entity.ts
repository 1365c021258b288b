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
}
