import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
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
import type { PipelineService } from "./pipeline.service";

/** What PipelineResolver uses. */
export interface PipelineResolverDeps {
  pipelines: PipelineService;
}

@Resolver(() => Pipeline)
export class PipelineResolver {
  constructor(readonly deps: PipelineResolverDeps) {}

  @Query(() => Pipeline, { nullable: true, description: "A pipeline by id, or by project and name." })
  async pipeline(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the pipeline; or give `projectId` and `name` instead." })
    id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "Project of the pipeline, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "Name of the pipeline, with `projectId`." }) name?: string | null,
  ): Promise<Pipeline | null> {
    const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key ? await this.deps.pipelines.getByName(by.key.projectId, by.key.name) : await this.deps.pipelines.get(by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
    return row ? Pipeline.from(row) : null;
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
    const result = await this.deps.pipelines.list(
      { projectIds, nameContains: filter?.nameContains ?? undefined },
      page,
      pipelineSort(orderBy),
    );
    return PipelineConnection.from(result, Pipeline.from);
  }

  @Query(() => PipelineVersion, {
    nullable: true,
    description: "A pipeline version by id, or by pipeline and number; null when there is none.",
  })
  async pipelineVersion(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the pipeline version." }) id?: string | null,
    @Arg("pipelineId", () => ID, { nullable: true, description: "The version's pipeline, with `version`." }) pipelineId?: string | null,
    @Arg("version", () => Int, { nullable: true, description: "The version's number in its pipeline." }) version?: number | null,
  ): Promise<PipelineVersion | null> {
    const by = lookupBy({ id, pipelineId, version }, { key: ["pipelineId", "version"] });
    const row = by.key
      ? await this.deps.pipelines.getVersionByNumber(by.key.pipelineId, by.key.version)
      : await this.deps.pipelines.getVersion(by.id);
    const parentId = row?.pipelineId ?? by.key?.pipelineId;
    const pipeline = parentId ? await this.deps.pipelines.get(parentId) : null;
    ctx.authz.require(Permission.READ, pipeline?.projectId);
    return row ? PipelineVersion.from(row) : null;
  }

  @Query(() => PipelineVersionDiff, { description: "What changed from one version of a pipeline to another." })
  async pipelineVersionDiff(
    @Ctx() ctx: RequestContext,
    @Arg("from", () => ID, { description: "UUID of the version to compare from." }) from: string,
    @Arg("to", () => ID, { description: "UUID of the version to compare to; both must be versions of the same pipeline." }) to: string,
  ): Promise<PipelineVersionDiff> {
    const d = await this.deps.pipelines.diff(from, to);
    const pipeline = await this.deps.pipelines.get(d.from.pipelineId);
    ctx.authz.require(Permission.READ, pipeline?.projectId);
    return PipelineVersionDiff.from(d.from, d.to, d.diff);
  }

  @FieldResolver(() => PipelineVersion, {
    nullable: true,
    description: "The newest version; null only before the first version is stored.",
  })
  async latestVersion(@Root() pipeline: Pipeline, @Ctx() ctx: RequestContext): Promise<PipelineVersion | null> {
    ctx.authz.require(Permission.READ, pipeline.projectId);
    const row = pipeline.latestVersionId ? await this.deps.pipelines.getVersion(pipeline.latestVersionId) : null;
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
      await this.deps.pipelines.listVersions(pipeline.id, page, pipelineVersionSort(orderBy)),
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
        const r = await this.deps.pipelines.apply(tx, input.projectId, input.spec, input.baseDir ?? "");
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
