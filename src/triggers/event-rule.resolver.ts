import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { Pipeline } from "../pipelines";
import { ProjectEvent } from "../projects";
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
import type { Database } from "../db/data-source";
import type { EventRuleService } from "./event-rule.service";
import type { PipelineService } from "../pipelines/pipeline.service";

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
  eventRules: EventRuleService,
  ctx: RequestContext,
  input: { projectId: string; type: string; payload?: Record<string, unknown> | null },
): Promise<EventRow> {
  return runMutation(ctx, { action: "event.emit", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
    const row = await eventRules.emitCustom(tx, input);
    return { value: row, targetId: row.id, result: { eventId: row.id, type: row.type } };
  });
}

/** What EventRuleResolver uses. */
export interface EventRuleResolverDeps {
  db: Database;
  eventRules: EventRuleService;
  pipelines: PipelineService;
}

@Resolver(() => EventRule)
export class EventRuleResolver {
  constructor(readonly deps: EventRuleResolverDeps) {}

  @Query(() => EventRule, { nullable: true, description: "One event rule by id, or by pipeline and name; null when there is none." })
  async eventRule(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the event rule." }) id?: string | null,
    @Arg("pipelineId", () => ID, { nullable: true, description: "The rule's pipeline, with `name`." }) pipelineId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The rule's name, unique in its pipeline." }) name?: string | null,
  ): Promise<EventRule | null> {
    const by = lookupBy({ id, pipelineId, name }, { key: ["pipelineId", "name"] });
    const row = by.key ? await this.deps.eventRules.getByName(by.key.pipelineId, by.key.name) : await this.deps.eventRules.get(by.id);
    const pipeline = by.key && !row ? await this.deps.pipelines.get(by.key.pipelineId) : null;
    ctx.authz.require(Permission.READ, row?.projectId ?? pipeline?.projectId);
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
    const result = await this.deps.eventRules.list(
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
    const row = await this.deps.pipelines.get(rule.pipelineId);
    if (!row) throw new NotFoundError("Pipeline", rule.pipelineId);
    return Pipeline.from(row);
  }

  @FieldResolver(() => TriggerFireConnection, { description: "Its fires, newest first." })
  async fires(@Root() rule: EventRule, @Ctx() ctx: RequestContext, @Args() page: PageArgsInput): Promise<TriggerFireConnection> {
    ctx.authz.require(Permission.READ, rule.projectId);
    return TriggerFireConnection.from(await listFires(this.deps.db, rule.id, page), (r) => TriggerFire.from(r, rule.projectId));
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
      const pipeline = isRowId(input.pipelineId) ? await this.deps.pipelines.get(input.pipelineId) : null;
      return runMutation(
        ctx,
        { action: "event_rule.create", permission: Permission.WRITE, projectId: pipeline?.projectId, input },
        async (tx) => {
          if (!pipeline) throw new NotFoundError("Pipeline", input.pipelineId);
          requireFilterProject(ctx, pipeline.projectId, input.filter);
          const row = await this.deps.eventRules.create(tx, pipeline, input);
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
      const existing = await this.deps.eventRules.get(input.id);
      return runMutation(
        ctx,
        { action: "event_rule.update", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          if (existing) requireFilterProject(ctx, existing.projectId, input.filter);
          const row = await this.deps.eventRules.update(tx, input.id, input);
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
      const existing = await this.deps.eventRules.get(input.id);
      return runMutation(
        ctx,
        { action: "event_rule.delete", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          const row = await this.deps.eventRules.delete(tx, input.id);
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
      const row = await emitCustomEvent(this.deps.eventRules, ctx, input);
      return Object.assign(new EmitEventPayload(), { event: ProjectEvent.from(row) });
    });
  }
}
