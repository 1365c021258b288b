import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError, UnauthenticatedError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import {
  ApiToken,
  ApiTokenConnection,
  ApiTokenFilter,
  ApiTokenOrder,
  ApiTokenPayload,
  ApiTokenResult,
  CreateApiTokenInput,
  CreateApiTokenResult,
  CreatedApiToken,
  CreatePrincipalInput,
  Grant,
  GrantRoleInput,
  IdInput,
  Me,
  Principal,
  PrincipalConnection,
  PrincipalFilter,
  PrincipalOrder,
  PrincipalPayload,
  PrincipalResult,
  RoleBinding,
  RoleBindingPayload,
  RoleBindingResult,
  apiTokenSort,
  principalSort,
} from "./auth.types";
import { Permission } from "../kernel/roles";
import type { AuthService } from "./auth.service";

/** Principals, tokens and role bindings: administration, plus `me` for every caller. */
/** What AuthResolver uses. */
export interface AuthResolverDeps {
  auth: AuthService;
}

@Resolver(() => Principal)
export class AuthResolver {
  constructor(readonly deps: AuthResolverDeps) {}

  @Query(() => Me, { description: "Who the token authenticates as. Any valid token may ask." })
  async me(@Ctx() ctx: RequestContext): Promise<Me> {
    const caller = ctx.authz.caller;
    ctx.authz.can(Permission.READ);
    if (!caller) throw new UnauthenticatedError("Authentication required: send 'Authorization: Bearer <token>'");
    const principal = await this.deps.auth.getPrincipal(caller.principalId);
    if (!principal) throw new NotFoundError("Principal", caller.principalId);
    return Object.assign(new Me(), {
      principal: Principal.from(principal),
      tokenId: caller.tokenId,
      grants: caller.grants.map((g) => Object.assign(new Grant(), g)),
    });
  }

