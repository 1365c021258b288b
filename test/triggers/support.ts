import { dataOf, type TestServer } from "../helpers/server";
import { waitUntil } from "../helpers/eventually";

/** Fields of a fire, with its run. */
export const FIRE_FIELDS = `id kind sourceId firedAt scheduledFor eventId outcome detail run { id triggerKind triggerRef params status }`;

export interface FireView {
  id: string;
  kind: string;
  sourceId: string;
  firedAt: string;
  scheduledFor: string | null;
  eventId: string | null;
  outcome: string;
  detail: Record<string, any>;
  run: { id: string; triggerKind: string; triggerRef: string; params: Record<string, any>; status: string } | null;
}

/** A result union's fields: the payload's `fields`, or the error. */
export function resultFields(payload: string, fields: string): string {
  return `__typename ... on ${payload} { ${fields} }
    ... on InvalidInputError { problems { field message } } ... on NotFoundError { resourceType resourceId }
    ... on ConflictError { field } ... on Error { code message }`;
}

export const SCHEDULE_FIELDS = "id name cron timezone paused missedPolicy lastFireAt nextFireAt params";
export const RULE_FIELDS = "id name eventType filter params enabled";

export async function createSchedule(t: TestServer, input: Record<string, unknown>, token?: string): Promise<Record<string, any>> {
  const res = await t.gql(
    `mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { ${resultFields("SchedulePayload", `schedule { ${SCHEDULE_FIELDS} }`)} } }`,
    { i: input },
    token,
  );
  return dataOf(res).createSchedule;
}

export async function scheduleMutation(t: TestServer, name: string, id: string): Promise<Record<string, any>> {
  return dataOf(
    await t.gql(
      `mutation($i: ScheduleIdInput!) { ${name}(input: $i) { ${resultFields("SchedulePayload", `schedule { ${SCHEDULE_FIELDS} }`)} } }`,
      { i: { id } },
    ),
  )[name];
}

export async function createEventRule(t: TestServer, input: Record<string, unknown>, token?: string): Promise<Record<string, any>> {
  const res = await t.gql(
    `mutation($i: CreateEventRuleInput!) { createEventRule(input: $i) { ${resultFields("EventRulePayload", `eventRule { ${RULE_FIELDS} }`)} } }`,
    { i: input },
    token,
  );
  return dataOf(res).createEventRule;
}

export async function emitEvent(
  t: TestServer,
  projectId: string,
  type: string,
  payload: Record<string, unknown>,
  token?: string,
): Promise<Record<string, any>> {
  const res = await t.gql(
    `mutation($i: EmitEventInput!) { emitEvent(input: $i) { ${resultFields("EmitEventPayload", "event { cursor type projectId payload }")} } }`,
    { i: { projectId, type, payload } },
    token,
  );
  return dataOf(res).emitEvent;
}

/** The fires of a schedule or event rule, newest first. */
export async function firesOf(t: TestServer, kind: "schedule" | "eventRule", id: string): Promise<FireView[]> {
  const res = dataOf(await t.gql(`query($id: ID!) { ${kind}(id: $id) { fires(first: 500) { nodes { ${FIRE_FIELDS} } } } }`, { id }));
  return res[kind].fires.nodes;
}

/** Polls `probe` until it returns something truthy; fails after `timeoutMs` with `what`. */
export function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  return waitUntil(what, probe, { timeoutMs, intervalMs: 100 });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
