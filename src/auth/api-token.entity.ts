import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from "typeorm";
import { PrincipalRow } from "./principal.entity";
import { CreatedByColumns } from "../db/audited-columns";

/**
 * An API token. The secret is shown once at creation; only its SHA-256 is stored, which is
 * enough for a 256-bit random secret (there is nothing to brute-force) and lets a request be
 * authenticated with one indexed lookup.
 */
@Entity({ name: "api_tokens" })
export class ApiTokenRow extends CreatedByColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Index("api_tokens_principal_id_idx")
  @Column({ name: "principal_id", type: "uuid" })
  principalId: string;

  @ManyToOne(() => PrincipalRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "principal_id", foreignKeyConstraintName: "api_tokens_principal_id_fkey" })
  principal?: PrincipalRow;

  @Column({ type: "text" })
  name: string;

  /** The first characters of the secret, so a person can tell tokens apart. */
  @Column({ type: "text" })
  prefix: string;

  @Index("api_tokens_token_hash_key", { unique: true })
  @Column({ name: "token_hash", type: "text" })
  tokenHash: string;

  @Column({ name: "expires_at", type: "timestamptz", precision: 3, nullable: true })
  expiresAt: Date | null;

  @Column({ name: "revoked_at", type: "timestamptz", precision: 3, nullable: true })
  revokedAt: Date | null;

  @Column({ name: "last_used_at", type: "timestamptz", precision: 3, nullable: true })
  lastUsedAt: Date | null;
}
