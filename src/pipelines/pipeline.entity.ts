import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ProjectRow } from "../projects";
import { TimestampColumns } from "../db/audited-columns";

/** A named pipeline in a project; its content lives in immutable versions. */
@Entity({ name: "pipelines" })
@Index("pipelines_project_name_key", ["projectId", "name"], { unique: true })
export class PipelineRow extends TimestampColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "pipelines_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", default: "" })
  description: string;

  /** The version applied last, which runs use unless told otherwise. */
  @Column({ name: "latest_version_id", type: "uuid", nullable: true })
  latestVersionId: string | null;
}