  @Query(() => Principal, { nullable: true, description: "A principal by id or by name. Needs global ADMIN." })
  async principal(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "The principal's id." }) id?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The principal's name, unique on the server." }) name?: string | null,
  ): Promise<Principal | null> {
    const by = lookupBy({ id, name }, { key: ["name"] });
    ctx.authz.require(Permission.ADMIN);
    const row = by.key ? await this.deps.auth.getPrincipalByName(by.key.name) : await this.deps.auth.getPrincipal(by.id);
    return row ? Principal.from(row) : null;
  }

  @Query(() => PrincipalConnection, { description: "Needs global ADMIN. Ordered by name." })
  async principals(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => PrincipalFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: PrincipalFilter | null,
    @Arg("orderBy", () => PrincipalOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: PrincipalOrder | null,
  ): Promise<PrincipalConnection> {
    ctx.authz.require(Permission.ADMIN);
    const result = await this.deps.auth.listPrincipals({ nameContains: filter?.nameContains ?? undefined }, page, principalSort(orderBy));
    return PrincipalConnection.from(result, Principal.from);
  }

  @Query(() => ApiTokenConnection, { description: "Needs global ADMIN. Newest first; revoked ones only when asked." })
  async apiTokens(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ApiTokenFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ApiTokenFilter | null,
    @Arg("orderBy", () => ApiTokenOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ApiTokenOrder | null,
  ): Promise<ApiTokenConnection> {
    ctx.authz.require(Permission.ADMIN);
    const result = await this.deps.auth.listTokens(
      { principalId: filter?.principalId ?? undefined, includeRevoked: filter?.includeRevoked ?? false },
      page,
      apiTokenSort(orderBy),
    );
    return ApiTokenConnection.from(result, ApiToken.from);
  }

  @FieldResolver(() => [RoleBinding], { description: "The roles the principal holds, global and per project." })
  async roleBindings(@Root() principal: Principal, @Ctx() ctx: RequestContext): Promise<RoleBinding[]> {
    const own = ctx.authz.caller?.principalId === principal.id;
    if (!own) ctx.authz.require(Permission.ADMIN);
    return (await this.deps.auth.bindingsOfPrincipal(principal.id)).map(RoleBinding.from);
  }

  @Mutation(() => PrincipalResult, { description: "Creates a user or service account. Needs global ADMIN." })
  async createPrincipal(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreatePrincipalInput,
  ): Promise<typeof PrincipalResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "principal.create", permission: Permission.ADMIN, input }, async (tx) => {
        const row = await this.deps.auth.createPrincipal(tx, input);
        return {
          value: Object.assign(new PrincipalPayload(), { principal: Principal.from(row) }),
          targetId: row.id,
          result: { id: row.id, name: row.name },
        };
      }),
    );
  }

  @Mutation(() => CreateApiTokenResult, {
    description: "Issues a token for a principal; the secret is in the answer only. Needs global ADMIN.",
  })
  async createApiToken(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateApiTokenInput,
  ): Promise<typeof CreateApiTokenResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "token.create", permission: Permission.ADMIN, input }, async (tx) => {
        const { row, secret } = await this.deps.auth.createToken(tx, {
          principalId: input.principalId,
          name: input.name,
          expiresAt: input.expiresAt ?? null,
        });
        return {
          value: Object.assign(new CreatedApiToken(), { token: secret, apiToken: ApiToken.from(row) }),
          targetId: row.id,
          result: { id: row.id, prefix: row.prefix },
        };
      }),
    );
  }

  @Mutation(() => ApiTokenResult, { description: "Revokes a token at once, in every server process. Needs global ADMIN." })
  async revokeApiToken(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: IdInput,
  ): Promise<typeof ApiTokenResult> {
    return captureErrors(() =>
      afterAuthChange(
        this.deps.auth,
        runMutation(ctx, { action: "token.revoke", permission: Permission.ADMIN, input }, async (tx) => {
          const row = await this.deps.auth.revokeToken(tx, input.id);
          return {
            value: Object.assign(new ApiTokenPayload(), { apiToken: ApiToken.from(row) }),
            targetId: row.id,
            result: { id: row.id },
          };
        }),
      ),
    );
  }

  @Mutation(() => RoleBindingResult, { description: "Grants a role globally (needs global ADMIN) or in a project (needs ADMIN there)." })
  async grantRole(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: GrantRoleInput,
  ): Promise<typeof RoleBindingResult> {
    const projectId = input.projectId ?? undefined;
    return captureErrors(() =>
      afterAuthChange(
        this.deps.auth,
        runMutation(ctx, { action: "role.grant", permission: Permission.ADMIN, projectId, input }, async (tx) => {
          const row = await this.deps.auth.grantRole(tx, {
            principalId: input.principalId,
            role: input.role,
            projectId: input.projectId ?? null,
          });
          return {
            value: Object.assign(new RoleBindingPayload(), { roleBinding: RoleBinding.from(row) }),
            targetId: row.id,
            result: { id: row.id },
          };
        }),
      ),
    );
  }

  @Mutation(() => RoleBindingResult, { description: "Removes a role binding. Needs ADMIN in the binding's scope." })
  async revokeRole(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: IdInput,
  ): Promise<typeof RoleBindingResult> {
    return captureErrors(async () => {
      // The binding's scope decides who may remove it, so it is read before authorizing.
      const existing = await this.deps.auth.findBinding(input.id);
      const projectId = existing?.projectId ?? undefined;
      return afterAuthChange(
        this.deps.auth,
        runMutation(ctx, { action: "role.revoke", permission: Permission.ADMIN, projectId, input }, async (tx) => {
          const row = await this.deps.auth.revokeRole(tx, input.id);
          return {
            value: Object.assign(new RoleBindingPayload(), { roleBinding: RoleBinding.from(row) }),
            targetId: row.id,
            result: { id: row.id },
          };
        }),
      );
    });
  }
}

/**
 * Once a change to tokens or bindings has committed, this process forgets its cached
 * authentications at once; other processes do on the `auth.changed` event.
 */
async function afterAuthChange<T>(auth: AuthService, committed: Promise<T>): Promise<T> {
  const value = await committed;
  auth.invalidate();
  return value;
}
