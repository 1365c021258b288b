import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { ProjectRow } from "../projects";
import { AuditedColumns } from "../db/audited-columns";

/**
 * Where a project's events are sent: a notifier plugin (`kind`) with its config, the project
 * secret it signs with (by name: the value lives encrypted in `secrets`), and the event type
 * patterns it listens to.
 */
@Entity({ name: "notification_channels" })
@Index("notification_channels_project_name_key", ["projectId", "name"], { unique: true })
export class NotificationChannelRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "notification_channels_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  /** The notifier plugin, e.g. `webhook`. */
  @Column({ type: "text" })
  kind: string;

  /** The plugin's config, valid against its JSON Schema (defaults filled in). */
  @Column({ type: "jsonb" })
  config: JsonObject;

  /** The project secret holding the signing secret, by name; null for kinds that need none. */
  @Column({ name: "secret_name", type: "text", nullable: true })
  secretName: string | null;

  /** Event type patterns: `approval.decided`, `approval.*`, `*`. */
  @Column({ name: "event_types", type: "text", array: true })
  eventTypes: string[];

  @Column({ type: "boolean", default: true })
  enabled: boolean;
}
