import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { Pipeline } from "../pipelines/pipeline.types";
import { ProjectEvent } from "../projects/project.types";
import type { EventRuleRow } from "./event-rule.entity";
import { listFires } from "./fire-history";
import { isRowId } from "./target";
import {
  CreateEventRuleInput,
  EmitEventInput,
  EmitEventPayload,
  EmitEventResult,
  EventRule,
  EventRuleConnection,
  EventRuleFilter,
  EventRuleIdInput,
  EventRuleOrder,
  EventRulePayload,
  EventRuleResult,
  TriggerFire,
  TriggerFireConnection,
  UpdateEventRuleInput,
  eventRuleSort,
} from "./trigger.types";

const summary = (row: EventRuleRow) => ({ id: row.id, pipelineId: row.pipelineId, name: row.name, eventType: row.eventType });

/**
 * A rule whose filter names another project's `projectId` hears that project's events, so its
 * author must be able to read there.
 */
function requireFilterProject(ctx: RequestContext, ruleProjectId: string, filter: Record<string, unknown> | null | undefined): void {
  const other = filter?.projectId;
  if (typeof other === "string" && other !== ruleProjectId) ctx.authz.require(Permission.READ, other);
}

/**
 * Appends a custom event to a project's stream (EDITOR there), audited like any mutation. Used by
 * `emitEvent` and by the `POST /hooks/events` webhook.
 */
export async function emitCustomEvent(
  ctx: RequestContext,
  input: { projectId: string; type: string; payload?: Record<string, unknown> | null },
): Promise<EventRow> {
  return runMutation(ctx, { action: "event.emit", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
    const row = await ctx.services.eventRules.emitCustom(tx, input);
    return { value: row, targetId: row.id, result: { eventId: row.id, type: row.type } };
  });
}

@Resolver(() => EventRule)
export class EventRuleResolver {
  @Query(() => EventRule, { nullable: true, description: "One event rule; null when there is none." })
  async eventRule(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "UUID of the event rule." }) id: string,
  ): Promise<EventRule | null> {
    const row = await ctx.services.eventRules.get(id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? EventRule.from(row) : null;
  }

  @Query(() => EventRuleConnection, { description: "Event rules the caller may read, newest first by default." })
  async eventRules(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => EventRuleFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: EventRuleFilter | null,
    @Arg("orderBy", () => EventRuleOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: EventRuleOrder | null,
  ): Promise<EventRuleConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await ctx.services.eventRules.list(
      {
        projectIds,
        pipelineId: filter?.pipelineId ?? undefined,
        eventType: filter?.eventType ?? undefined,
        enabled: filter?.enabled ?? undefined,
      },
      page,
      eventRuleSort(orderBy),
    );
    return EventRuleConnection.from(result, EventRule.from);
  }

  @FieldResolver(() => Pipeline, { description: "The pipeline the rule runs." })
  async pipeline(@Root() rule: EventRule, @Ctx() ctx: RequestContext): Promise<Pipeline> {
    ctx.authz.require(Permission.READ, rule.projectId);
    const row = await ctx.services.pipelines.get(rule.pipelineId);
    if (!row) throw new NotFoundError("Pipeline", rule.pipelineId);
    return Pipeline.from(row);
  }

  @FieldResolver(() => TriggerFireConnection, { description: "Its fires, newest first." })
  async fires(@Root() rule: EventRule, @Ctx() ctx: RequestContext, @Args() page: PageArgsInput): Promise<TriggerFireConnection> {
    ctx.authz.require(Permission.READ, rule.projectId);
    return TriggerFireConnection.from(await listFires(ctx.services.db, rule.id, page), (r) => TriggerFire.from(r, rule.projectId));
  }

  @Mutation(() => EventRuleResult, {
    description:
      "Creates a rule that starts runs of a pipeline's latest version on matching events. Needs EDITOR in the pipeline's project.",
  })
  async createEventRule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateEventRuleInput,
  ): Promise<typeof EventRuleResult> {
    return captureErrors(async () => {
      const pipeline = isRowId(input.pipelineId) ? await ctx.services.pipelines.get(input.pipelineId) : null;
      return runMutation(
        ctx,
        { action: "event_rule.create", permission: Permission.WRITE, projectId: pipeline?.projectId, input },
        async (tx) => {
          if (!pipeline) throw new NotFoundError("Pipeline", input.pipelineId);
          requireFilterProject(ctx, pipeline.projectId, input.filter);
          const row = await ctx.services.eventRules.create(tx, pipeline, input);
          return { value: EventRulePayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }

  @Mutation(() => EventRuleResult, { description: "Changes an event rule. Needs EDITOR." })
  async updateEventRule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateEventRuleInput,
  ): Promise<typeof EventRuleResult> {
    return captureErrors(async () => {
      const existing = await ctx.services.eventRules.get(input.id);
      return runMutation(
        ctx,
        { action: "event_rule.update", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          if (existing) requireFilterProject(ctx, existing.projectId, input.filter);
          const row = await ctx.services.eventRules.update(tx, input.id, input);
          return { value: EventRulePayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }

  @Mutation(() => EventRuleResult, { description: "Deletes an event rule (its fires stay on record). Needs EDITOR." })
  async deleteEventRule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: EventRuleIdInput,
  ): Promise<typeof EventRuleResult> {
    return captureErrors(async () => {
      const existing = await ctx.services.eventRules.get(input.id);
      return runMutation(
        ctx,
        { action: "event_rule.delete", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          const row = await ctx.services.eventRules.delete(tx, input.id);
          return { value: EventRulePayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }

  @Mutation(() => EmitEventResult, {
    description: "Appends a custom event to a project's stream, where event rules and subscribers see it. Needs EDITOR in the project.",
  })
  async emitEvent(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: EmitEventInput,
  ): Promise<typeof EmitEventResult> {
    return captureErrors(async () => {
      const row = await emitCustomEvent(ctx, input);
      return Object.assign(new EmitEventPayload(), { event: ProjectEvent.from(row) });
    });
  }
}
