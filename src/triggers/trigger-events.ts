/** Event types of schedules, event rules and fires, as stored in the event stream. */
export const ScheduleEvents = {
  created: "schedule.created",
  updated: "schedule.updated",
  paused: "schedule.paused",
  resumed: "schedule.resumed",
  deleted: "schedule.deleted",
} as const;

export const EventRuleEvents = {
  created: "event_rule.created",
  updated: "event_rule.updated",
  deleted: "event_rule.deleted",
} as const;

export const TriggerEvents = {
  /** A schedule or event rule fired: `{ fireId, kind, sourceId, pipelineId, runId, outcome, … }`. */
  fired: "trigger.fired",
} as const;

export const SCHEDULE_EVENT_TYPES: readonly string[] = Object.values(ScheduleEvents);
export const EVENT_RULE_EVENT_TYPES: readonly string[] = Object.values(EventRuleEvents);

/**
 * Prefixes of the types the system emits itself. `emitEvent` and the webhook refuse custom
 * events that start with one, so nobody can fake a run finishing or a schedule changing.
 */
export const RESERVED_EVENT_PREFIXES = [
  "run.",
  "stage.",
  "project.",
  "pipeline.",
  "auth.",
  "trigger.",
  "schedule.",
  "event_rule.",
  "alert.",
  "monitoring.",
  "sla.",
] as const;
