import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { ConflictProblem, ErrorInterface, MESSAGE, MutationResult, registerErrorMember } from "../kernel/graphql/results";
import { ErrorCode } from "../kernel/errors";
import { AlreadyDecidedError, SeparationOfDutiesError } from "./governance.errors";
import type { EventRow } from "../events/event.entity";
import { ModelVersion, RegisteredModel } from "../registry";
import { DEFAULT_POLICY } from "./governance.service";
import type { ApprovalDecisionRow, ApprovalRequestRow, ApprovalRequestStatus, ApprovalVerdict } from "./approval-request.entity";

export const ApprovalRequestStatusEnum = { OPEN: "OPEN", APPROVED: "APPROVED", REJECTED: "REJECTED", EXPIRED: "EXPIRED" } as const;
registerEnumType(ApprovalRequestStatusEnum, {
  name: "ApprovalRequestStatus",
  description: "OPEN waits for approvers; APPROVED, REJECTED (by the policy's checks or a person) and EXPIRED are final.",
  valuesConfig: {
    OPEN: { description: "The checks passed; the request waits for its required approvals." },
    APPROVED: { description: "Enough approvers approved (or the policy needs none); the version may be promoted." },
    REJECTED: { description: "A policy check failed or an approver rejected it." },
    EXPIRED: { description: "The approvals did not come before `expiresAt`." },
  },
});

export const ApprovalVerdictEnum = { APPROVE: "APPROVE", REJECT: "REJECT" } as const;
registerEnumType(ApprovalVerdictEnum, {
  name: "ApprovalVerdict",
  description: "What an approver decided on a model version.",
  valuesConfig: {
    APPROVE: { description: "Counts towards the required approvals." },
    REJECT: { description: "Rejects the request at once, whatever the other approvals." },
  },
});

@ObjectType({ description: "One automatic check of a policy on a version." })
export class PolicyCheck {
  @Field({ description: "`metric`, `champion`, `fairness` or `validation`." })
  kind: string;

  @Field({ description: "The metric or validation suite." })
  name: string;

  @Field({ description: "Whether the version met the condition; one failed check rejects the request." })
  passed: boolean;

  @Field(() => Number, { nullable: true, description: "The version's value; null when it was not reported, and for validations." })
  observed: number | null;

  @Field({ description: "The condition, readable: `>= 0.8`, `at least 0.01 above the champion's`, `a passing report`." })
  expected: string;

  @Field({ description: "Why the check passed or failed, in words." })
  reason: string;
}

@ObjectType({ description: "One approver's decision; at most one per person and request, never changed." })
export class ApprovalDecision {
  @Field(() => ID, { description: "Server-assigned UUID of the decision." })
  id: string;

  @Field(() => ID, { description: "The approver who decided." })
  principalId: string;

  @Field(() => ApprovalVerdictEnum, { description: "Approve or reject." })
  verdict: ApprovalVerdict;

  @Field({ description: "Why, as the approver wrote it." })
  comment: string;

  @Field({
    description:
      "True for an approval by whoever triggered the training run, given as the project's sole approver and ADMIN with `selfApproval: true`: separation of duties was overridden (the audit log has it too).",
  })
  selfApproval: boolean;

  @Field({ description: "When the decision was recorded." })
  createdAt: Date;

