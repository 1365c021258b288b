import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import type { JsonObject } from "../db/json";
import { ModelVersionRow, RegisteredModelRow } from "../registry";
import { StageRunRow } from "../runs";
import { CreatedAtColumns } from "../db/audited-columns";

/**
 * OPEN waits for people; the others are final. APPROVED and REJECTED come from the policy's
 * automatic checks or from approvers; EXPIRED from the clock.
 */
export type ApprovalRequestStatus = "OPEN" | "APPROVED" | "REJECTED" | "EXPIRED";

/**
 * The governance record of one model version: the policy it was judged by (a copy, so a later
 * policy change does not rewrite history), the automatic checks and their outcome, and — when
 * people must decide — the approvals needed, who gave them, and when the request lapses.
 */
@Entity({ name: "approval_requests" })
@Index("approval_requests_project_status_idx", ["projectId", "status"])
export class ApprovalRequestRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "project_id", type: "uuid" })
  projectId: string;

  @Column({ name: "registered_model_id", type: "uuid" })
  registeredModelId: string;

  @ManyToOne(() => RegisteredModelRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "registered_model_id", foreignKeyConstraintName: "approval_requests_registered_model_id_fkey" })
  registeredModel?: RegisteredModelRow;

  /** One request per version: registration opens it, and a decision on it is final. */
  @Index("approval_requests_model_version_key", { unique: true })
  @Column({ name: "model_version_id", type: "uuid" })
  modelVersionId: string;

  @ManyToOne(() => ModelVersionRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "model_version_id", foreignKeyConstraintName: "approval_requests_model_version_id_fkey" })
  modelVersion?: ModelVersionRow;

  @Column({ type: "text" })
  status: ApprovalRequestStatus;

  /** The `Policy` in force at registration; `defaultPolicy` when the model had none. */
  @Column({ type: "jsonb" })
  policy: JsonObject;

  /** Whether the registered model had its own policy (false: the default applied). */
  @Column({ name: "policy_is_default", type: "boolean" })
  policyIsDefault: boolean;

  /** `PolicyCheck[]`: every automatic check with observed value, expectation and reason. */
  @Column({ type: "jsonb" })
  checks: JsonObject[];

  @Column({ name: "required_approvals", type: "integer" })
  requiredApprovals: number;

  /** Whoever triggered the training run (separation of duties); null for a schedule. */
  @Column({ name: "requested_by", type: "uuid", nullable: true })
  requestedBy: string | null;

  @Column({ name: "expires_at", type: "timestamptz", precision: 3, nullable: true })
  expiresAt: Date | null;

  /** Why the request ended: the failed checks, the rejecting comment, the expiry. */
  @Column({ type: "text", default: "" })
  reason: string;

  @Column({ name: "decided_at", type: "timestamptz", precision: 3, nullable: true })
  decidedAt: Date | null;

  /** The approver whose decision ended it; null when the policy or the clock did. */
  @Column({ name: "decided_by", type: "uuid", nullable: true })
  decidedBy: string | null;
}

export type ApprovalVerdict = "APPROVE" | "REJECT";

/** One approver's decision on a request: at most one per person, never changed. */
@Entity({ name: "approval_decisions" })
@Index("approval_decisions_request_principal_key", ["requestId", "principalId"], { unique: true })
export class ApprovalDecisionRow extends CreatedAtColumns {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ name: "request_id", type: "uuid" })
  requestId: string;

  @ManyToOne(() => ApprovalRequestRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "request_id", foreignKeyConstraintName: "approval_decisions_request_id_fkey" })
  request?: ApprovalRequestRow;

  @Column({ name: "principal_id", type: "uuid" })
  principalId: string;

  @Column({ type: "text" })
  verdict: ApprovalVerdict;

  @Column({ type: "text" })
  comment: string;

  /**
   * An approval by whoever trained the version, as the project's sole approver and ADMIN, with
   * separation of duties overridden on request (`selfApproval: true`): kept with the decision, not
   * only in the audit log.
   */
  @Column({ name: "self_approval", type: "boolean", default: false })
  selfApproval: boolean;
}

/** A pipeline `gate` stage run waiting on (or settled by) an approval request. */
@Entity({ name: "gate_waits" })
export class GateWaitRow extends CreatedAtColumns {
  @PrimaryColumn({ name: "stage_run_id", type: "uuid" })
  stageRunId: string;

  @ManyToOne(() => StageRunRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "stage_run_id", foreignKeyConstraintName: "gate_waits_stage_run_id_fkey" })
  stageRun?: StageRunRow;

  @Index("gate_waits_request_idx")
  @Column({ name: "request_id", type: "uuid" })
  requestId: string;

  @ManyToOne(() => ApprovalRequestRow, { onDelete: "CASCADE" })
  @JoinColumn({ name: "request_id", foreignKeyConstraintName: "gate_waits_request_id_fkey" })
  request?: ApprovalRequestRow;
}
