import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { cursorSubscription, eventScope } from "../events/event-subscription";
import { ModelVersion, RegisteredModel } from "../registry";
import { StageRun } from "../runs";
import type { ApprovalVerdict } from "./approval-request.entity";
import { APPROVAL_EVENT_TYPES } from "./governance.service";
import {
  ApprovalDecision,
  ApprovalDecisionPayload,
  ApprovalDecisionResult,
  ApprovalRequest,
  ApprovalRequestConnection,
  ApprovalRequestEvent,
  ApprovalRequestFilter,
  ApprovalRequestOrder,
  DecideModelVersionInput,
  GateApprovalWait,
  ModelPolicyPayload,
  ModelPolicyResult,
  ModelPolicyView,
  SetModelPolicyInput,
  approvalRequestSort,
} from "./governance.types";
import { resolverOf } from "../kernel/context";
import type { EventBus } from "../events/event-bus";
import type { GovernanceService } from "./governance.service";
import type { RegistryService } from "../registry/registry.service";

/** What GovernanceResolver uses. */
export interface GovernanceResolverDeps {
  events: EventBus;
  governance: GovernanceService;
  registry: RegistryService;
}

@Resolver(() => ApprovalRequest)
export class GovernanceResolver {
  constructor(readonly deps: GovernanceResolverDeps) {}

  @Query(() => ApprovalRequest, { nullable: true, description: "An approval request by id, or the one of a model version." })
  async approvalRequest(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "The request's id; give this or `modelVersionId`." }) id?: string | null,
    @Arg("modelVersionId", () => ID, { nullable: true, description: "A model version, for its request; give this or `id`." })
    modelVersionId?: string | null,
  ): Promise<ApprovalRequest | null> {
    const by = lookupBy({ id, modelVersionId }, { key: ["modelVersionId"] });
    const row = by.key ? await this.deps.governance.requestForVersion(by.key.modelVersionId) : await this.deps.governance.request(by.id);
    const version = by.key && !row ? await this.deps.registry.version(by.key.modelVersionId) : null;
    ctx.authz.require(Permission.READ, row?.projectId ?? version?.projectId);
    return row ? ApprovalRequest.from(row) : null;
  }

  @Query(() => ApprovalRequestConnection, {
    description: "Approval requests the caller may read, newest first: `status: OPEN` is a governance tool's inbox.",
  })
  async approvalRequests(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ApprovalRequestFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ApprovalRequestFilter | null,
    @Arg("orderBy", () => ApprovalRequestOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ApprovalRequestOrder | null,
  ): Promise<ApprovalRequestConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.governance.requests(
      { projectIds, status: filter?.status ?? undefined, registeredModelId: filter?.registeredModelId ?? undefined },
      page,
      approvalRequestSort(orderBy),
    );
    return ApprovalRequestConnection.from(result, ApprovalRequest.from);
  }

  @FieldResolver(() => [ApprovalDecision], { description: "Oldest first." })
  async decisions(@Root() r: ApprovalRequest, @Ctx() ctx: RequestContext): Promise<ApprovalDecision[]> {
    ctx.authz.require(Permission.READ, r.projectId);
    return (await this.deps.governance.decisions(r.id)).map(ApprovalDecision.from);
  }

  @FieldResolver(() => ModelVersion, { description: "The model version under review." })
  async modelVersion(@Root() r: ApprovalRequest, @Ctx() ctx: RequestContext): Promise<ModelVersion> {
    ctx.authz.require(Permission.READ, r.projectId);
    return ModelVersion.from((await this.deps.registry.version(r.modelVersionId))!);
  }

  @FieldResolver(() => RegisteredModel, { description: "The registered model the version belongs to." })
  async registeredModel(@Root() r: ApprovalRequest, @Ctx() ctx: RequestContext): Promise<RegisteredModel> {
    ctx.authz.require(Permission.READ, r.projectId);
    return RegisteredModel.from((await this.deps.registry.model(r.registeredModelId))!);
  }

  @Mutation(() => ModelPolicyResult, {
    description: "Sets the governance policy of a registered model (null: the default, one approval). Needs ADMIN in the project.",
  })
  async setModelPolicy(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetModelPolicyInput,
  ): Promise<typeof ModelPolicyResult> {
    return captureErrors(async () => {
      const model = await this.deps.registry.model(input.registeredModelId);
      // Who may weaken the rules that guard production is an administrator's call, not an editor's.
      return runMutation(
        ctx,
        { action: "model.policy.set", permission: Permission.ADMIN, projectId: model?.projectId, input },
        async (tx) => {
          const row = await this.deps.governance.setPolicy(tx, input.registeredModelId, input.policy ?? null);
          return {
            value: Object.assign(new ModelPolicyPayload(), { registeredModel: RegisteredModel.from(row), policy: row.policy }),
            targetId: row.id,
          };
        },
      );
    });
  }

  @Mutation(() => ApprovalDecisionResult, {
    description:
      "Approves a version awaiting approval, with a comment. Needs APPROVER; whoever triggered the training run may not when the policy separates duties, unless they are the project's sole approver, an ADMIN, and pass `selfApproval: true`. Final.",
  })
  async approveModelVersion(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DecideModelVersionInput,
  ): Promise<typeof ApprovalDecisionResult> {
    return this.decide(ctx, input, "APPROVE");
  }

  @Mutation(() => ApprovalDecisionResult, {
    description: "Rejects a version awaiting approval, with a comment. Needs APPROVER. Final: one rejection rejects the version.",
  })
  async rejectModelVersion(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DecideModelVersionInput,
  ): Promise<typeof ApprovalDecisionResult> {
    return this.decide(ctx, input, "REJECT");
  }

  private decide(ctx: RequestContext, input: DecideModelVersionInput, verdict: ApprovalVerdict): Promise<typeof ApprovalDecisionResult> {
    return captureErrors(async () => {
      const version = await this.deps.registry.version(input.modelVersionId);
      const action = verdict === "APPROVE" ? "model.version.approve" : "model.version.reject";
      return runMutation(ctx, { action, permission: Permission.APPROVE, projectId: version?.projectId, input }, async (tx) => {
        if (!version) throw new NotFoundError("ModelVersion", input.modelVersionId);
        const {
          request,
          version: row,
          selfApproved,
        } = await this.deps.governance.decide(tx, version.id, verdict, input.comment, {
          selfApproval: verdict === "APPROVE" && input.selfApproval === true,
          callerIsAdmin: ctx.authz.can(Permission.ADMIN, version.projectId),
        });
        return {
          value: Object.assign(new ApprovalDecisionPayload(), {
            approvalRequest: ApprovalRequest.from(request),
            modelVersion: ModelVersion.from(row),
          }),
          targetId: row.id,
          result: { requestId: request.id, status: request.status, selfApproved },
        };
      });
    });
  }

  @Subscription(() => ApprovalRequestEvent, {
    description:
      "Approval requests of a project as they open, gain approvals, are decided or expire. Pass `after` (a cursor) to first receive what was missed.",
    subscribe: cursorSubscription<{ projectId: string }, EventRow>(({ projectId }, ctx) =>
      eventScope(resolverOf(ctx, GovernanceResolver).deps.events, projectId, { projectId, types: APPROVAL_EVENT_TYPES }),
    ),
  })
  approvalRequestEvents(
    @Root() row: EventRow,
    @Arg("projectId", () => ID, { description: "The project whose approval requests to follow." }) _projectId: string,
    @Arg("after", () => String, {
      nullable: true,
      description: 'The cursor of the last event received: events after it are replayed first. "0" replays from the beginning.',
    })
    _after?: string | null,
  ): ApprovalRequestEvent {
    return ApprovalRequestEvent.from(row);
  }
}

