import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { ProjectRow } from "../projects";
import { AuditedColumns } from "../db/audited-columns";

/** A registered model: a named series of model versions in a project, with aliases pointing into it. */
@Entity({ name: "registered_models" })
@Index("registered_models_project_name_key", ["projectId", "name"], { unique: true })
export class RegisteredModelRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "registered_models_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  @Column({ type: "text", default: "" })
  description: string;

  /** Free-form `key → value` labels. */
  @Column({ type: "jsonb", default: () => "'{}'" })
  tags: Record<string, string>;

  /** The governance `Policy` (src/governance/policy.ts) for its versions; null: the default policy. */
  @Column({ type: "jsonb", nullable: true })
  policy: JsonObject | null;
}
