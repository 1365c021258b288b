import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { Connection } from "../kernel/graphql/connection";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import { ProjectEvent } from "../projects";
import { nextFireTimes } from "./cron";
import type { EventRuleRow } from "./event-rule.entity";
import type { MissedFirePolicy, ScheduleRow } from "./schedule.entity";
import type { TriggerFireRow } from "./trigger-fire.entity";

export const MissedFirePolicyEnum = { SKIP: "SKIP", RUN_ONCE: "RUN_ONCE" } as const satisfies Record<MissedFirePolicy, MissedFirePolicy>;
registerEnumType(MissedFirePolicyEnum, {
  name: "MissedFirePolicy",
  description: "What a schedule does about ticks missed while no server was firing: nothing, or one run for the latest.",
  valuesConfig: {
    SKIP: { description: "Missed ticks are not fired." },
    RUN_ONCE: { description: "One run for the latest missed tick, never one per missed tick." },
  },
});

export const TriggerFireKindEnum = { SCHEDULE: "SCHEDULE", EVENT: "EVENT" } as const;
registerEnumType(TriggerFireKindEnum, { name: "TriggerFireKind", description: "What fired: a schedule's tick or an event rule." });

export const TriggerFireOutcomeEnum = { STARTED: "STARTED", FAILED: "FAILED" } as const;
registerEnumType(TriggerFireOutcomeEnum, {
  name: "TriggerFireOutcome",
  description: "STARTED: a run was started. FAILED: none could be; `detail` says why.",
});

@ObjectType({ description: "A cron schedule that starts runs of a pipeline." })
export class Schedule {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  pipelineId: string;

  @Field()
  name: string;

  @Field({ description: "node-cron expression: 5 fields, or 6 with seconds first." })
  cron: string;

  @Field({ description: "IANA time zone the expression is read in." })
  timezone: string;

  @Field(() => GraphQLJSONObject, { description: "Parameter overrides of the runs it starts, by stage name." })
  params: Record<string, unknown>;

  @Field()
  paused: boolean;

  @Field(() => MissedFirePolicyEnum)
  missedPolicy: MissedFirePolicy;

  @Field(() => Date, { nullable: true, description: "The scheduled time of the last fire (not when it ran)." })
  lastFireAt: Date | null;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  @Field(() => Date, { nullable: true, description: "When it fires next; null while paused." })
  nextFireAt(): Date | null {
    return this.paused ? null : (nextFireTimes(this.cron, this.timezone, 1)[0] ?? null);
  }

