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
registerEnumType(TriggerFireKindEnum, {
  name: "TriggerFireKind",
  description: "What fired: a schedule's tick or an event rule.",
  valuesConfig: { SCHEDULE: { description: "A schedule's cron tick." }, EVENT: { description: "An event rule matched an event." } },
});

export const TriggerFireOutcomeEnum = { STARTED: "STARTED", FAILED: "FAILED" } as const;
registerEnumType(TriggerFireOutcomeEnum, {
  name: "TriggerFireOutcome",
  description: "STARTED: a run was started. FAILED: none could be; `detail` says why.",
  valuesConfig: {
    STARTED: { description: "A run was started; `runId` names it." },
    FAILED: { description: "No run could be started; `detail` says why." },
  },
});

@ObjectType({ description: "A cron schedule that starts runs of a pipeline." })
export class Schedule {
  @Field(() => ID, { description: "Server-assigned UUID of the schedule." })
  id: string;

  @Field(() => ID, { description: "Project of the schedule's pipeline." })
  projectId: string;

  @Field(() => ID, { description: "The pipeline the schedule runs." })
  pipelineId: string;

  @Field({ description: "Unique within the pipeline: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: "node-cron expression: 5 fields, or 6 with seconds first." })
  cron: string;

  @Field({ description: "IANA time zone the expression is read in." })
  timezone: string;

  @Field(() => GraphQLJSONObject, { description: "Parameter overrides of the runs it starts, by stage name." })
  params: Record<string, unknown>;

  @Field({ description: "True: the schedule does not fire until resumed." })
  paused: boolean;

  @Field(() => MissedFirePolicyEnum, { description: "What the schedule does about ticks missed while no server was firing." })
  missedPolicy: MissedFirePolicy;

  @Field(() => Date, { nullable: true, description: "The scheduled time of the last fire (not when it ran)." })
  lastFireAt: Date | null;

  @Field(() => ID, { nullable: true, description: "The principal that created the schedule; null when unknown." })
  createdBy: string | null;

  @Field({ description: "When the schedule was created." })
  createdAt: Date;

  @Field({ description: "When the schedule was last changed." })
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
  @Field(() => ID, { description: "Server-assigned UUID of the event rule." })
  id: string;

  @Field(() => ID, { description: "Project of the rule's pipeline; by default only this project's events match." })
  projectId: string;

  @Field(() => ID, { description: "The pipeline the rule runs." })
  pipelineId: string;

  @Field({ description: "Unique within the pipeline: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: "e.g. `run.succeeded`, `dataset.version.created`, or a custom type." })
  eventType: string;

  @Field(() => GraphQLJSONObject, { description: 'Equality conditions by dotted path: `{ "payload.dataset": "flights" }`.' })
  filter: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'Run parameters by stage; a string `"$.payload.x"` is the event\'s value there.' })
  params: Record<string, unknown>;

  @Field({ description: "False: the rule matches no event until enabled again." })
  enabled: boolean;

  @Field(() => ID, { nullable: true, description: "The principal that created the rule; null when unknown." })
  createdBy: string | null;

  @Field({ description: "When the rule was created." })
  createdAt: Date;

  @Field({ description: "When the rule was last changed." })
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
  @Field(() => ID, { description: "Server-assigned UUID of the fire." })
  id: string;

  /** The project of the schedule or rule, carried along so field resolvers authorize without a lookup. */
  projectId: string;

  @Field(() => TriggerFireKindEnum, { description: "Whether a schedule's tick or an event rule fired." })
  kind: keyof typeof TriggerFireKindEnum;

  @Field(() => ID, { description: "The schedule or event rule." })
  sourceId: string;

  @Field({ description: "When it fired." })
  firedAt: Date;

  @Field(() => Date, { nullable: true, description: "For a schedule: the tick this fire stands for." })
  scheduledFor: Date | null;

  @Field(() => String, { nullable: true, description: "For an event rule: the cursor (id) of the event that matched." })
  eventId: string | null;

  @Field(() => ID, { nullable: true, description: "The run it started; null when the outcome is FAILED." })
  runId: string | null;

  @Field(() => TriggerFireOutcomeEnum, { description: "Whether a run was started; FAILED gives the reason in `detail`." })
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

@InputType({ description: "A new cron schedule for a pipeline." })
export class CreateScheduleInput {
  @Field(() => ID, { description: "The pipeline to run; the caller needs EDITOR in its project." })
  pipelineId: string;

  @Field({ description: "Unique within the pipeline: lowercase letters, digits, '_' and '-'." })
  name: string;

  @Field({ description: 'node-cron: "0 9 * * 1-5" (minute hour day month weekday), or 6 fields with seconds first.' })
  cron: string;

  @Field(() => String, { defaultValue: "UTC", description: "IANA time zone, e.g. America/New_York." })
  timezone: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Parameter overrides by stage name, checked against the latest version." })
  params?: Record<string, unknown> | null;

  @Field(() => MissedFirePolicyEnum, {
    defaultValue: "SKIP",
    description: "What to do about ticks missed while no server was firing. Default SKIP.",
  })
  missedPolicy: MissedFirePolicy;
}

@InputType({ description: "Changes to a schedule; omitted fields stay as they are." })
export class UpdateScheduleInput {
  @Field(() => ID, { description: "UUID of the schedule to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "The new name, unique within the pipeline." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "The new node-cron expression." })
  cron?: string | null;

  @Field(() => String, { nullable: true, description: "The new IANA time zone." })
  timezone?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the parameters." })
  params?: Record<string, unknown> | null;

  @Field(() => MissedFirePolicyEnum, { nullable: true, description: "The new policy for missed ticks." })
  missedPolicy?: MissedFirePolicy | null;
}

@InputType({ description: "Names one schedule." })
export class ScheduleIdInput {
  @Field(() => ID, { description: "UUID of the schedule." })
  id: string;
}

@InputType({ description: "A new event rule: which pipeline to run, on which event type, under which conditions." })
export class CreateEventRuleInput {
  @Field(() => ID, { description: "The pipeline to run; the caller needs EDITOR in its project." })
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

  @Field(() => Boolean, { defaultValue: true, description: "False creates the rule disabled: it matches nothing until enabled." })
  enabled: boolean;
}

@InputType({ description: "Changes to an event rule; omitted fields stay as they are." })
export class UpdateEventRuleInput {
  @Field(() => ID, { description: "UUID of the event rule to change." })
  id: string;

  @Field(() => String, { nullable: true, description: "The new name, unique within the pipeline." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "The new event type to listen to." })
  eventType?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the filter." })
  filter?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Replaces the parameters." })
  params?: Record<string, unknown> | null;

  @Field(() => Boolean, { nullable: true, description: "True enables the rule, false disables it." })
  enabled?: boolean | null;
}

@InputType({ description: "Names one event rule." })
export class EventRuleIdInput {
  @Field(() => ID, { description: "UUID of the event rule." })
  id: string;
}

@InputType({ description: "A custom event to store in a project's event stream, where event rules can match it." })
export class EmitEventInput {
  @Field(() => ID, { description: "Project whose event stream receives the event." })
  projectId: string;

  @Field({ description: "`noun.verb`; not starting with run., stage., project., pipeline., auth., trigger., schedule. or event_rule." })
  type: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "At most 64 KiB of JSON." })
  payload?: Record<string, unknown> | null;
}

@ObjectType({ description: "The schedule after the change." })
export class SchedulePayload {
  @Field(() => Schedule, { description: "The schedule after the change." })
  schedule: Schedule;

  static of(row: ScheduleRow): SchedulePayload {
    return Object.assign(new SchedulePayload(), { schedule: Schedule.from(row) });
  }
}

@ObjectType({ description: "The event rule after the change." })
export class EventRulePayload {
  @Field(() => EventRule, { description: "The event rule after the change." })
  eventRule: EventRule;

  static of(row: EventRuleRow): EventRulePayload {
    return Object.assign(new EventRulePayload(), { eventRule: EventRule.from(row) });
  }
}

@ObjectType({ description: "The custom event as stored." })
export class EmitEventPayload {
  @Field(() => ProjectEvent, { description: "The stored event; its cursor is its id." })
  event: ProjectEvent;
}

export const ScheduleResult = MutationResult("Schedule", SchedulePayload);
export const EventRuleResult = MutationResult("EventRule", EventRulePayload);
export const EmitEventResult = MutationResult("EmitEvent", EmitEventPayload);
