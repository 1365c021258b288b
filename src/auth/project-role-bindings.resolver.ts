import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { Permission } from "../kernel/roles";
import { Project } from "../projects";
import { RoleBinding } from "./auth.types";
import type { AuthService } from "./auth.service";

/**
 * `Project.roleBindings`: role bindings belong to auth, which sits above projects (a binding
 * names its project), so auth adds this field to the project type rather than projects importing auth.
 */
/** What ProjectRoleBindingsResolver uses. */
export interface ProjectRoleBindingsResolverDeps {
  auth: AuthService;
}

@Resolver(() => Project)
export class ProjectRoleBindingsResolver {
  constructor(readonly deps: ProjectRoleBindingsResolverDeps) {}

  @FieldResolver(() => [RoleBinding], { description: "Who holds which role in this project." })
  async roleBindings(@Root() project: Project, @Ctx() ctx: RequestContext): Promise<RoleBinding[]> {
    ctx.authz.require(Permission.READ, project.id);
    return (await this.deps.auth.bindingsInProject(project.id)).map(RoleBinding.from);
  }
}
