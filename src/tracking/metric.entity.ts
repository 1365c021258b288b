import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { TrackingRunRow } from "./tracking-run.entity";

const bigintNumber = { to: (v: number) => v, from: (v: string) => Number(v) };

/** One logged value of a metric of a tracking run; the full history, in logging order. */
@Entity({ name: "tracking_metrics" })
@Index("tracking_metrics_run_key_idx", ["runId", "key", "seq"])
export class TrackingMetricRow {
  /** Logging order. */
  @PrimaryGeneratedColumn({ type: "bigint" })
  seq: string;

  @Column({ name: "run_id", type: "uuid" })
  runId: string;

  @ManyToOne(() => TrackingRunRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "run_id", foreignKeyConstraintName: "tracking_metrics_run_id_fkey" })
  run?: TrackingRunRow;

  @Column({ type: "text" })
  key: string;

  /** May be NaN or ±Infinity, as MLflow allows. */
  @Column({ type: "double precision" })
  value: number;

  /** Milliseconds since the epoch. */
  @Column({ type: "bigint", transformer: bigintNumber })
  timestamp: number;

  @Column({ type: "bigint", default: 0, transformer: bigintNumber })
  step: number;
}
