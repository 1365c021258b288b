import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import type { ApiTokenRow } from "./api-token.entity";
import { PrincipalKind, type PrincipalRow } from "./principal.entity";
import type { RoleBindingRow } from "./role-binding.entity";
import { Role } from "../kernel/roles";

registerEnumType(PrincipalKind, {
  name: "PrincipalKind",
  description: "A person or a machine.",
  valuesConfig: {
    USER: { description: "A person." },
    SERVICE: { description: "A service account: a machine, e.g. CI or a runner." },
  },
});

export enum ApiTokenStatus {
  ACTIVE = "ACTIVE",
  EXPIRED = "EXPIRED",
  REVOKED = "REVOKED",
}
registerEnumType(ApiTokenStatus, {
  name: "ApiTokenStatus",
  description: "Whether a token still authenticates.",
  valuesConfig: {
    ACTIVE: { description: "It authenticates." },
    EXPIRED: { description: "Past its `expiresAt`; it no longer authenticates." },
    REVOKED: { description: "Revoked by an admin; it no longer authenticates." },
  },
});

@ObjectType({ description: "A role held by a principal, everywhere (`projectId` null) or in one project." })
export class RoleBinding {
  @Field(() => ID, { description: "Server-assigned UUID of the binding." })
  id: string;

  @Field(() => ID, { description: "The principal holding the role." })
  principalId: string;

  @Field(() => Role, { description: "The role held." })
  role: Role;

  @Field(() => ID, { nullable: true, description: "Null for a global binding." })
  projectId: string | null;

  @Field({ description: "When the role was granted." })
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
  @Field(() => ID, { description: "Server-assigned UUID of the principal." })
  id: string;

  @Field({ description: "Unique login name; the audit log and approvals show it." })
  name: string;

  @Field(() => PrincipalKind, { description: "A user (person) or a service account." })
  kind: PrincipalKind;

  @Field({ description: "When the principal was created." })
  createdAt: Date;

  static from(row: PrincipalRow): Principal {
    return Object.assign(new Principal(), { id: row.id, name: row.name, kind: row.kind, createdAt: row.createdAt });
  }
}

@ObjectType({ description: "An API token. Its secret was shown once, at creation, and is not stored." })
export class ApiToken {
  @Field(() => ID, { description: "Server-assigned UUID of the token (not its secret)." })
  id: string;

  @Field(() => ID, { description: "The principal the token authenticates as." })
  principalId: string;

  @Field({ description: "What the token is for, e.g. `ci-deploy`." })
  name: string;

  @Field({ description: "The first characters of the secret, to tell tokens apart." })
  prefix: string;

  @Field(() => ApiTokenStatus, { description: "Whether the token still authenticates, from `revokedAt` and `expiresAt`." })
  status: ApiTokenStatus;

  @Field(() => Date, { nullable: true, description: "When the token stops working; null: never." })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When the token was revoked; null while it is not." })
  revokedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "Updated at most once a minute." })
  lastUsedAt: Date | null;

  @Field({ description: "When the token was created." })
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

export const {
  Connection: PrincipalConnection,
  Order: PrincipalOrder,
  sortOf: principalSort,
  Filter: PrincipalFilter,
} = ListTypes(Principal, "Principal", {
  orderBy: { NAME: "name", CREATED_AT: "createdAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    nameContains: FilterBy.text("Only principals whose name contains this text, ignoring case."),
  },
});
export type PrincipalConnection = InstanceType<typeof PrincipalConnection>;
export type PrincipalOrder = InstanceType<typeof PrincipalOrder>;
export type PrincipalFilter = InstanceType<typeof PrincipalFilter>;

export const {
  Connection: ApiTokenConnection,
  Order: ApiTokenOrder,
  sortOf: apiTokenSort,
  Filter: ApiTokenFilter,
} = ListTypes(ApiToken, "ApiToken", {
  orderBy: { CREATED_AT: "createdAt", NAME: "name" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    principalId: FilterBy.id("Only tokens of this principal."),
    includeRevoked: FilterBy.flag("True also lists revoked tokens; by default they are left out.", false),
  },
});
export type ApiTokenConnection = InstanceType<typeof ApiTokenConnection>;
export type ApiTokenOrder = InstanceType<typeof ApiTokenOrder>;
export type ApiTokenFilter = InstanceType<typeof ApiTokenFilter>;

@ObjectType({ description: "The caller: who the token authenticates as, and the roles it holds." })
export class Me {
  @Field(() => Principal, { description: "The principal the caller's token authenticates as." })
  principal: Principal;

  @Field(() => ID, { description: "The id of the token used for this request." })
  tokenId: string;

  @Field(() => [Grant], { description: "Every role the principal holds, global and per project." })
  grants: Grant[];
}

@ObjectType({ description: "One role the caller holds, and where." })
export class Grant {
  @Field(() => Role, { description: "The role." })
  role: Role;

  @Field(() => ID, { nullable: true, description: "The project it holds in; null for a global role." })
  projectId: string | null;
}

@InputType({ description: "A new user or service account." })
export class CreatePrincipalInput {
  @Field({ description: "Unique; 1-128 characters: letters, digits and . _ @ + - (starting with a letter or digit)." })
  name: string;

  @Field(() => PrincipalKind, { defaultValue: PrincipalKind.USER, description: "A person (USER, the default) or a machine (SERVICE)." })
  kind: PrincipalKind;
}

@InputType({ description: "A new API token for a principal." })
export class CreateApiTokenInput {
  @Field(() => ID, { description: "The principal the token will authenticate as." })
  principalId: string;

  @Field({ description: "What the token is for, e.g. `ci-deploy`." })
  name: string;

  @Field(() => Date, { nullable: true, description: "When it stops working; never when omitted." })
  expiresAt?: Date | null;
}

@InputType({ description: "Names one token or role binding by id." })
export class IdInput {
  @Field(() => ID, { description: "The id of the token (revokeApiToken) or role binding (revokeRole)." })
  id: string;
}

@InputType({ description: "A role to grant to a principal, globally or in one project." })
export class GrantRoleInput {
  @Field(() => ID, { description: "The principal to grant it to." })
  principalId: string;

  @Field(() => Role, { description: "The role to grant." })
  role: Role;

  @Field(() => ID, { nullable: true, description: "The project; omit for a global binding." })
  projectId?: string | null;
}

@ObjectType({ description: "The principal a mutation created." })
export class PrincipalPayload {
  @Field(() => Principal, { description: "The new principal." })
  principal: Principal;
}

@ObjectType({ description: "A new token. `token` is the secret: shown here once, never again." })
export class CreatedApiToken {
  @Field({ description: "The secret to send as `Authorization: Bearer <token>`; shown only here." })
  token: string;

  @Field(() => ApiToken, { description: "The stored token, without its secret." })
  apiToken: ApiToken;
}

@ObjectType({ description: "The token a mutation changed." })
export class ApiTokenPayload {
  @Field(() => ApiToken, { description: "The token as stored now." })
  apiToken: ApiToken;
}

@ObjectType({ description: "The role binding a mutation created or removed." })
export class RoleBindingPayload {
  @Field(() => RoleBinding, { description: "The binding (as it was, when removed)." })
  roleBinding: RoleBinding;
}

export const PrincipalResult = MutationResult("Principal", PrincipalPayload);
export const CreateApiTokenResult = MutationResult("CreateApiToken", CreatedApiToken);
export const ApiTokenResult = MutationResult("ApiToken", ApiTokenPayload);
export const RoleBindingResult = MutationResult("RoleBinding", RoleBindingPayload);
