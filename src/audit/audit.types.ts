import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
import { AuditOutcome, type AuditEventRow } from "./audit-event.entity";

registerEnumType(AuditOutcome, { name: "AuditOutcome" });

@ObjectType({ description: "One mutation: who did what, when, with what input, and how it ended." })
export class AuditEvent {
  @Field(() => ID)
  id: string;

  @Field()
  at: Date;

  @Field(() => ID, { nullable: true })
  actorId: string | null;

  @Field()
  actorName: string;

  @Field(() => ID, { nullable: true })
  projectId: string | null;

  @Field({ description: "`noun.verb`, e.g. `project.rename`." })
  action: string;

  @Field(() => String, { nullable: true })
  targetId: string | null;

  @Field(() => AuditOutcome)
  outcome: AuditOutcome;

  @Field(() => GraphQLJSONObject, { description: "The input, secrets redacted." })
  input: Record<string, unknown>;

  @Field(() => GraphQLJSONObject)
  result: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  requestId: string | null;

  static from(row: AuditEventRow): AuditEvent {
    return Object.assign(new AuditEvent(), row);
  }
}

/** `AT` orders by the log's sequence, which is the order rows were written. */
export const { Order: AuditEventOrder, sortOf: auditEventSort } = OrderBy("AuditEvent", { AT: "id" } as const, {
  property: "id",
  direction: "DESC",
});
export type AuditEventOrder = InstanceType<typeof AuditEventOrder>;

export const AuditEventConnection = Connection(AuditEvent, "AuditEvent");
export type AuditEventConnection = InstanceType<typeof AuditEventConnection>;

@InputType()
export class AuditEventFilter {
  @Field(() => ID, { nullable: true })
  actorId?: string | null;

  @Field(() => ID, { nullable: true })
  projectId?: string | null;

  @Field(() => String, { nullable: true })
  action?: string | null;

  @Field(() => AuditOutcome, { nullable: true })
  outcome?: AuditOutcome | null;

  @Field(() => Date, { nullable: true, description: "Inclusive." })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: "Exclusive." })
  until?: Date | null;
}
