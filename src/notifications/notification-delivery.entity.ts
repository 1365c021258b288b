import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { NotificationChannelRow } from "./notification-channel.entity";
import { CreatedAtColumns } from "../db/audited-columns";

/**
 * PENDING: waiting to be sent (at `dueAt`). SUCCEEDED: the receiver accepted it. RETRYING: failed,
 * and the next attempt is queued. FAILED: failed for good (not retryable, or out of attempts).
 * CANCELLED: not sent, because the channel was disabled or lost its secret before its turn.
 */
export type DeliveryStatus = "PENDING" | "SUCCEEDED" | "RETRYING" | "FAILED" | "CANCELLED";

/**
 * One attempt to deliver one event to one channel: the delivery log and, while PENDING, the
 * queue. A retry is a new row (`attempt` + 1), so the log keeps every attempt. The dispatcher
 * claims due rows with `FOR UPDATE SKIP LOCKED` and a lease (`claimedUntil`), so several server
 * processes share the work and a row whose sender died is taken again after the lease.
 */
@Entity({ name: "notification_deliveries" })
@Index("notification_deliveries_attempt_key", ["channelId", "eventId", "attempt"], { unique: true })
@Index("notification_deliveries_channel_idx", ["channelId", "createdAt"])
@Index("notification_deliveries_due_idx", ["status", "dueAt"])
export class NotificationDeliveryRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "channel_id", type: "uuid" })
  channelId: string;

  @ManyToOne(() => NotificationChannelRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "channel_id", foreignKeyConstraintName: "notification_deliveries_channel_id_fkey" })
  channel?: NotificationChannelRow;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  /** The event delivered (its stream id). */
  @Column({ name: "event_id", type: "bigint" })
  eventId: string;

  @Column({ name: "event_type", type: "text" })
  eventType: string;

  /** 1 for the first attempt. */
  @Column({ type: "integer" })
  attempt: number;

  @Column({ type: "text" })
  status: DeliveryStatus;

  /** When this attempt may be sent. */
  @Column({ name: "due_at", type: "timestamptz", precision: 3 })
  dueAt: Date;

  /** A sender holds the row until then; past it, another may take it. */
  @Column({ name: "claimed_until", type: "timestamptz", precision: 3, nullable: true })
  claimedUntil: Date | null;

  @Column({ name: "http_status", type: "integer", nullable: true })
  httpStatus: number | null;

  @Column({ type: "text", nullable: true })
  error: string | null;

  /**
   * The start of a failed attempt's answer. Shown to project admins only, never logged: the
   * receiver may be an internal service.
   */
  @Column({ name: "response_excerpt", type: "text", nullable: true })
  responseExcerpt: string | null;

  @Column({ name: "duration_ms", type: "integer", nullable: true })
  durationMs: number | null;

  @Column({ name: "finished_at", type: "timestamptz", precision: 3, nullable: true })
  finishedAt: Date | null;
}
