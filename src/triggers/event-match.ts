import { isDeepStrictEqual } from "node:util";
import { type InputProblem, InvalidInputError } from "../kernel/errors";
import type { EventRow } from "../events/event.entity";
import { RESERVED_EVENT_PREFIXES } from "./trigger-events";

/**
 * What event rules see of an event, and the two small languages they use on it. Pure: no I/O.
 *
 * **Paths** are dotted: `payload.dataset`, `payload.files.0.name` (a number indexes an array),
 * `projectId`, `subjectId`, `actorId`, `type`, `id`, `createdAt` (ISO 8601). A payload key that
 * itself contains a dot cannot be reached.
 *
 * **Filters** are `{ path: value }`; every condition must hold, and a value is compared as JSON
 * (`"3"` is not `3`; a missing path equals nothing, not even `null`).
 *
 * **Parameter templates**: anywhere in a rule's `params`, a string that is exactly `"$.<path>"`
 * is replaced by the event's value at that path, keeping its JSON type. `"$$.x"` stands for the
 * literal string `"$.x"`. A path the event lacks fails the fire (recorded, no run).
 */

/** The fields of an event a path can start with. */
export const EVENT_FIELDS = ["id", "type", "projectId", "subjectId", "actorId", "createdAt", "payload"] as const;

export type EventView = Record<(typeof EVENT_FIELDS)[number], unknown>;

/** Most conditions in one filter. */
export const MAX_FILTER_CONDITIONS = 20;
const SEGMENT = /^[A-Za-z0-9_$@:-]+$/;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/;
const MAX_EVENT_TYPE = 128;
const TEMPLATE = "$.";
const ESCAPED_TEMPLATE = "$$.";

export function eventView(e: EventRow): EventView {
  return {
    id: e.id,
    type: e.type,
    projectId: e.projectId,
    subjectId: e.subjectId,
    actorId: e.actorId,
    createdAt: e.createdAt.toISOString(),
    payload: e.payload,
  };
}

/** Why a path is not one an event can have, or undefined when it is well formed. */
function pathProblem(path: string): string | undefined {
  const segments = path.split(".");
  if (segments.some((s) => !SEGMENT.test(s))) return "must be dotted names such as payload.dataset";
  if (!(EVENT_FIELDS as readonly string[]).includes(segments[0]!)) return `must start with one of ${EVENT_FIELDS.join(", ")}`;
  if (segments[0] !== "payload" && segments.length > 1) return `${segments[0]} has no fields`;
  return undefined;
}

/** The value at `path` in the event, or undefined when there is none. */
export function valueAt(view: EventView, path: string): unknown {
  let here: unknown = view;
  for (const segment of path.split(".")) {
    if (Array.isArray(here) && /^\d+$/.test(segment)) here = here[Number(segment)];
    else if (here !== null && typeof here === "object" && Object.hasOwn(here, segment)) here = (here as Record<string, unknown>)[segment];
    else return undefined;
  }
  return here;
}

/**
 * Checks a rule's filter. `projectId`, when present, must be a string (rules without one hear
 * only their own project).
 *
 * @throws InvalidInputError on `filter.<path>` for each bad condition.
 */
export function checkFilter(filter: Record<string, unknown>): Record<string, unknown> {
  const problems: InputProblem[] = [];
  const entries = Object.entries(filter);
  if (entries.length > MAX_FILTER_CONDITIONS) problems.push({ field: "filter", message: `at most ${MAX_FILTER_CONDITIONS} conditions` });
  for (const [path, value] of entries) {
    const problem = pathProblem(path);
    if (problem) problems.push({ field: `filter.${path}`, message: problem });
    else if (path === "projectId" && typeof value !== "string")
      problems.push({ field: "filter.projectId", message: "must be a project id" });
    else if (value === undefined) problems.push({ field: `filter.${path}`, message: "must be a JSON value" });
  }
  if (problems.length) throw new InvalidInputError(problems);
  return filter;
}

/** Whether the event meets every condition of `filter`. */
export function matchesFilter(filter: Record<string, unknown>, view: EventView): boolean {
  for (const [path, expected] of Object.entries(filter)) {
    const actual = valueAt(view, path);
    if (actual === undefined || !isDeepStrictEqual(actual, expected)) return false;
  }
  return true;
}

