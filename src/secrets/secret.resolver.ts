import { Arg, Args, Ctx, Mutation, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import {
  DeleteSecretInput,
  Secret,
  SecretConnection,
  SecretFilter,
  SecretOrder,
  SecretPayload,
  SecretResult,
  SetSecretInput,
  secretSort,
} from "./secret.types";
import type { SecretService } from "./secret.service";

/** What the audit log keeps in place of a secret's value. */
const REDACTED = "[redacted]";

/** What SecretResolver uses. */
export interface SecretResolverDeps {
  secrets: SecretService;
}

@Resolver(() => Secret)
export class SecretResolver {
  constructor(readonly deps: SecretResolverDeps) {}

  @Query(() => SecretConnection, { description: "Secrets (names and timestamps) of the projects where the caller is EDITOR or ADMIN." })
  async secrets(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => SecretFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: SecretFilter | null,
    @Arg("orderBy", () => SecretOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: SecretOrder | null,
  ): Promise<SecretConnection> {
    let projectIds: "all" | string[];
    if (filter?.projectId) {
      ctx.authz.require(Permission.WRITE, filter.projectId);
      projectIds = [filter.projectId];
    } else projectIds = ctx.authz.visibleProjects(Permission.WRITE);
    const result = await this.deps.secrets.list({ projectIds }, page, secretSort(orderBy));
    return SecretConnection.from(result, Secret.from);
  }

  @Mutation(() => SecretResult, {
    description: "Creates a project secret or replaces its value. Needs ADMIN in the project. The value is never returned or audited.",
  })
  async setSecret(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetSecretInput,
  ): Promise<typeof SecretResult> {
    // The value never reaches the audit log, whatever its redaction rules.
    const audited = { projectId: input.projectId, name: input.name, value: REDACTED };
    return captureErrors(() =>
      runMutation(ctx, { action: "secret.set", permission: Permission.ADMIN, projectId: input.projectId, input: audited }, async (tx) => {
        const { row, created } = await this.deps.secrets.put(tx, input.projectId, input.name, input.value);
        return { value: SecretPayload.of(row), targetId: row.id, result: { id: row.id, name: row.name, created } };
      }),
    );
  }

  @Mutation(() => SecretResult, { description: "Deletes a project secret. Needs ADMIN in the project." })
  async deleteSecret(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: DeleteSecretInput,
  ): Promise<typeof SecretResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "secret.delete", permission: Permission.ADMIN, projectId: input.projectId, input }, async (tx) => {
        const row = await this.deps.secrets.delete(tx, input.projectId, input.name);
        return { value: SecretPayload.of(row), targetId: row.id, result: { id: row.id, name: row.name } };
      }),
    );
  }
}
