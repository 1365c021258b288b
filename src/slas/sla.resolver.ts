import { Arg, Args, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { type RequestContext, resolverOf } from "../kernel/context";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { captureErrors } from "../kernel/graphql/results";
import { isUuid } from "../kernel/ids";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventBus } from "../events/event-bus";
import type { EventRow } from "../events/event.entity";
import { cursorSubscription, eventScope } from "../events/event-subscription";
import { SLA_STATE_EVENT_TYPES } from "./sla-events";
import type { SlaService } from "./sla.service";
import {
  CreateSlaInput,
  DeleteSlaPayload,
  DeleteSlaResult,
  Sla,
  SlaBreach,
  SlaConnection,
  SlaEvent,
  SlaFilter,
  SlaIdInput,
  SlaOrder,
  SlaPayload,
  SlaResult,
  slaSort,
  SlaState,
  SlaStatus,
  UpdateSlaInput,
} from "./sla.types";

/** Breaches `slaStatus` lists. */
const RECENT_BREACHES = 20;

/** What SlaResolver uses. */
export interface SlaResolverDeps {
  events: EventBus;
  slas: SlaService;
}

@Resolver()
export class SlaResolver {
  constructor(readonly deps: SlaResolverDeps) {}

  @Query(() => SlaConnection, { description: "A project's SLAs, with their state at the last check." })
  async slas(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project whose SLAs to list." }) projectId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => SlaFilter, { nullable: true, description: "Narrows the list; omitted, the list holds every SLA of the project." })
    filter?: SlaFilter | null,
    @Arg("orderBy", () => SlaOrder, { nullable: true, description: "How to sort the list; by name when left out." })
    orderBy?: SlaOrder | null,
  ): Promise<SlaConnection> {
    ctx.authz.require(Permission.READ, projectId);
    return SlaConnection.from(await this.deps.slas.list(projectId, filter ?? {}, page, slaSort(orderBy)), Sla.from);
  }

  @Query(() => SlaStatus, {
    description: "An SLA's current state: the last check, the value it observed, what that was computed from, and the open breach.",
  })
  async slaStatus(@Ctx() ctx: RequestContext, @Arg("slaId", () => ID, { description: "The SLA." }) slaId: string): Promise<SlaStatus> {
    const row = await this.deps.slas.get(slaId);
    ctx.authz.require(Permission.READ, row?.projectId);
    if (!row) throw new NotFoundError("Sla", slaId);
    const open = await this.deps.slas.breach(row.openBreachId);
    const recent = await this.deps.slas.breaches(row.id, RECENT_BREACHES);
    return Object.assign(new SlaStatus(), {
      sla: Sla.from(row),
      state: row.state as SlaState,
      observed: row.observed === null ? null : Number(row.observed),
      objective: Number(row.objective),
      evaluatedAt: row.evaluatedAt,
      stateSince: row.stateSince,
      detail: row.detail,
      openBreach: open ? SlaBreach.from(open) : null,
      recentBreaches: recent.map(SlaBreach.from),
    });
  }

  @Mutation(() => SlaResult, { description: "Creates an SLA (checked from the next round of the leader's SLA loop). Needs EDITOR." })
  createSla(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateSlaInput,
  ): Promise<typeof SlaResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "sla.create", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const row = await this.deps.slas.create(tx, input);
        return { value: Object.assign(new SlaPayload(), { sla: Sla.from(row) }), targetId: row.id };
      }),
    );
  }

  @Mutation(() => SlaResult, {
    description: "Changes an SLA made through the API (ConflictError for one declared in a spec: apply the spec instead). Needs EDITOR.",
  })
  async updateSla(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateSlaInput,
  ): Promise<typeof SlaResult> {
    return captureErrors(async () => {
      const found = await this.deps.slas.get(input.slaId);
      return runMutation(ctx, { action: "sla.update", permission: Permission.WRITE, projectId: found?.projectId, input }, async (tx) => {
        const row = await this.deps.slas.require(input.slaId, tx.manager);
        const saved = await this.deps.slas.update(tx, row, input);
        return { value: Object.assign(new SlaPayload(), { sla: Sla.from(saved) }), targetId: saved.id };
      });
    });
  }

  @Mutation(() => DeleteSlaResult, {
    description:
      "Deletes an SLA made through the API, with its breaches and alerts (ConflictError for one declared in a spec). Needs EDITOR.",
  })
  async deleteSla(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SlaIdInput,
  ): Promise<typeof DeleteSlaResult> {
    return captureErrors(async () => {
      const found = await this.deps.slas.get(input.slaId);
      return runMutation(ctx, { action: "sla.delete", permission: Permission.WRITE, projectId: found?.projectId, input }, async (tx) => {
        const row = await this.deps.slas.require(input.slaId, tx.manager);
        await this.deps.slas.delete(tx, row);
        return { value: Object.assign(new DeleteSlaPayload(), { slaId: row.id }), targetId: row.id };
      });
    });
  }

  @Subscription(() => SlaEvent, {
    name: "slaEvents",
    description:
      "Breaches and recoveries of a project's SLAs (or one SLA's) as they happen. Pass `after` (a cursor) to first receive what was missed.",
    subscribe: cursorSubscription<{ projectId: string; slaId?: string | null }, EventRow>(({ projectId, slaId }, ctx) => {
      if (slaId != null && !isUuid(slaId)) throw new InvalidInputError([{ field: "slaId", message: "is not an id" }]);
      return eventScope(resolverOf(ctx, SlaResolver).deps.events, projectId, {
        projectId,
        types: SLA_STATE_EVENT_TYPES,
        ...(slaId ? { subjectId: slaId } : {}),
      });
    }),
  })
  slaEvents(
    @Root() row: EventRow,
    @Arg("projectId", () => ID, { description: "The project whose SLAs to follow." }) _projectId: string,
    @Arg("slaId", () => ID, { nullable: true, description: "Only this SLA's breaches and recoveries." }) _slaId?: string | null,
    @Arg("after", () => String, {
      nullable: true,
      description: 'The cursor of the last event received: events after it are replayed first. "0" replays from the beginning.',
    })
    _after?: string | null,
  ): SlaEvent {
    return SlaEvent.from(row);
  }
}
