import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from "typeorm";
import { ModelVersionRow } from "./model-version.entity";
import { RegisteredModelRow } from "./registered-model.entity";

/** An alias (`champion`, `challenger`, any name) of a registered model, pointing at one version. */
@Entity({ name: "model_aliases" })
export class ModelAliasRow {
  @PrimaryColumn({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @ManyToOne(() => RegisteredModelRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "registered_model_id", foreignKeyConstraintName: "model_aliases_registered_model_id_fkey" })
  registeredModel?: RegisteredModelRow;

  @PrimaryColumn({ type: "text" })
  alias: string;

  @Column({ name: "version_id", type: "uuid" })
  versionId: string;

  @ManyToOne(() => ModelVersionRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "version_id", foreignKeyConstraintName: "model_aliases_version_id_fkey" })
  modelVersion?: ModelVersionRow;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz", precision: 3 })
  updatedAt: Date;
}

/** Every move of an alias, oldest first: where it pointed, where it points, who moved it. */
@Entity({ name: "model_alias_history" })
@Index("model_alias_history_model_idx", ["registeredModelId", "alias", "at"])
export class ModelAliasHistoryRow {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @ManyToOne(() => RegisteredModelRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "registered_model_id", foreignKeyConstraintName: "model_alias_history_registered_model_id_fkey" })
  registeredModel?: RegisteredModelRow;

  @Column({ type: "text" })
  alias: string;

  /** Null when the alias was created. */
  @Column({ name: "from_version_id", type: "uuid", nullable: true })
  fromVersionId: string | null;

  /** Null when the alias was deleted. */
  @Column({ name: "to_version_id", type: "uuid", nullable: true })
  toVersionId: string | null;

  @Column({ name: "actor_id", type: "uuid", nullable: true })
  actorId: string | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  at: Date;

  /**
   * The order of the moves. `at` is the transaction's start, and two moves racing for the model's
   * lock can commit in the other order; the sequence is drawn at insert, after the lock.
   */
  @Column({ type: "bigint", generated: "increment" })
  seq: string;
}
