import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { AuditOutcome } from "../kernel/ledger";
import type { JsonObject } from "../db/json";

export { AuditOutcome };

/**
 * One mutation: who, what, when, a summary of the input and the result. Successful rows are
 * written in the transaction of the change they record, so one never exists without the other.
 * No foreign keys: the log outlives the principals and projects it names.
 */
@Entity({ name: "audit_events" })
@Index("audit_events_at_idx", ["at"])
@Index("audit_events_actor_idx", ["actorId", "at"])
@Index("audit_events_project_idx", ["projectId", "at"])
@Index("audit_events_action_idx", ["action", "at"])
export class AuditEventRow {
  /** Monotonic sequence: the log's order and its pagination cursor. */
  @PrimaryGeneratedColumn("identity", { type: "bigint", generatedIdentity: "ALWAYS" })
  id: string;

  @Column({ type: "timestamptz", precision: 3, default: () => "now()" })
  at: Date;

  @Column({ name: "actor_id", type: "uuid", nullable: true })
  actorId: string | null;

  @Column({ name: "actor_name", type: "text" })
  actorName: string;

  @Column({ name: "project_id", type: "uuid", nullable: true })
  projectId: string | null;

  /** `noun.verb`, e.g. `project.create`. */
  @Column({ type: "text" })
  action: string;

  /** Id of the resource changed, when there is one. */
  @Column({ name: "target_id", type: "text", nullable: true })
  targetId: string | null;

  @Column({ type: "text" })
  outcome: AuditOutcome;

  /** The input with secrets redacted and long values cut. */
  @Column({ type: "jsonb" })
  input: JsonObject;

  /** The result summary: ids on success, the error code and message on failure. */
  @Column({ type: "jsonb" })
  result: JsonObject;

  @Column({ name: "request_id", type: "text", nullable: true })
  requestId: string | null;
}
