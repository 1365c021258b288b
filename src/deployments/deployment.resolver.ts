import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { type MutationTx, runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { cursorSubscription, eventScope } from "../events/event-subscription";
import { RegisteredModel } from "../registry";
import type { DeploymentRow } from "./deployment.entity";
import { DEPLOYMENT_EVENT_TYPES } from "./deployment.service";
import {
  DeployModelInput,
  Deployment,
  DeploymentConnection,
  DeploymentEvent,
  DeploymentFilter,
  DeploymentOrder,
  DeploymentPayload,
  DeploymentRefInput,
  DeploymentResult,
  DeploymentRevisionConnection,
  DeploymentRevision,
  DeploymentStatus,
  RollbackDeploymentInput,
  SetCanaryInput,
  SetShadowInput,
  deploymentSort,
} from "./deployment.types";
import { resolverOf } from "../kernel/context";
import type { DeploymentService } from "./deployment.service";
import type { EventBus } from "../events/event-bus";
import type { RegistryService } from "../registry/registry.service";
import type { ServingService } from "../serving/serving.service";

const summary = (row: DeploymentRow) => ({
  id: row.id,
  name: row.name,
  revision: row.revision,
  version: row.version,
  alias: row.alias,
  canaryVersion: row.canaryVersion,
  canaryPercent: row.canaryPercent,
  shadowVersion: row.shadowVersion,
});

/**
 * Endpoint changes need WRITE in the project (EDITOR or ADMIN), like every other change of a
 * project's resources: what may serve is already decided by approval (APPROVER), and only
 * APPROVED versions are accepted here.
 */
/** What DeploymentResolver uses. */
export interface DeploymentResolverDeps {
  deployments: DeploymentService;
  events: EventBus;
  registry: RegistryService;
  serving: ServingService;
}

@Resolver(() => Deployment)
export class DeploymentResolver {
  constructor(readonly deps: DeploymentResolverDeps) {}

  @Query(() => Deployment, { nullable: true, description: "An endpoint by id, or by project and name; null when there is none." })
  async deployment(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "The endpoint's id; or give `projectId` and `name`." }) id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "The endpoint's project, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The endpoint's name, unique in its project." }) name?: string | null,
  ): Promise<Deployment | null> {
    const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key ? await this.deps.deployments.byName(by.key.projectId, by.key.name) : await this.deps.deployments.get(by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
    return row ? Deployment.from(row) : null;
  }

  @Query(() => DeploymentConnection, { description: "Endpoints the caller may read, by name; filter by project or model." })
  async deployments(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => DeploymentFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: DeploymentFilter | null,
    @Arg("orderBy", () => DeploymentOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: DeploymentOrder | null,
  ): Promise<DeploymentConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.deployments.list(
      { projectIds, nameContains: filter?.nameContains ?? undefined, registeredModelId: filter?.registeredModelId ?? undefined },
      page,
      deploymentSort(orderBy),
    );
    return DeploymentConnection.from(result, Deployment.from);
  }

  @FieldResolver(() => DeploymentRevisionConnection, {
    description: "Its revisions, newest first: each change with the whole target after it.",
  })
  async revisions(@Root() d: Deployment, @Ctx() ctx: RequestContext, @Args() page: PageArgsInput): Promise<DeploymentRevisionConnection> {
    ctx.authz.require(Permission.READ, d.projectId);
    return DeploymentRevisionConnection.from(await this.deps.deployments.revisions(d.id, page), DeploymentRevision.from);
  }

  @FieldResolver(() => RegisteredModel, { nullable: true, description: "The registered model it serves." })
  async registeredModel(@Root() d: Deployment, @Ctx() ctx: RequestContext): Promise<RegisteredModel | null> {
    ctx.authz.require(Permission.READ, d.projectId);
    const row = await this.deps.registry.model(d.registeredModelId);
    return row ? RegisteredModel.from(row) : null;
  }

  @FieldResolver(() => DeploymentStatus, { description: "Whether the endpoint has an APPROVED version to answer with now." })
  async status(@Root() d: Deployment, @Ctx() ctx: RequestContext): Promise<DeploymentStatus> {
    if (d.mode === "BATCH") return DeploymentStatus.BATCH;
    return (await this.served(d, ctx)).primary ? DeploymentStatus.SERVING : DeploymentStatus.NOTHING_TO_SERVE;
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description:
      "The version the endpoint answers with now (besides the canary's share): the pinned one, or the alias's — or, when the alias " +
      "points at a version that is not APPROVED, the last APPROVED one it pointed at. Null when nothing is APPROVED.",
  })
  async servingVersion(@Root() d: Deployment, @Ctx() ctx: RequestContext): Promise<number | null> {
    return (await this.served(d, ctx)).primary?.version ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: "Why nothing serves, when `status` is NOTHING_TO_SERVE." })
  async statusReason(@Root() d: Deployment, @Ctx() ctx: RequestContext): Promise<string | null> {
    return (await this.served(d, ctx)).reason ?? null;
  }

  private async served(d: Deployment, ctx: RequestContext) {
    ctx.authz.require(Permission.READ, d.projectId);
    const model = await this.deps.registry.model(d.registeredModelId);
    return this.deps.deployments.servedVersions(
      { ...d, canaryVersion: d.canary?.version ?? null, canaryPercent: d.canary?.percent ?? 0 },
      model?.name ?? "",
    );
  }

  @Mutation(() => DeploymentResult, {
    description:
      "Creates the endpoint `name` serving a registered model's pinned APPROVED version or following an alias, or changes its target. " +
      "A version that is not APPROVED is refused (InvalidInputError naming it and its status). Needs EDITOR in the project.",
  })
  async deployModel(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DeployModelInput,
  ): Promise<typeof DeploymentResult> {
    return this.change(ctx, "deployment.deploy", input, (tx) => this.deps.deployments.deploy(tx, input).then((r) => r.row));
  }

  @Mutation(() => DeploymentResult, {
    description:
      "Sends `percent` % of an endpoint's requests to an APPROVED canary version; a null version removes the canary. Needs EDITOR.",
  })
  async setCanary(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetCanaryInput,
  ): Promise<typeof DeploymentResult> {
    return this.change(ctx, "deployment.set_canary", input, (tx) =>
      this.deps.deployments.setCanary(tx, input.projectId, input.name, input.version ?? null, input.percent ?? null),
    );
  }

  @Mutation(() => DeploymentResult, {
    description:
      "Mirrors every request of an endpoint to an APPROVED shadow version (answers logged, never returned); null removes it. Needs EDITOR.",
  })
  async setShadow(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetShadowInput,
  ): Promise<typeof DeploymentResult> {
    return this.change(ctx, "deployment.set_shadow", input, (tx) =>
      this.deps.deployments.setShadow(tx, input.projectId, input.name, input.version ?? null),
    );
  }

  @Mutation(() => DeploymentResult, {
    description: "The canary version becomes the endpoint's pinned version; the canary is removed. Needs EDITOR.",
  })
  async promoteCanary(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DeploymentRefInput,
  ): Promise<typeof DeploymentResult> {
    return this.change(ctx, "deployment.promote_canary", input, (tx) =>
      this.deps.deployments.promoteCanary(tx, input.projectId, input.name),
    );
  }

  @Mutation(() => DeploymentResult, {
    description:
      "Returns an endpoint to an earlier revision's target (by default the one before the latest), as a new revision. Needs EDITOR.",
  })
  async rollbackDeployment(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RollbackDeploymentInput,
  ): Promise<typeof DeploymentResult> {
    return this.change(ctx, "deployment.rollback", input, async (tx) => {
      const r = await this.deps.deployments.rollback(tx, input.projectId, input.name, input.toRevision ?? null);
      return r.row;
    });
  }

  @Mutation(() => DeploymentResult, {
    description: "Deletes an endpoint and its revisions; its name then serves the registered model of that name, if any. Needs EDITOR.",
  })
  async deleteDeployment(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DeploymentRefInput,
  ): Promise<typeof DeploymentResult> {
    return this.change(ctx, "deployment.delete", input, (tx) => this.deps.deployments.delete(tx, input.projectId, input.name));
  }

  /** One audited change of the endpoint `input.name`; once committed, this process serves it before the caller hears back. */
  private change(
    ctx: RequestContext,
    action: string,
    input: DeploymentRefInput,
    work: (tx: MutationTx) => Promise<DeploymentRow>,
  ): Promise<typeof DeploymentResult> {
    return captureErrors(() =>
      runMutation(ctx, { action, permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const row = await work(tx);
        tx.afterCommit(() => this.deps.serving.registry.changed?.(input.projectId, input.name));
        return { value: DeploymentPayload.of(row), targetId: row.id, result: summary(row) };
      }),
    );
  }

  @Subscription(() => DeploymentEvent, {
    name: "deploymentEvents",
    description: "Changes of a project's endpoints as they happen. Pass `after` (a cursor) to first receive what was missed.",
    subscribe: cursorSubscription<{ projectId: string }, EventRow>(({ projectId }, ctx) =>
      eventScope(resolverOf(ctx, DeploymentResolver).deps.events, projectId, { projectId, types: DEPLOYMENT_EVENT_TYPES }),
    ),
  })
  deploymentEvents(
    @Root() row: EventRow,
    @Arg("projectId", () => ID, { description: "The project whose endpoints to follow." }) _projectId: string,
    @Arg("after", () => String, {
      nullable: true,
      description: 'The cursor of the last event received: events after it are replayed first. "0" replays from the beginning.',
    })
    _after?: string | null,
  ): DeploymentEvent {
    return DeploymentEvent.from(row);
  }
}
