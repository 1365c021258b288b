import { Arg, Args, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { cursorSubscription, eventScope } from "../events/event-subscription";
import {
  CreateProjectInput,
  Project,
  ProjectConnection,
  ProjectEvent,
  ProjectFilter,
  ProjectIdInput,
  ProjectOrder,
  ProjectPayload,
  ProjectResult,
  RenameProjectInput,
  projectSort,
} from "./project.types";
import { resolverOf } from "../kernel/context";
import type { EventBus } from "../events/event-bus";
import type { ProjectService } from "./project.service";

/** What ProjectResolver uses. */
export interface ProjectResolverDeps {
  events: EventBus;
  projects: ProjectService;
}

@Resolver(() => Project)
export class ProjectResolver {
  constructor(readonly deps: ProjectResolverDeps) {}

  @Query(() => Project, { nullable: true, description: "One project by id or by name; null when there is none." })
  async project(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the project; or give `name` instead." }) id?: string | null,
    @Arg("name", () => String, { nullable: true, description: "Name of the project, instead of `id`." }) name?: string | null,
  ): Promise<Project | null> {
    const projects = this.deps.projects;
    const by = lookupBy({ id, name }, { key: ["name"] });
    if (!by.key) {
      ctx.authz.require(Permission.READ, by.id);
      const row = await projects.get(by.id);
      return row ? Project.from(row) : null;
    }
    const row = await projects.getByName(by.key.name);
    // Without the project, only a global reader may learn that the name is free.
    ctx.authz.require(Permission.READ, row?.id);
    return row ? Project.from(row) : null;
  }

  @Query(() => ProjectConnection, { description: "Projects the caller may read." })
  async projects(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ProjectFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ProjectFilter | null,
    @Arg("orderBy", () => ProjectOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ProjectOrder | null,
  ): Promise<ProjectConnection> {
    const visible = ctx.authz.visibleProjects(Permission.READ);
    const result = await this.deps.projects.list(
      { nameContains: filter?.nameContains ?? undefined, includeArchived: filter?.includeArchived ?? false },
      visible,
      page,
      projectSort(orderBy),
    );
    return ProjectConnection.from(result, Project.from);
  }

  @Mutation(() => ProjectResult, { description: "Creates a project. Needs a global EDITOR or ADMIN role." })
  async createProject(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateProjectInput,
  ): Promise<typeof ProjectResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "project.create", permission: Permission.WRITE, input }, async (tx) => {
        const row = await this.deps.projects.create(tx, input);
        return { value: ProjectPayload.of(row), targetId: row.id, projectId: row.id, result: { id: row.id, name: row.name } };
      }),
    );
  }

  @Mutation(() => ProjectResult, { description: "Gives a project a new unique name. Needs EDITOR in the project." })
  async renameProject(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RenameProjectInput,
  ): Promise<typeof ProjectResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "project.rename", permission: Permission.WRITE, projectId: input.id, input }, async (tx) => {
        const row = await this.deps.projects.rename(tx, input.id, input.name);
        return { value: ProjectPayload.of(row), targetId: row.id, result: { id: row.id, name: row.name } };
      }),
    );
  }

  @Mutation(() => ProjectResult, { description: "Makes a project read-only. Needs ADMIN in the project." })
  async archiveProject(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ProjectIdInput,
  ): Promise<typeof ProjectResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "project.archive", permission: Permission.ADMIN, projectId: input.id, input }, async (tx) => {
        const row = await this.deps.projects.archive(tx, input.id);
        return { value: ProjectPayload.of(row), targetId: row.id, result: { id: row.id } };
      }),
    );
  }

  @Mutation(() => ProjectResult, { description: "Makes an archived project writable again. Needs ADMIN in the project." })
  async restoreProject(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ProjectIdInput,
  ): Promise<typeof ProjectResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "project.restore", permission: Permission.ADMIN, projectId: input.id, input }, async (tx) => {
        const row = await this.deps.projects.restore(tx, input.id);
        return { value: ProjectPayload.of(row), targetId: row.id, result: { id: row.id } };
      }),
    );
  }

  @Subscription(() => ProjectEvent, {
    description: "Changes in one project as they commit. Pass `after` (a cursor) to first receive what was missed.",
    subscribe: cursorSubscription<{ projectId: string }, EventRow>(({ projectId }, ctx) =>
      eventScope(resolverOf(ctx, ProjectResolver).deps.events, projectId, { projectId }),
    ),
  })
  projectEvents(
    @Root() row: EventRow,
    @Arg("projectId", () => ID, { description: "UUID of the project to follow." }) _projectId: string,
    @Arg("after", () => String, { nullable: true, description: "A `cursor` of an earlier event: first replays what came after it." })
    _after?: string | null,
  ): ProjectEvent {
    return ProjectEvent.from(row);
  }
}