  static from(row: ApprovalDecisionRow): ApprovalDecision {
    return Object.assign(new ApprovalDecision(), {
      id: row.id,
      principalId: row.principalId,
      verdict: row.verdict,
      comment: row.comment,
      selfApproval: row.selfApproval,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({
  description:
    "The governance record of a model version: the policy it was judged by, the automatic checks, and the approvals it needs or got.",
})
export class ApprovalRequest {
  @Field(() => ID, { description: "Server-assigned UUID of the request." })
  id: string;

  @Field(() => ID, { description: "The project of the model." })
  projectId: string;

  @Field(() => ID, { description: "The registered model the version belongs to." })
  registeredModelId: string;

  @Field(() => ID, { description: "The model version under review; each version has at most one request." })
  modelVersionId: string;

  @Field(() => ApprovalRequestStatusEnum, { description: "Where the request stands; only OPEN changes." })
  status: ApprovalRequestStatus;

  @Field(() => GraphQLJSONObject, { description: "The policy in force at registration (a copy)." })
  policy: Record<string, unknown>;

  @Field({ description: "True when the model had no policy and the default (one approval, separation of duties) applied." })
  policyIsDefault: boolean;

  @Field(() => [PolicyCheck], { description: "The policy's automatic checks, evaluated once when the version was registered." })
  checks: PolicyCheck[];

  @Field(() => Int, { description: "APPROVE decisions needed, from the policy; 0 when the checks alone decide." })
  requiredApprovals: number;

  @Field(() => ID, { nullable: true, description: "Who triggered the training run (or uploaded the file)." })
  requestedBy: string | null;

  @Field(() => Date, { nullable: true, description: "When an OPEN request expires; null when the policy sets no expiry or it is decided." })
  expiresAt: Date | null;

  @Field({ description: "Why it ended (failed checks, the deciding comment, the expiry), or what it waits for." })
  reason: string;

  @Field(() => Date, { nullable: true, description: "When the request left OPEN; null while it is OPEN." })
  decidedAt: Date | null;

  @Field(() => ID, { nullable: true, description: "The approver whose decision ended it; null when the policy or the clock did." })
  decidedBy: string | null;

  @Field({ description: "When the version was registered and the request opened." })
  createdAt: Date;

  static from(row: ApprovalRequestRow): ApprovalRequest {
    return Object.assign(new ApprovalRequest(), {
      id: row.id,
      projectId: row.projectId,
      registeredModelId: row.registeredModelId,
      modelVersionId: row.modelVersionId,
      status: row.status,
      policy: row.policy,
      policyIsDefault: row.policyIsDefault,
      checks: row.checks as unknown as PolicyCheck[],
      requiredApprovals: row.requiredApprovals,
      requestedBy: row.requestedBy,
      expiresAt: row.expiresAt,
      reason: row.reason,
      decidedAt: row.decidedAt,
      decidedBy: row.decidedBy,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "A change to an approval request, as streamed by the `approvalRequestEvents` subscription." })
export class ApprovalRequestEvent {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field({ description: "`approval.requested`, `approval.approval_added`, `approval.decided` or `approval.expired`." })
  type: string;

  @Field(() => ID, { description: "The approval request that changed." })
  requestId: string;

  @Field(() => GraphQLJSONObject, { description: "The event's details, e.g. the model version and the new status." })
  payload: Record<string, unknown>;

  @Field({ description: "When the change happened." })
  at: Date;

  static from(row: EventRow): ApprovalRequestEvent {
    return Object.assign(new ApprovalRequestEvent(), {
      cursor: row.id,
      type: row.type,
      requestId: row.subjectId,
      payload: row.payload,
      at: row.createdAt,
    });
  }
}

export const {
  Connection: ApprovalRequestConnection,
  Order: ApprovalRequestOrder,
  sortOf: approvalRequestSort,
  Filter: ApprovalRequestFilter,
} = ListTypes(ApprovalRequest, "ApprovalRequest", {
  orderBy: { CREATED_AT: "createdAt", EXPIRES_AT: "expiresAt" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only requests of this project."),
    status: FilterBy.oneOf(ApprovalRequestStatusEnum, "Only requests in this status, e.g. OPEN for those awaiting approvers."),
    registeredModelId: FilterBy.id("Only requests of this registered model's versions."),
  },
});
export type ApprovalRequestConnection = InstanceType<typeof ApprovalRequestConnection>;
export type ApprovalRequestOrder = InstanceType<typeof ApprovalRequestOrder>;
export type ApprovalRequestFilter = InstanceType<typeof ApprovalRequestFilter>;

@InputType({ description: "Sets or removes the governance policy of a registered model; it applies to versions registered later." })
export class SetModelPolicyInput {
  @Field(() => ID, { description: "The registered model." })
  registeredModelId: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      "`{ metrics: [{ metric, min, max, beatsChampionBy }], fairness: [{ metric, min, max }], requiredValidations: [suite], approvals: { required, separationOfDuties, expiresAfterHours } }`; null removes it (the default policy applies).",
  })
  policy?: Record<string, unknown> | null;
}

@InputType({ description: "An approver's decision on a model version's OPEN approval request." })
export class DecideModelVersionInput {
  @Field(() => ID, { description: "The version to approve or reject." })
  modelVersionId: string;

  @Field({ description: "Required: why. Kept with the decision and in the audit log." })
  comment: string;

  @Field(() => Boolean, {
    nullable: true,
    description:
      "Approve a version you requested yourself, overriding separation of duties. Allowed only to an ADMIN who is the project's sole approver (no other principal holds APPROVER or ADMIN there or globally); recorded in the request's reason, its events and the audit log. Ignored on a rejection and when not needed.",
  })
  selfApproval?: boolean | null;
}

@ObjectType({ description: "What a waiting `gate` stage waits for: its model version's approval request and what that still needs." })
export class GateApprovalWait {
  @Field(() => ID, { description: "The approval request the gate waits on." })
  approvalRequestId: string;

  @Field(() => ApprovalRequestStatusEnum, { description: "The request's status; the gate waits while it is OPEN." })
  status: ApprovalRequestStatus;

  @Field({ description: "The registered model the gate registered its `model` input as." })
  modelName: string;

  @Field(() => Int, { description: "The version number under review (what `sluice approve <model> <version>` takes)." })
  version: number;

  @Field(() => ID, { description: "The model version under review." })
  modelVersionId: string;

  @Field(() => Int, { description: "APPROVE decisions the policy requires in all." })
  requiredApprovals: number;

  @Field(() => [String], { description: "Names of those who approved so far, oldest first." })
  approvedBy: string[];

  @Field(() => String, { nullable: true, description: "The name of who requested it (triggered the run); null when no person did." })
  requestedBy: string | null;

  @Field(() => Int, {
    description:
      "Principals other than the requester who may approve in the project; 0 with separation of duties means only a self-approval by the sole ADMIN can pass it.",
  })
  otherApprovers: number;

  @Field(() => [String], {
    description:
      "What the request still needs, in words, one line each: e.g. `needs 1 more approval by someone other than alice`, how a lone admin can proceed, the expiry. Empty once decided.",
  })
  missing: string[];

  @Field({
    description:
      "True while the request is OPEN, the policy separates duties and nobody but the requester may approve: only the requester's self-approval (`selfApproval: true`, ADMIN only) can pass the gate.",
  })
  onlyRequesterCanApprove: boolean;

  @Field(() => Date, { nullable: true, description: "When the request lapses (and the gate fails); null when never." })
  expiresAt: Date | null;

  @Field(() => ApprovalRequest, { description: "The full approval request: policy, checks, decisions." })
  approvalRequest: ApprovalRequest;
}

@ObjectType({ description: "The registered model with its policy as now set." })
export class ModelPolicyPayload {
  @Field(() => RegisteredModel, { description: "The model whose policy changed." })
  registeredModel: RegisteredModel;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The policy as normalized; null: the default applies." })
  policy: Record<string, unknown> | null;
}

@ObjectType({ description: "The approval request and model version after a decision." })
export class ApprovalDecisionPayload {
  @Field(() => ApprovalRequest, { description: "The request with the decision counted (and its status changed, if it was decisive)." })
  approvalRequest: ApprovalRequest;

  @Field(() => ModelVersion, { description: "The version, whose status follows the request's." })
  modelVersion: ModelVersion;
}

export const ModelPolicyResult = MutationResult("ModelPolicy", ModelPolicyPayload);
@ObjectType("SeparationOfDutiesError", {
  implements: ErrorInterface,
  description:
    "The caller triggered the training run of the version and the model's policy separates duties: another approver must decide. Nothing was recorded.",
})
export class SeparationOfDutiesProblem implements ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: "Always FORBIDDEN." })
  code: ErrorCode;

  @Field(() => ID, { description: "The approval request the decision was for." })
  approvalRequestId: string;

  @Field(() => ID, { description: "The version awaiting approval." })
  modelVersionId: string;

  @Field({ description: "The caller, who triggered the training run." })
  approver: string;

  @Field(() => Int, {
    description:
      "Principals other than the caller holding APPROVER or ADMIN in the project (or globally); 0 means the caller is the sole approver, who as ADMIN may pass `selfApproval: true`.",
  })
  otherApprovers: number;

  @Field(() => String, { nullable: true, description: "Why a requested `selfApproval` was refused; null when none was requested." })
  selfApprovalRefused: string | null;
}
registerErrorMember(SeparationOfDutiesError, SeparationOfDutiesProblem, (err) => ({
  approvalRequestId: err.approvalRequestId,
  modelVersionId: err.modelVersionId,
  approver: err.approverName,
  otherApprovers: err.otherApprovers,
  selfApprovalRefused: err.selfApprovalRefused,
}));

@ObjectType("AlreadyDecidedError", {
  implements: ErrorInterface,
  description:
    "The approval request takes no more decisions: it is already APPROVED, REJECTED or EXPIRED, or the caller already decided on it. Nothing was recorded.",
})
export class AlreadyDecidedProblem extends ConflictProblem {
  @Field(() => ID, { description: "The approval request." })
  approvalRequestId: string;

