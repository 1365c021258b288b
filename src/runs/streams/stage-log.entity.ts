import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

/**
 * A chunk of a stage run's output (many lines, bounded in size), the unit logs are stored,
 * streamed and expired in. The id is the `stageLogs` subscription cursor.
 */
@Entity({ name: "stage_logs" })
@Index("stage_logs_stage_run_idx", ["stageRunId", "id"])
@Index("stage_logs_created_idx", ["createdAt"])
export class StageLogRow {
  @PrimaryGeneratedColumn("identity", { type: "bigint", generatedIdentity: "ALWAYS" })
  id: string;

  @Column({ name: "run_id", type: "uuid" })
  runId: string;

  @Column({ name: "stage_run_id", type: "uuid" })
  stageRunId: string;

  @Column({ type: "integer" })
  attempt: number;

  /** `stdout` or `stderr`. */
  @Column({ type: "text" })
  stream: string;

  @Column({ type: "text" })
  text: string;

  @Column({ name: "created_at", type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
