import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
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
});

export const ApprovalVerdictEnum = { APPROVE: "APPROVE", REJECT: "REJECT" } as const;
registerEnumType(ApprovalVerdictEnum, { name: "ApprovalVerdict" });

@ObjectType({ description: "One automatic check of a policy on a version." })
export class PolicyCheck {
  @Field({ description: "`metric`, `champion`, `fairness` or `validation`." })
  kind: string;

  @Field({ description: "The metric or validation suite." })
  name: string;

  @Field()
  passed: boolean;

  @Field(() => Number, { nullable: true })
  observed: number | null;

  @Field()
  expected: string;

  @Field()
  reason: string;
}

@ObjectType({ description: "One approver's decision; at most one per person and request, never changed." })
export class ApprovalDecision {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  principalId: string;

  @Field(() => ApprovalVerdictEnum)
  verdict: ApprovalVerdict;

  @Field()
  comment: string;

  @Field()
  createdAt: Date;

  static from(row: ApprovalDecisionRow): ApprovalDecision {
    return Object.assign(new ApprovalDecision(), {
      id: row.id,
      principalId: row.principalId,
      verdict: row.verdict,
      comment: row.comment,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({
  description:
    "The governance record of a model version: the policy it was judged by, the automatic checks, and the approvals it needs or got.",
})
export class ApprovalRequest {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  registeredModelId: string;

  @Field(() => ID)
  modelVersionId: string;

  @Field(() => ApprovalRequestStatusEnum)
  status: ApprovalRequestStatus;

  @Field(() => GraphQLJSONObject, { description: "The policy in force at registration (a copy)." })
  policy: Record<string, unknown>;

  @Field({ description: "True when the model had no policy and the default (one approval, separation of duties) applied." })
  policyIsDefault: boolean;

  @Field(() => [PolicyCheck])
  checks: PolicyCheck[];

  @Field(() => Int)
  requiredApprovals: number;

  @Field(() => ID, { nullable: true, description: "Who triggered the training run (or uploaded the file)." })
  requestedBy: string | null;

  @Field(() => Date, { nullable: true })
  expiresAt: Date | null;

  @Field({ description: "Why it ended (failed checks, the deciding comment, the expiry), or what it waits for." })
  reason: string;

  @Field(() => Date, { nullable: true })
  decidedAt: Date | null;

  @Field(() => ID, { nullable: true, description: "The approver whose decision ended it; null when the policy or the clock did." })
  decidedBy: string | null;

  @Field()
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

  @Field(() => ID)
  requestId: string;

  @Field(() => GraphQLJSONObject)
  payload: Record<string, unknown>;

  @Field()
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

export const ApprovalRequestConnection = Connection(ApprovalRequest, "ApprovalRequest");
export type ApprovalRequestConnection = InstanceType<typeof ApprovalRequestConnection>;
export const { Order: ApprovalRequestOrder, sortOf: approvalRequestSort } = OrderBy(
  "ApprovalRequest",
  { CREATED_AT: "createdAt", EXPIRES_AT: "expiresAt" } as const,
  { property: "createdAt", direction: "DESC" },
);
export type ApprovalRequestOrder = InstanceType<typeof ApprovalRequestOrder>;

@InputType()
export class ApprovalRequestFilter {
  @Field(() => ID, { nullable: true })
  projectId?: string | null;

  @Field(() => ApprovalRequestStatusEnum, { nullable: true })
  status?: ApprovalRequestStatus | null;

  @Field(() => ID, { nullable: true })
  registeredModelId?: string | null;
}

@InputType()
export class SetModelPolicyInput {
  @Field(() => ID)
  registeredModelId: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      "`{ metrics: [{ metric, min, max, beatsChampionBy }], fairness: [{ metric, min, max }], requiredValidations: [suite], approvals: { required, separationOfDuties, expiresAfterHours } }`; null removes it (the default policy applies).",
  })
  policy?: Record<string, unknown> | null;
}

@InputType()
export class DecideModelVersionInput {
  @Field(() => ID)
  modelVersionId: string;

  @Field({ description: "Required: why. Kept with the decision and in the audit log." })
  comment: string;
}

@ObjectType()
export class ModelPolicyPayload {
  @Field(() => RegisteredModel)
  registeredModel: RegisteredModel;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The policy as normalized; null: the default applies." })
  policy: Record<string, unknown> | null;
}

@ObjectType()
export class ApprovalDecisionPayload {
  @Field(() => ApprovalRequest)
  approvalRequest: ApprovalRequest;

  @Field(() => ModelVersion)
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
}
registerErrorMember(SeparationOfDutiesError, SeparationOfDutiesProblem, (err) => ({
  approvalRequestId: err.approvalRequestId,
  modelVersionId: err.modelVersionId,
  approver: err.approverName,
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
  @Field(() => GraphQLJSONObject)
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