  static from(row: ScheduleRow): Schedule {
    return Object.assign(new Schedule(), {
      id: row.id,
      projectId: row.projectId,
      pipelineId: row.pipelineId,
      name: row.name,
      cron: row.cron,
      timezone: row.timezone,
      params: row.params,
      paused: row.paused,
      missedPolicy: row.missedPolicy,
      lastFireAt: row.lastFireAt,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({
  description:
    'Starts a run of a pipeline when an event of `eventType` meets `filter`; `"$.payload.x"` strings in `params` are taken from the event.',
})
export class EventRule {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  pipelineId: string;

  @Field()
  name: string;

  @Field({ description: "e.g. `run.succeeded`, `dataset.version.created`, or a custom type." })
  eventType: string;

  @Field(() => GraphQLJSONObject, { description: 'Equality conditions by dotted path: `{ "payload.dataset": "flights" }`.' })
  filter: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'Run parameters by stage; a string `"$.payload.x"` is the event\'s value there.' })
  params: Record<string, unknown>;

  @Field()
  enabled: boolean;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;

  static from(row: EventRuleRow): EventRule {
    return Object.assign(new EventRule(), {
      id: row.id,
      projectId: row.projectId,
      pipelineId: row.pipelineId,
      name: row.name,
      eventType: row.eventType,
      filter: row.filter,
      params: row.params,
      enabled: row.enabled,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

@ObjectType({ description: "One fire of a schedule or event rule, and the run it started." })
export class TriggerFire {
  @Field(() => ID)
  id: string;

  /** The project of the schedule or rule, carried along so field resolvers authorize without a lookup. */
  projectId: string;

  @Field(() => TriggerFireKindEnum)
  kind: keyof typeof TriggerFireKindEnum;

  @Field(() => ID, { description: "The schedule or event rule." })
  sourceId: string;

  @Field({ description: "When it fired." })
  firedAt: Date;

  @Field(() => Date, { nullable: true, description: "For a schedule: the tick this fire stands for." })
  scheduledFor: Date | null;

  @Field(() => String, { nullable: true, description: "For an event rule: the cursor (id) of the event that matched." })
  eventId: string | null;

  @Field(() => ID, { nullable: true })
  runId: string | null;

  @Field(() => TriggerFireOutcomeEnum)
  outcome: keyof typeof TriggerFireOutcomeEnum;

  @Field(() => GraphQLJSONObject, {
    description: "STARTED: `{ runNumber, version }`. FAILED: `{ code, message, … }` (`MISSING_EVENT_VALUE` names the `path`).",
  })
  detail: Record<string, unknown>;

  static from(row: TriggerFireRow, projectId: string): TriggerFire {
    return Object.assign(new TriggerFire(), {
      id: row.id,
      projectId,
      kind: row.kind,
      sourceId: row.sourceId,
      firedAt: row.firedAt,
      scheduledFor: row.scheduledFor,
      eventId: row.eventId === null ? null : String(row.eventId),
      runId: row.runId,
      outcome: row.outcome,
      detail: row.detail,
    });
  }
}

export const {
  Connection: ScheduleConnection,
  Order: ScheduleOrder,
  sortOf: scheduleSort,
  Filter: ScheduleFilter,
} = ListTypes(Schedule, "Schedule", {
  orderBy: { CREATED_AT: "createdAt", NAME: "name" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only schedules of pipelines in this project."),
    pipelineId: FilterBy.id("Only this pipeline's schedules."),
    paused: FilterBy.flag("True: only paused schedules; false: only active ones."),
  },
});
export type ScheduleConnection = InstanceType<typeof ScheduleConnection>;
export type ScheduleOrder = InstanceType<typeof ScheduleOrder>;
export type ScheduleFilter = InstanceType<typeof ScheduleFilter>;

export const {
  Connection: EventRuleConnection,
  Order: EventRuleOrder,
  sortOf: eventRuleSort,
  Filter: EventRuleFilter,
} = ListTypes(EventRule, "EventRule", {
  orderBy: { CREATED_AT: "createdAt", NAME: "name" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only event rules of pipelines in this project."),
    pipelineId: FilterBy.id("Only this pipeline's event rules."),
    eventType: FilterBy.text("Only rules matching this event type exactly, e.g. `dataset.version.created`."),
    enabled: FilterBy.flag("True: only enabled rules; false: only disabled ones."),
  },
});
export type EventRuleConnection = InstanceType<typeof EventRuleConnection>;
export type EventRuleOrder = InstanceType<typeof EventRuleOrder>;
export type EventRuleFilter = InstanceType<typeof EventRuleFilter>;

/** A schedule's or event rule's fires: a page with no sort or filter of its own. */
export const TriggerFireConnection = Connection(TriggerFire, "TriggerFire");
export type TriggerFireConnection = InstanceType<typeof TriggerFireConnection>;

@InputType()
export class CreateScheduleInput {
  @Field(() => ID)
  pipelineId: string;

  @Field({ description: "Unique within the pipeline: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: 'node-cron: "0 9 * * 1-5" (minute hour day month weekday), or 6 fields with seconds first.' })
  cron: string;

  @Field(() => String, { defaultValue: "UTC", description: "IANA time zone, e.g. America/New_York." })
  timezone: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Parameter overrides by stage name, checked against the latest version." })
  params?: Record<string, unknown> | null;

  @Field(() => MissedFirePolicyEnum, { defaultValue: "SKIP" })
  missedPolicy: MissedFirePolicy;
}

@InputType()
export class UpdateScheduleInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  cron?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the parameters." })
  params?: Record<string, unknown> | null;

  @Field(() => MissedFirePolicyEnum, { nullable: true })
  missedPolicy?: MissedFirePolicy | null;
}

@InputType()
export class ScheduleIdInput {
  @Field(() => ID)
  id: string;
}

@InputType()
export class CreateEventRuleInput {
  @Field(() => ID)
  pipelineId: string;

  @Field({ description: "Unique within the pipeline: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: "The event type to listen to, e.g. `run.succeeded` or `dataset.version.created`." })
  eventType: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: "Equality conditions by dotted path. Without `projectId`, only events of the rule's own project match.",
  })
  filter?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Run parameters by stage; a string `"$.payload.x"` takes the event\'s value there (`"$$.x"` is the literal `"$.x"`).',
  })
  params?: Record<string, unknown> | null;

  @Field(() => Boolean, { defaultValue: true })
  enabled: boolean;
}

@InputType()
export class UpdateEventRuleInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  eventType?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the filter." })
  filter?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the parameters." })
  params?: Record<string, unknown> | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@InputType()
export class EventRuleIdInput {
  @Field(() => ID)
  id: string;
}

@InputType()
export class EmitEventInput {
  @Field(() => ID)
  projectId: string;

  @Field({ description: "`noun.verb`; not starting with run., stage., project., pipeline., auth., trigger., schedule. or event_rule." })
  type: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "At most 64 KiB of JSON." })
  payload?: Record<string, unknown> | null;
}

@ObjectType()
export class SchedulePayload {
  @Field(() => Schedule)
  schedule: Schedule;

  static of(row: ScheduleRow): SchedulePayload {
    return Object.assign(new SchedulePayload(), { schedule: Schedule.from(row) });
  }
}

@ObjectType()
export class EventRulePayload {
  @Field(() => EventRule)
  eventRule: EventRule;

  static of(row: EventRuleRow): EventRulePayload {
    return Object.assign(new EventRulePayload(), { eventRule: EventRule.from(row) });
  }
}

@ObjectType()
export class EmitEventPayload {
  @Field(() => ProjectEvent, { description: "The stored event; its cursor is its id." })
  event: ProjectEvent;
}

export const ScheduleResult = MutationResult("Schedule", SchedulePayload);
export const EventRuleResult = MutationResult("EventRule", EventRulePayload);
export const EmitEventResult = MutationResult("EmitEvent", EmitEventPayload);
