import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";

/**
 * One fire of a schedule or event rule and what it started. `dedupeKey` is unique: with
 * several servers, a tick or an event fires a rule at most once.
 */
@Entity({ name: "trigger_fires" })
@Index("trigger_fires_dedupe_key", ["dedupeKey"], { unique: true })
@Index("trigger_fires_source_idx", ["sourceId", "firedAt"])
export class TriggerFireRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** `SCHEDULE` or `EVENT`. */
  @Column({ type: "text" })
  kind: string;

  /** The schedule or event rule. */
  @Column({ name: "source_id", type: "uuid" })
  sourceId: string;

  @Column({ name: "dedupe_key", type: "text" })
  dedupeKey: string;

  @Column({ name: "fired_at", type: "timestamptz", precision: 3, default: () => "now()" })
  firedAt: Date;

  /** For schedules: the tick this fire stands for. */
  @Column({ name: "scheduled_for", type: "timestamptz", precision: 3, nullable: true })
  scheduledFor: Date | null;

  /** For event rules: the event that matched. */
  @Column({ name: "event_id", type: "bigint", nullable: true })
  eventId: string | null;

  @Column({ name: "run_id", type: "uuid", nullable: true })
  runId: string | null;

  /** `STARTED`, or `FAILED` with the reason in `detail`. */
  @Column({ type: "text" })
  outcome: string;

  @Column({ type: "jsonb", default: () => "'{}'" })
  detail: JsonObject;
}
