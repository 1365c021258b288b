import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ProjectRow } from "../projects";
import { TimestampColumns } from "../db/audited-columns";

/** `active`, or `deleted` (restorable; the name stays taken, as in MLflow). */
export type LifecycleStage = "active" | "deleted";

/** An experiment: a named group of tracking runs in a project (MLflow's experiment). */
@Entity({ name: "tracking_experiments" })
@Index("tracking_experiments_project_name_key", ["projectId", "name"], { unique: true })
export class TrackingExperimentRow extends TimestampColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "tracking_experiments_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  /** Where a client would put the runs' artifacts; Sluice stores none there (see docs/tracking.md). */
  @Column({ name: "artifact_location", type: "text" })
  artifactLocation: string;

  @Column({ name: "lifecycle_stage", type: "text", default: "active" })
  lifecycleStage: LifecycleStage;

  @Column({ type: "jsonb", default: () => "'{}'" })
  tags: Record<string, string>;
}
