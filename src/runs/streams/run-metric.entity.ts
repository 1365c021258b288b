import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

/** One metric point of a run (or of one of its stage runs). The id is the stream cursor. */
@Entity({ name: "run_metrics" })
@Index("run_metrics_run_key_idx", ["runId", "key", "step"])
export class RunMetricRow {
  @PrimaryGeneratedColumn("identity", { type: "bigint", generatedIdentity: "ALWAYS" })
  id: string;

  @Column({ name: "run_id", type: "uuid" })
  runId: string;

  @Column({ name: "stage_run_id", type: "uuid", nullable: true })
  stageRunId: string | null;

  @Column({ type: "text" })
  key: string;

  @Column({ type: "double precision" })
  value: number;

  @Column({ type: "bigint", default: 0 })
  step: string;

  @Column({ type: "timestamptz", precision: 3 })
  at: Date;
}
