import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";

/**
 * A state change, written in the transaction of the change and published after commit.
 * Subscriptions and (later) event triggers read this one stream, so what a client saw live
 * is also there after a reconnect: the id is the cursor.
 */
@Entity({ name: "events" })
@Index("events_project_id_idx", ["projectId", "id"])
@Index("events_type_idx", ["type", "id"])
@Index("events_subject_idx", ["subjectId", "id"])
export class EventRow {
  @PrimaryGeneratedColumn("identity", { type: "bigint", generatedIdentity: "ALWAYS" })
  id: string;

  /** `noun.verb`, e.g. `project.created`, `run.queued`; the same names event triggers match. */
  @Column({ type: "text" })
  type: string;

  @Column({ name: "project_id", type: "uuid", nullable: true })
  projectId: string | null;

  /** The id of the thing that changed (a project, a run…). */
  @Column({ name: "subject_id", type: "text", nullable: true })
  subjectId: string | null;

  @Column({ type: "jsonb" })
  payload: JsonObject;

  @Column({ name: "actor_id", type: "uuid", nullable: true })
  actorId: string | null;

  @Column({ name: "created_at", type: "timestamptz", precision: 3, default: () => "now()" })
  createdAt: Date;
}
