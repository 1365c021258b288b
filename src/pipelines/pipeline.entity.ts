import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from "typeorm";
import { ProjectRow } from "../projects/project.entity";

/** A named pipeline in a project; its content lives in immutable versions. */
@Entity({ name: "pipelines" })
@Index("pipelines_project_name_key", ["projectId", "name"], { unique: true })
export class PipelineRow {
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

  @CreateDateColumn({ name: "created_at", type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
