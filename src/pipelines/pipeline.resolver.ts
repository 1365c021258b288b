import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import {
  ApplyPipelineInput,
  ApplyPipelinePayload,
  ApplyPipelineResult,
  Pipeline,
  PipelineConnection,
  PipelineFilter,
  PipelineOrder,
  PipelineVersion,
  PipelineVersionConnection,
  PipelineVersionDiff,
  PipelineVersionOrder,
  pipelineSort,
  pipelineVersionSort,
} from "./pipeline.types";

@Resolver(() => Pipeline)
export class PipelineResolver {
  @Query(() => Pipeline, { nullable: true, description: "A pipeline by id, or by project and name." })
  async pipeline(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the pipeline; or give `projectId` and `name` instead." })
    id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "Project of the pipeline, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "Name of the pipeline, with `projectId`." }) name?: string | null,
  ): Promise<Pipeline | null> {
    if (projectId) ctx.authz.require(Permission.READ, projectId);
    const row = id
      ? await ctx.services.pipelines.get(id)
      : projectId && name
        ? await ctx.services.pipelines.getByName(projectId, name)
        : null;
    if (!row) {
      ctx.authz.require(Permission.READ, projectId ?? undefined);
      return null;
    }
    ctx.authz.require(Permission.READ, row.projectId);
    return Pipeline.from(row);
  }

  @Query(() => PipelineConnection, { description: "Pipelines the caller may read." })
  async pipelines(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => PipelineFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: PipelineFilter | null,
    @Arg("orderBy", () => PipelineOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: PipelineOrder | null,
  ): Promise<PipelineConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await ctx.services.pipelines.list(
      { projectIds, nameContains: filter?.nameContains ?? undefined },
      page,
      pipelineSort(orderBy),
    );
    return PipelineConnection.from(result, Pipeline.from);
  }

  @Query(() => PipelineVersion, { nullable: true, description: "One pipeline version by id; null when there is none." })
  async pipelineVersion(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "UUID of the pipeline version." }) id: string,
  ): Promise<PipelineVersion | null> {
    const row = await ctx.services.pipelines.getVersion(id);
    const pipeline = row ? await ctx.services.pipelines.get(row.pipelineId) : null;
    ctx.authz.require(Permission.READ, pipeline?.projectId);
    return row ? PipelineVersion.from(row) : null;
  }

  @Query(() => PipelineVersionDiff, { description: "What changed from one version of a pipeline to another." })
  async pipelineVersionDiff(
    @Ctx() ctx: RequestContext,
    @Arg("from", () => ID, { description: "UUID of the version to compare from." }) from: string,
    @Arg("to", () => ID, { description: "UUID of the version to compare to; both must be versions of the same pipeline." }) to: string,
  ): Promise<PipelineVersionDiff> {
    const d = await ctx.services.pipelines.diff(from, to);
    const pipeline = await ctx.services.pipelines.get(d.from.pipelineId);
    ctx.authz.require(Permission.READ, pipeline?.projectId);
    return PipelineVersionDiff.from(d.from, d.to, d.diff);
  }

  @FieldResolver(() => PipelineVersion, {
    nullable: true,
    description: "The newest version; null only before the first version is stored.",
  })
  async latestVersion(@Root() pipeline: Pipeline, @Ctx() ctx: RequestContext): Promise<PipelineVersion | null> {
    ctx.authz.require(Permission.READ, pipeline.projectId);
    const row = pipeline.latestVersionId ? await ctx.services.pipelines.getVersion(pipeline.latestVersionId) : null;
    return row ? PipelineVersion.from(row) : null;
  }

  @FieldResolver(() => PipelineVersionConnection, { description: "Newest first by default." })
  async versions(
    @Root() pipeline: Pipeline,
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("orderBy", () => PipelineVersionOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: PipelineVersionOrder | null,
  ): Promise<PipelineVersionConnection> {
    ctx.authz.require(Permission.READ, pipeline.projectId);
    return PipelineVersionConnection.from(
      await ctx.services.pipelines.listVersions(pipeline.id, page, pipelineVersionSort(orderBy)),
      PipelineVersion.from,
    );
  }

  @Mutation(() => ApplyPipelineResult, {
    description: "Validates a spec and stores it as the pipeline's newest version; the same spec again changes nothing. Needs EDITOR.",
  })
  async applyPipeline(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ApplyPipelineInput,
  ): Promise<typeof ApplyPipelineResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "pipeline.apply", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const r = await ctx.services.pipelines.apply(tx, input.projectId, input.spec, input.baseDir ?? "");
        return {
          value: Object.assign(new ApplyPipelinePayload(), {
            pipeline: Pipeline.from(r.pipeline),
            version: PipelineVersion.from(r.version),
            outcome: r.outcome,
          }),
          targetId: r.pipeline.id,
          result: {
            pipelineId: r.pipeline.id,
            versionId: r.version.id,
            version: r.version.version,
            hash: r.version.contentHash,
            outcome: r.outcome,
          },
        };
      }),
    );
  }
}
