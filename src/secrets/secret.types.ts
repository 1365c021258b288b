import { Field, ID, InputType, ObjectType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { SecretRow } from "./secret.entity";

@ObjectType({ description: "A named, encrypted value of a project (a database URL, an API key). The value is never returned." })
export class Secret {
  @Field(() => ID, { description: "Server-assigned UUID of the secret." })
  id: string;

  @Field(() => ID, { description: "Project the secret belongs to." })
  projectId: string;

  @Field({ description: "Like an environment variable: uppercase letters, digits and '_'." })
  name: string;

  @Field(() => ID, { nullable: true, description: "The principal that created it." })
  createdBy: string | null;

  @Field({ description: "When the secret was first set." })
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

export const {
  Connection: SecretConnection,
  Order: SecretOrder,
  sortOf: secretSort,
  Filter: SecretFilter,
} = ListTypes(Secret, "Secret", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt", UPDATED_AT: "updatedAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  orderDescriptions: { UPDATED_AT: "Sorts by when the value was last set." },
  filter: { projectId: FilterBy.id("Only this project's secrets.") },
});
export type SecretConnection = InstanceType<typeof SecretConnection>;
export type SecretOrder = InstanceType<typeof SecretOrder>;
export type SecretFilter = InstanceType<typeof SecretFilter>;

@InputType({ description: "A secret to create or overwrite: project, name and the new value." })
export class SetSecretInput {
  @Field(() => ID, { description: "Project the secret belongs to; the caller needs ADMIN there." })
  projectId: string;

  @Field({ description: "`^[A-Z][A-Z0-9_]{0,62}$`, e.g. `WAREHOUSE_URL`." })
  name: string;

  @Field({ description: "The value, at most 64 KiB. Stored encrypted; no query returns it and the audit log omits it." })
  value: string;
}

@InputType({ description: "Which secret to delete: the project and the secret's name." })
export class DeleteSecretInput {
  @Field(() => ID, { description: "Project the secret belongs to." })
  projectId: string;

  @Field({ description: "Name of the secret to delete, e.g. `WAREHOUSE_URL`." })
  name: string;
}

@ObjectType({ description: "The secret set or deleted: its name and timestamps, never its value." })
export class SecretPayload {
  @Field(() => Secret, { description: "The secret's name and timestamps after the change." })
  secret: Secret;

  static of(row: SecretRow): SecretPayload {
    return Object.assign(new SecretPayload(), { secret: Secret.from(row) });
  }
}

export const SecretResult = MutationResult("Secret", SecretPayload);
