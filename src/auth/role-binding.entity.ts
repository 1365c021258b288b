import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ProjectRow } from "../projects";
import { PrincipalRow } from "./principal.entity";
import type { Role } from "../kernel/roles";
import { CreatedAtColumns } from "../db/audited-columns";

/** Grants one role to a principal, everywhere (`projectId` null) or in one project. */
@Entity({ name: "role_bindings" })
@Index("role_bindings_unique", ["principalId", "role", "scopeKey"], { unique: true })
export class RoleBindingRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Index("role_bindings_principal_id_idx")
  @Column({ name: "principal_id", type: "uuid" })
  principalId: string;

  @ManyToOne(() => PrincipalRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "principal_id", foreignKeyConstraintName: "role_bindings_principal_id_fkey" })
  principal?: PrincipalRow;

  @Column({ type: "text" })
  role: Role;

  @Index("role_bindings_project_id_idx")
  @Column({ name: "project_id", type: "uuid", nullable: true })
  projectId: string | null;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "role_bindings_project_id_fkey" })
  project?: ProjectRow;

  /**
   * `projectId`, or `*` for a global binding. NULLs never collide in a unique index, so the
   * uniqueness of (principal, role, scope) needs a non-null scope column.
   */
  @Column({ name: "scope_key", type: "text" })
  scopeKey: string;
}
