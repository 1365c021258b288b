import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { AuditOutcome, type AuditEventRow } from "./audit-event.entity";

registerEnumType(AuditOutcome, {
  name: "AuditOutcome",
  description: "How an audited mutation ended.",
  valuesConfig: {
    SUCCEEDED: { description: "The change was committed together with the audit event." },
    FAILED: { description: "The change was refused or failed and was rolled back." },
    DENIED: { description: "The caller lacked the role; nothing was attempted." },
  },
});

@ObjectType({ description: "One mutation: who did what, when, with what input, and how it ended." })
export class AuditEvent {
  @Field(() => ID, { description: "Position in the log: a monotonic sequence number, also the event's cursor." })
  id: string;

  @Field({ description: "When the mutation was recorded (millisecond precision)." })
  at: Date;

  @Field(() => ID, { nullable: true, description: "The principal who called the mutation; null when no principal is known." })
  actorId: string | null;

  @Field({ description: "The caller's name at the time, kept even after the principal is deleted." })
  actorName: string;

  @Field(() => ID, { nullable: true, description: "The project the mutation touched; null for global actions." })
  projectId: string | null;

  @Field({ description: "`noun.verb`, e.g. `project.rename`." })
  action: string;

  @Field(() => String, { nullable: true, description: "Id of the resource changed; null when there is none (or the change failed first)." })
  targetId: string | null;

  @Field(() => AuditOutcome, { description: "Whether the change was committed, failed, or denied." })
  outcome: AuditOutcome;

  @Field(() => GraphQLJSONObject, { description: "The input, secrets redacted." })
  input: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: "A summary of the result: ids on success, the error `code` and `message` on failure." })
  result: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: "The HTTP request's id (`x-request-id`), to match the event with server logs." })
  requestId: string | null;

  static from(row: AuditEventRow): AuditEvent {
    return Object.assign(new AuditEvent(), row);
  }
}

/** `AT` orders by the log's sequence, which is the order rows were written. */
export const {
  Connection: AuditEventConnection,
  Order: AuditEventOrder,
  sortOf: auditEventSort,
  Filter: AuditEventFilter,
} = ListTypes(AuditEvent, "AuditEvent", {
  orderBy: { AT: "id" } as const,
  defaultOrder: { property: "id", direction: "DESC" },
  orderDescriptions: { AT: "Sorts by the log's sequence: the order the events were written." },
  filter: {
    actorId: FilterBy.id("Only events of this principal."),
    projectId: FilterBy.id("Only events in this project; a project ADMIN must give it."),
    action: FilterBy.text("Only this action exactly, e.g. `project.rename`."),
    outcome: FilterBy.oneOf(AuditOutcome, "Only events that ended this way."),
    since: FilterBy.time("Only events at or after this time (inclusive)."),
    until: FilterBy.time("Only events before this time (exclusive)."),
  },
  filterDescription: "Narrows the audit log: an event must match every field given.",
});
export type AuditEventConnection = InstanceType<typeof AuditEventConnection>;
export type AuditEventOrder = InstanceType<typeof AuditEventOrder>;
export type AuditEventFilter = InstanceType<typeof AuditEventFilter>;
