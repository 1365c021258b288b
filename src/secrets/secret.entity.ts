import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { ProjectRow } from "../projects";
import { AuditedColumns } from "../db/audited-columns";

/**
 * A project secret: a named value (a database URL, an API key) that sources and stages use
 * without anyone reading it back. Only the ciphertext is stored (AES-256-GCM, `cipher.ts`);
 * `ciphertext` is left out of every query unless asked for by name, so listing never loads it.
 */
@Entity({ name: "secrets" })
@Index("secrets_project_name_key", ["projectId", "name"], { unique: true })
export class SecretRow extends AuditedColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "secrets_project_id_fkey" })
  project?: ProjectRow;

  /** Like an environment variable: `^[A-Z][A-Z0-9_]{0,62}$`. */
  @Column({ type: "text" })
  name: string;

  /** Version byte, IV, tag and encrypted value (see `cipher.ts`); never selected by default. */
  @Column({ type: "bytea", select: false })
  ciphertext: Buffer;

  /** Which key encrypted it (a fingerprint of the key, not the key): tells a wrong key from a corrupt value. */
  @Column({ name: "key_id", type: "text" })
  keyId: string;
}
