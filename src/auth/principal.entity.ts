import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { CreatedAtColumns } from "../db/audited-columns";

/** Whether a principal is a person or a machine (CI, a runner, a governance tool). */
export enum PrincipalKind {
  USER = "USER",
  SERVICE = "SERVICE",
}

/**
 * Who acts: a user or a service account. Tokens authenticate as a principal and role bindings
 * grant it roles; the audit log and separation-of-duties checks name principals.
 */
@Entity({ name: "principals" })
export class PrincipalRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Index("principals_name_key", { unique: true })
  @Column({ type: "text" })
  name: string;

  @Column({ type: "text" })
  kind: PrincipalKind;
}
