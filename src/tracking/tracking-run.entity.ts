import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ProjectRow } from "../projects";
import { type LifecycleStage, TrackingExperimentRow } from "./experiment.entity";
import { CreatedAtColumns } from "../db/audited-columns";

/** MLflow's run statuses. */
export type TrackingRunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";
export const TRACKING_RUN_STATUSES: readonly TrackingRunStatus[] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

/** The latest value of one metric: the highest step, then the latest timestamp, then the largest value (MLflow's rule). */
export interface LatestMetric {
  /** A number, or "NaN" / "Infinity" / "-Infinity" (jsonb holds no such numbers). */
  value: number | string;
  timestamp: number;
  step: number;
}

/**
 * A tracking run (MLflow's run): params (immutable once logged), tags, and the latest value of
 * each metric kept beside the full history in `tracking_metrics`, so searching and ordering by
 * a metric reads one row. A child run (a hyperparameter trial) names its parent in the
 * `mlflow.parentRunId` tag, mirrored in `parent_run_id`.
 */
@Entity({ name: "tracking_runs" })
@Index("tracking_runs_experiment_idx", ["experimentId", "startTime"])
@Index("tracking_runs_parent_idx", ["parentRunId"])
export class TrackingRunRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "tracking_runs_project_id_fkey" })
  project?: ProjectRow;

  @Column({ name: "experiment_id", type: "uuid" })
  experimentId: string;

  @ManyToOne(() => TrackingExperimentRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "experiment_id", foreignKeyConstraintName: "tracking_runs_experiment_id_fkey" })
  experiment?: TrackingExperimentRow;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", default: "RUNNING" })
  status: TrackingRunStatus;

  /** Milliseconds since the epoch. */
  @Column({
    name: "start_time",
    type: "bigint",
    transformer: { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) },
  })
  startTime: number;

  @Column({
    name: "end_time",
    type: "bigint",
    nullable: true,
    transformer: { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) },
  })
  endTime: number | null;

  @Column({ name: "lifecycle_stage", type: "text", default: "active" })
  lifecycleStage: LifecycleStage;

  /** MLflow's `user_id`: a free-form user name (the caller's principal name by default). */
  @Column({ name: "user_name", type: "text", default: "" })
  userName: string;

  @Column({ name: "artifact_uri", type: "text", default: "" })
  artifactUri: string;

  @Column({ name: "parent_run_id", type: "uuid", nullable: true })
  parentRunId: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  params: Record<string, string>;

  @Column({ type: "jsonb", default: () => "'{}'" })
  tags: Record<string, string>;

  @Column({ name: "latest_metrics", type: "jsonb", default: () => "'{}'" })
  latestMetrics: Record<string, LatestMetric>;

  /** Files uploaded through MLflow's artifact API: path below the run's artifact root → artifact id. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  artifacts: Record<string, string>;
}