/** What ModelVersionApprovalResolver uses. */
export interface ModelVersionApprovalResolverDeps {
  governance: GovernanceService;
}

@Resolver(() => ModelVersion)
export class ModelVersionApprovalResolver {
  constructor(readonly deps: ModelVersionApprovalResolverDeps) {}

  @FieldResolver(() => ApprovalRequest, { nullable: true, description: "Its governance record: policy checks, approvals, outcome." })
  async approvalRequest(@Root() v: ModelVersion, @Ctx() ctx: RequestContext): Promise<ApprovalRequest | null> {
    ctx.authz.require(Permission.READ, v.projectId);
    const row = await this.deps.governance.requestForVersion(v.id);
    return row ? ApprovalRequest.from(row) : null;
  }
}

@Resolver(() => RegisteredModel)
export class RegisteredModelPolicyResolver {
  @FieldResolver(() => ModelPolicyView, { description: "The governance policy for new versions." })
  policy(@Root() m: RegisteredModel, @Ctx() ctx: RequestContext): ModelPolicyView {
    ctx.authz.require(Permission.READ, m.projectId);
    return ModelPolicyView.of(m.ownPolicy);
  }
}

/** What StageRunGateResolver uses. */
export interface StageRunGateResolverDeps {
  governance: GovernanceService;
}

@Resolver(() => StageRun)
export class StageRunGateResolver {
  constructor(readonly deps: StageRunGateResolverDeps) {}

  @FieldResolver(() => GateApprovalWait, {
    nullable: true,
    description:
      "For a `gate` stage: the approval it waits (or waited) for: model, version, request, what is still missing. Null for other stages, and for a gate that has not registered its version yet.",
  })
  async approvalWait(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<GateApprovalWait | null> {
    ctx.authz.require(Permission.READ, sr.projectId);
    if (sr.runKind !== "operator") return null; // gates are operator stages; others never wait on a request
    const wait = await this.deps.governance.gateWait(sr.id);
    if (!wait) return null;
    return Object.assign(new GateApprovalWait(), {
      approvalRequestId: wait.request.id,
      status: wait.request.status,
      modelName: wait.modelName,
      version: wait.version,
      modelVersionId: wait.request.modelVersionId,
      requiredApprovals: wait.request.requiredApprovals,
      approvedBy: wait.approvedBy,
      requestedBy: wait.requestedByName,
      otherApprovers: wait.otherApprovers,
      missing: wait.missing,
      onlyRequesterCanApprove: wait.onlyRequesterCanApprove,
      expiresAt: wait.request.expiresAt,
      approvalRequest: ApprovalRequest.from(wait.request),
    });
  }
}
