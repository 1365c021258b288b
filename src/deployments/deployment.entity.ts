import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from "typeorm";
import { ProjectRow } from "../projects";
import { RegisteredModelRow } from "../registry";
import {} from "../db/audited-columns";

/** How an endpoint is used: answered online (`/v2/models/{name}/infer`, `predict`), or only named by batch scoring. */
export type DeploymentMode = "REALTIME" | "BATCH";

/** What a change to an endpoint was, as its revision records it. */
export type DeploymentChange = "CREATED" | "UPDATED" | "CANARY_SET" | "SHADOW_SET" | "CANARY_PROMOTED" | "ROLLED_BACK";

/**
 * What an endpoint serves. Shared by the endpoint (its current target) and each revision (the
 * target at that revision), so a rollback copies one onto the other field by field.
 */
export interface DeploymentTarget {
  registeredModelId: string;
  /** A pinned version number; null when the endpoint follows `alias`. */
  version: number | null;
  /** The alias followed (e.g. `champion`); null when a version is pinned. */
  alias: string | null;
  mode: DeploymentMode;
  /** A second APPROVED version answering `canaryPercent` % of requests; null for none. */
  canaryVersion: number | null;
  canaryPercent: number;
  /** An APPROVED version that gets a copy of every request; its answers are logged, never returned. */
  shadowVersion: number | null;
}

/**
 * A named endpoint of a project (KServe's InferenceService, SageMaker's endpoint): a registered
 * model, pinned or following an alias, with an optional canary and shadow. `revision` counts its
 * changes; each is kept in `deployment_revisions`.
 */
@Entity({ name: "deployments" })
@Index("deployments_project_name_key", ["projectId", "name"], { unique: true })
@Index("deployments_registered_model_idx", ["registeredModelId"])
export class DeploymentRow implements DeploymentTarget {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @ManyToOne(() => ProjectRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "project_id", foreignKeyConstraintName: "deployments_project_id_fkey" })
  project?: ProjectRow;

  @Column({ type: "text" })
  name: string;

  @Column({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @ManyToOne(() => RegisteredModelRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "registered_model_id", foreignKeyConstraintName: "deployments_registered_model_id_fkey" })
  registeredModel?: RegisteredModelRow;

  @Column({ type: "integer", nullable: true })
  version: number | null;

  @Column({ type: "text", nullable: true })
  alias: string | null;

  @Column({ type: "text", default: "REALTIME" })
  mode: DeploymentMode;

  @Column({ name: "canary_version", type: "integer", nullable: true })
  canaryVersion: number | null;

  @Column({ name: "canary_percent", type: "integer", default: 0 })
  canaryPercent: number;

  @Column({ name: "shadow_version", type: "integer", nullable: true })
  shadowVersion: number | null;

  /** The number of the latest revision. */
  @Column({ type: "integer", default: 1 })
  revision: number;

  @Column({ name: "created_by", type: "uuid", nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ name: "updated_at", type: "timestamptz", precision: 3 })
  updatedAt: Date;
}

/** One change of an endpoint: its whole target after the change, who made it and what it was. */
@Entity({ name: "deployment_revisions" })
@Index("deployment_revisions_number_key", ["deploymentId", "revision"], { unique: true })
export class DeploymentRevisionRow implements DeploymentTarget {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "deployment_id", type: "uuid" })
  deploymentId: string;

  @ManyToOne(() => DeploymentRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "deployment_id", foreignKeyConstraintName: "deployment_revisions_deployment_id_fkey" })
  deployment?: DeploymentRow;

  @Column({ type: "integer" })
  revision: number;

  @Column({ type: "text" })
  change: DeploymentChange;

  @Column({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @Column({ type: "integer", nullable: true })
  version: number | null;

  @Column({ type: "text", nullable: true })
  alias: string | null;

  @Column({ type: "text" })
  mode: DeploymentMode;

  @Column({ name: "canary_version", type: "integer", nullable: true })
  canaryVersion: number | null;

  @Column({ name: "canary_percent", type: "integer" })
  canaryPercent: number;

  @Column({ name: "shadow_version", type: "integer", nullable: true })
  shadowVersion: number | null;

  @Column({ name: "actor_id", type: "uuid", nullable: true })
  actorId: string | null;

  @CreateDateColumn({ name: "created_at", type: "timestamptz", precision: 3 })
  createdAt: Date;
}
