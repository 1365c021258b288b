import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { Connection, OrderBy } from "../kernel/graphql/connection";
import { MutationResult } from "../kernel/graphql/results";
import type { ApiTokenRow } from "./api-token.entity";
import { PrincipalKind, type PrincipalRow } from "./principal.entity";
import type { RoleBindingRow } from "./role-binding.entity";
import { Role } from "../kernel/roles";

registerEnumType(PrincipalKind, { name: "PrincipalKind", description: "A person or a machine." });

export enum ApiTokenStatus {
  ACTIVE = "ACTIVE",
  EXPIRED = "EXPIRED",
  REVOKED = "REVOKED",
}
registerEnumType(ApiTokenStatus, { name: "ApiTokenStatus" });

@ObjectType({ description: "A role held by a principal, everywhere (`projectId` null) or in one project." })
export class RoleBinding {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  principalId: string;

  @Field(() => Role)
  role: Role;

  @Field(() => ID, { nullable: true, description: "Null for a global binding." })
  projectId: string | null;

  @Field()
  createdAt: Date;

  static from(row: RoleBindingRow): RoleBinding {
    return Object.assign(new RoleBinding(), {
      id: row.id,
      principalId: row.principalId,
      role: row.role,
      projectId: row.projectId,
      createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "A user or service account; tokens authenticate as one." })
export class Principal {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => PrincipalKind)
  kind: PrincipalKind;

  @Field()
  createdAt: Date;

  static from(row: PrincipalRow): Principal {
    return Object.assign(new Principal(), { id: row.id, name: row.name, kind: row.kind, createdAt: row.createdAt });
  }
}

@ObjectType({ description: "An API token. Its secret was shown once, at creation, and is not stored." })
export class ApiToken {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  principalId: string;

  @Field()
  name: string;

  @Field({ description: "The first characters of the secret, to tell tokens apart." })
  prefix: string;

  @Field(() => ApiTokenStatus)
  status: ApiTokenStatus;

  @Field(() => Date, { nullable: true })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "Updated at most once a minute." })
  lastUsedAt: Date | null;

  @Field()
  createdAt: Date;

  static from(row: ApiTokenRow): ApiToken {
    const status = row.revokedAt
      ? ApiTokenStatus.REVOKED
      : row.expiresAt && row.expiresAt.getTime() <= Date.now()
        ? ApiTokenStatus.EXPIRED
        : ApiTokenStatus.ACTIVE;
    return Object.assign(new ApiToken(), {
      id: row.id,
      principalId: row.principalId,
      name: row.name,
      prefix: row.prefix,
      status,
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      lastUsedAt: row.lastUsedAt,
      createdAt: row.createdAt,
    });
  }
}

export const { Order: PrincipalOrder, sortOf: principalSort } = OrderBy("Principal", { NAME: "name", CREATED_AT: "createdAt" } as const, {
  property: "name",
  direction: "ASC",
});
export type PrincipalOrder = InstanceType<typeof PrincipalOrder>;
export const { Order: ApiTokenOrder, sortOf: apiTokenSort } = OrderBy("ApiToken", { CREATED_AT: "createdAt", NAME: "name" } as const, {
  property: "createdAt",
  direction: "DESC",
});
export type ApiTokenOrder = InstanceType<typeof ApiTokenOrder>;

export const PrincipalConnection = Connection(Principal, "Principal");
export type PrincipalConnection = InstanceType<typeof PrincipalConnection>;
export const ApiTokenConnection = Connection(ApiToken, "ApiToken");
export type ApiTokenConnection = InstanceType<typeof ApiTokenConnection>;

@ObjectType({ description: "The caller: who the token authenticates as, and the roles it holds." })
export class Me {
  @Field(() => Principal)
  principal: Principal;

  @Field(() => ID)
  tokenId: string;

  @Field(() => [Grant])
  grants: Grant[];
}

@ObjectType()
export class Grant {
  @Field(() => Role)
  role: Role;

  @Field(() => ID, { nullable: true })
  projectId: string | null;
}

@InputType()
export class CreatePrincipalInput {
  @Field()
  name: string;

  @Field(() => PrincipalKind, { defaultValue: PrincipalKind.USER })
  kind: PrincipalKind;
}

@InputType()
export class CreateApiTokenInput {
  @Field(() => ID)
  principalId: string;

  @Field({ description: "What the token is for, e.g. `ci-deploy`." })
  name: string;

  @Field(() => Date, { nullable: true, description: "When it stops working; never when omitted." })
  expiresAt?: Date | null;
}

@InputType()
export class IdInput {
  @Field(() => ID)
  id: string;
}

@InputType()
export class GrantRoleInput {
  @Field(() => ID)
  principalId: string;

  @Field(() => Role)
  role: Role;

  @Field(() => ID, { nullable: true, description: "The project; omit for a global binding." })
  projectId?: string | null;
}

@InputType()
export class ApiTokenFilter {
  @Field(() => ID, { nullable: true })
  principalId?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  includeRevoked?: boolean | null;
}

@InputType()
export class PrincipalFilter {
  @Field(() => String, { nullable: true })
  nameContains?: string | null;
}

@ObjectType()
export class PrincipalPayload {
  @Field(() => Principal)
  principal: Principal;
}

@ObjectType({ description: "A new token. `token` is the secret: shown here once, never again." })
export class CreatedApiToken {
  @Field()
  token: string;

  @Field(() => ApiToken)
  apiToken: ApiToken;
}

@ObjectType()
export class ApiTokenPayload {
  @Field(() => ApiToken)
  apiToken: ApiToken;
}

@ObjectType()
export class RoleBindingPayload {
  @Field(() => RoleBinding)
  roleBinding: RoleBinding;
}

export const PrincipalResult = MutationResult("Principal", PrincipalPayload);
export const CreateApiTokenResult = MutationResult("CreateApiToken", CreatedApiToken);
export const ApiTokenResult = MutationResult("ApiToken", ApiTokenPayload);
export const RoleBindingResult = MutationResult("RoleBinding", RoleBindingPayload);
