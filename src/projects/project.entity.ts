import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { TimestampColumns } from "../db/audited-columns";

/**
 * A project is the namespace every later resource lives in (datasets, pipelines, models…).
 * Archived projects stay readable; their `archivedAt` is set and they refuse writes.
 */
@Entity({ name: "projects" })
export class ProjectRow extends TimestampColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Unique slug, used in URLs and CLI arguments. */
  @Index("projects_name_key", { unique: true })
  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", default: "" })
  description: string;

  @Column({ name: "archived_at", type: "timestamptz", precision: 3, nullable: true })
  archivedAt: Date | null;
}
