import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { RunRow } from "./run.entity";
import type { StageStatus } from "./engine/run-state";

/**
 * One stage of one run. Waits as PENDING until its upstream stages succeed
 * (`remainingUpstream` reaches 0), is QUEUED for a runner, then RUNNING under a lease whose
 * epoch fences late completions from a runner that lost it.
 */
@Entity({ name: "stage_runs" })
@Index("stage_runs_run_stage_key", ["runId", "stageName"], { unique: true })
@Index("stage_runs_run_status_idx", ["runId", "status"])
@Index("stage_runs_queued_idx", ["notBefore"], { where: `"status" = 'QUEUED'` })
@Index("stage_runs_lease_idx", ["leaseExpiresAt"], { where: `"status" = 'RUNNING'` })
@Index("stage_runs_cache_key_idx", ["cacheKey"], { where: `"status" = 'SUCCEEDED'` })
export class StageRunRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "run_id", type: "uuid" })
  runId: string;

  @ManyToOne(() => RunRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "run_id", foreignKeyConstraintName: "stage_runs_run_id_fkey" })
  run?: RunRow;

  @Column({ name: "stage_name", type: "text" })
  stageName: string;

  @Column({ type: "text" })
  status: StageStatus;

  /** Upstream stages that have not succeeded yet; the stage is queued when this reaches 0. */
  @Column({ name: "remaining_upstream", type: "integer" })
  remainingUpstream: number;

  /** The current (or last) attempt, from 1. */
  @Column({ type: "integer", default: 0 })
  attempt: number;

  @Column({ name: "max_attempts", type: "integer" })
  maxAttempts: number;

  /** Labels a runner must all have. */
  @Column({ name: "runner_labels", type: "text", array: true })
  runnerLabels: string[];

  /** `operator`, `module` or `command`: which runners can execute it. */
  @Column({ name: "run_kind", type: "text" })
  runKind: string;

  /** Parameters after run overrides and schema defaults. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  params: JsonObject;

  @Column({ name: "queued_at", type: "timestamptz", precision: 3, nullable: true })
  queuedAt: Date | null;

  /** A retry waits until this time before it may be claimed. */
  @Column({ name: "not_before", type: "timestamptz", precision: 3, nullable: true })
  notBefore: Date | null;

  @Column({ name: "started_at", type: "timestamptz", precision: 3, nullable: true })
  startedAt: Date | null;

  @Column({ name: "finished_at", type: "timestamptz", precision: 3, nullable: true })
  finishedAt: Date | null;

  /** Who runs it now: a server process's embedded runner or a remote agent. */
  @Column({ name: "lease_owner", type: "text", nullable: true })
  leaseOwner: string | null;

  /** Incremented at every claim; a completion carrying an older epoch is refused. */
  @Column({ name: "lease_epoch", type: "integer", default: 0 })
  leaseEpoch: number;

  @Column({ name: "lease_expires_at", type: "timestamptz", precision: 3, nullable: true })
  leaseExpiresAt: Date | null;

  @Column({ name: "cancel_requested", type: "boolean", default: false })
  cancelRequested: boolean;

  /** Hash of code version, parameters and input hashes, when the stage caches. */
  @Column({ name: "cache_key", type: "text", nullable: true })
  cacheKey: string | null;

  /** The earlier stage run whose outputs this one reused (cache hit or rerun). */
  @Column({ name: "reused_from", type: "uuid", nullable: true })
  reusedFrom: string | null;

  /** `CACHE` or `RERUN` when outputs were reused. */
  @Column({ name: "reuse_reason", type: "text", nullable: true })
  reuseReason: string | null;

  @Column({ type: "jsonb", nullable: true })
  failure: JsonObject | null;
}
