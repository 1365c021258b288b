import { Field, ID, InputType, ObjectType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
import { MutationResult } from "../kernel/graphql/results";
import type { SecretRow } from "./secret.entity";

@ObjectType({ description: "A named, encrypted value of a project (a database URL, an API key). The value is never returned." })
export class Secret {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  projectId: string;

  @Field({ description: "Like an environment variable: uppercase letters, digits and '_'." })
  name: string;

  @Field(() => ID, { nullable: true, description: "The principal that created it." })
  createdBy: string | null;

  @Field()
  createdAt: Date;

  @Field({ description: "When the value was last set." })
  updatedAt: Date;

  static from(row: SecretRow): Secret {
    return Object.assign(new Secret(), {
      id: row.id,
      projectId: row.projectId,
      name: row.name,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  }
}

export const SecretConnection = Connection(Secret, "Secret");
export type SecretConnection = InstanceType<typeof SecretConnection>;

export const { Order: SecretOrder, sortOf: secretSort } = OrderBy(
  "Secret",
  { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  { property: "name", direction: "ASC" },
);
export type SecretOrder = InstanceType<typeof SecretOrder>;

@InputType()
export class SecretFilter {
  @Field(() => ID, { nullable: true, description: "Only this project's secrets." })
  projectId?: string | null;
}

@InputType()
export class SetSecretInput {
  @Field(() => ID)
  projectId: string;

  @Field({ description: "`^[A-Z][A-Z0-9_]{0,62}$`, e.g. `WAREHOUSE_URL`." })
  name: string;

  @Field({ description: "The value, at most 64 KiB. Stored encrypted; no query returns it and the audit log omits it." })
  value: string;
}

@InputType()
export class DeleteSecretInput {
  @Field(() => ID)
  projectId: string;

  @Field()
  name: string;
}

@ObjectType({ description: "The secret set or deleted: its name and timestamps, never its value." })
export class SecretPayload {
  @Field(() => Secret)
  secret: Secret;

  static of(row: SecretRow): SecretPayload {
    return Object.assign(new SecretPayload(), { secret: Secret.from(row) });
  }
}

export const SecretResult = MutationResult("Secret", SecretPayload);