/** Visits every string in a JSON value with its field path. */
function eachString(value: unknown, field: string, visit: (s: string, field: string) => void): void {
  if (typeof value === "string") visit(value, field);
  else if (Array.isArray(value)) value.forEach((v, i) => eachString(v, `${field}.${i}`, visit));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) eachString(v, `${field}.${k}`, visit);
}

/**
 * Checks the templates in a rule's `params` (by stage): each `"$.<path>"` must name a path an
 * event can have.
 *
 * @throws InvalidInputError on `params.<stage>.<…>` for each bad template.
 */
export function checkParamTemplates(params: Record<string, unknown>): void {
  const problems: InputProblem[] = [];
  eachString(params, "params", (s, field) => {
    if (!s.startsWith(TEMPLATE)) return;
    const problem = pathProblem(s.slice(TEMPLATE.length));
    if (problem) problems.push({ field, message: `${JSON.stringify(s)}: the path ${problem}` });
  });
  if (problems.length) throw new InvalidInputError(problems);
}

/** A template whose path the event does not have. */
export class MissingEventValue extends Error {
  constructor(
    readonly path: string,
    readonly field: string,
  ) {
    super(`the event has no ${path} (wanted by ${field})`);
    this.name = "MissingEventValue";
  }
}

/**
 * `params` with every template replaced by the event's value.
 *
 * @throws MissingEventValue for the first template whose path the event lacks.
 */
export function resolveParamTemplates<T>(params: T, view: EventView, field = "params"): T {
  if (typeof params === "string") {
    if (params.startsWith(ESCAPED_TEMPLATE)) return params.slice(1) as T;
    if (!params.startsWith(TEMPLATE)) return params;
    const path = params.slice(TEMPLATE.length);
    const value = valueAt(view, path);
    if (value === undefined) throw new MissingEventValue(path, field);
    return structuredClone(value) as T;
  }
  if (Array.isArray(params)) return params.map((v, i) => resolveParamTemplates(v, view, `${field}.${i}`)) as T;
  if (params !== null && typeof params === "object") {
    return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, resolveParamTemplates(v, view, `${field}.${k}`)])) as T;
  }
  return params;
}

/**
 * Checks an event type: `noun.verb` segments of letters, digits, `_` and `-`, at most 128
 * characters. With `custom`, also refuses the prefixes the system emits itself.
 *
 * @throws InvalidInputError on `field`.
 */
export function checkEventType(type: string, field: string, options: { custom: boolean }): string {
  if (type.length > MAX_EVENT_TYPE || !EVENT_TYPE.test(type)) {
    throw new InvalidInputError([
      { field, message: `must be dotted words such as "dataset.version.created" (at most ${MAX_EVENT_TYPE} characters)` },
    ]);
  }
  const lower = type.toLowerCase();
  const reserved = RESERVED_EVENT_PREFIXES.find((p) => lower.startsWith(p));
  if (options.custom && reserved) {
    throw new InvalidInputError([
      { field, message: `types starting with "${reserved}" are emitted by Sluice itself; choose another prefix` },
    ]);
  }
  return type;
}

/** The parts of an event rule that decide whether it hears an event. */
export interface RuleScope {
  projectId: string;
  eventType: string;
  filter: Record<string, unknown>;
  enabled: boolean;
  /**
   * The id of the event that armed the rule as it is now (its creation, or the last change of
   * its type, filter or enabling): it hears only later events, wherever the matcher's reading
   * of the stream stands when it looks.
   */
  armedAfter: string;
}

/**
 * Whether `rule` fires for `event`: enabled, the same type, later in the stream than the rule's
 * arming, in the rule's project (unless its filter names a `projectId`), every condition met.
 */
export function ruleHears(rule: RuleScope, event: EventRow, view: EventView = eventView(event)): boolean {
  if (!rule.enabled || event.type !== rule.eventType) return false;
  if (BigInt(event.id) <= BigInt(rule.armedAfter)) return false;
  if (!("projectId" in rule.filter) && event.projectId !== rule.projectId) return false;
  return matchesFilter(rule.filter, view);
}