  @Field(() => ApprovalRequestStatusEnum, {
    description: "The request's status now (EXPIRED once past its expiry, even before the sweep).",
  })
  status: ApprovalRequestStatus;

  @Field(() => Date, {
    nullable: true,
    description: "When it was decided or expired; null when the caller's own earlier decision is the reason.",
  })
  decidedAt: Date | null;

  @Field({ description: "True when the caller already decided on this request (which may still be OPEN for other approvers)." })
  byCaller: boolean;
}
registerErrorMember(AlreadyDecidedError, AlreadyDecidedProblem, (err) => ({
  field: null,
  approvalRequestId: err.approvalRequestId,
  status: err.status as ApprovalRequestStatus,
  decidedAt: err.decidedAt,
  byCaller: err.byCaller,
}));

export const ApprovalDecisionResult = MutationResult("ApprovalDecision", ApprovalDecisionPayload, [
  SeparationOfDutiesProblem,
  AlreadyDecidedProblem,
]);

@ObjectType({ description: "The policy in force for a registered model's new versions." })
export class ModelPolicyView {
  @Field(() => GraphQLJSONObject, { description: "The policy, normalized: its own, or the default (one approval, separation of duties)." })
  policy: Record<string, unknown>;

  @Field({ description: "True when the model has none of its own and the default applies." })
  isDefault: boolean;

  static of(own: Record<string, unknown> | null): ModelPolicyView {
    return Object.assign(new ModelPolicyView(), {
      policy: own ?? (DEFAULT_POLICY as unknown as Record<string, unknown>),
      isDefault: own === null,
    });
  }
}
