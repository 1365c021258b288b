import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ProjectRow } from "../projects";
import type { SchemaPolicy } from "./types";
import { TimestampColumns } from "../db/audited-columns";

/** A dataset: a named series of immutable versions in a project, fed by its sources. */
@Entity({ name: "datasets" })
@Index("datasets_project_name_key", ["projectId", "name"], { unique: true })
export class DatasetRow extends TimestampColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "datasets_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", default: "" })
  description: string;

  /** What a new version's schema may change: ALLOW_ALL, FAIL_ON_BREAKING or FAIL_ON_ANY. */
  @Column({ name: "schema_policy", type: "text", default: "FAIL_ON_BREAKING" })
  schemaPolicy: SchemaPolicy;

  @Column({ name: "latest_version_id", type: "uuid", nullable: true })
  latestVersionId: string | null;
}
