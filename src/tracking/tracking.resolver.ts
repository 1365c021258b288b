import { Arg, Args, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { paginate } from "../kernel/pagination";
import { Permission } from "../kernel/roles";
import { escapeLike } from "../kernel/sql-text";
import { TrackingExperimentRow } from "./experiment.entity";
import { TrackingRunRow } from "./tracking-run.entity";
import {
  Experiment,
  ExperimentConnection,
  ExperimentFilter,
  TrackingMetric,
  TrackingRun,
  TrackingRunConnection,
  ExperimentOrder,
  TrackingRunFilter,
  TrackingRunOrder,
  experimentSort,
  trackingRunSort,
} from "./tracking.types";

/** Experiments and tracking runs, read-only (they are written through the MLflow API and the train operator). */
@Resolver(() => Experiment)
export class ExperimentResolver {
  @Query(() => ExperimentConnection, { description: "Experiments the caller may read, newest first." })
  async experiments(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ExperimentFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ExperimentFilter | null,
    @Arg("orderBy", () => ExperimentOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ExperimentOrder | null,
  ): Promise<ExperimentConnection> {
    let projectIds: "all" | string[];
    if (filter?.projectId) {
      ctx.authz.require(Permission.READ, filter.projectId);
      projectIds = [filter.projectId];
    } else projectIds = ctx.authz.visibleProjects(Permission.READ);
    const qb = ctx.services.db.dataSource.getRepository(TrackingExperimentRow).createQueryBuilder("e");
    if (projectIds !== "all") {
      if (projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("e.projectId IN (:...ids)", { ids: projectIds });
    }
    if (filter?.nameContains) qb.andWhere("e.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    if (!filter?.includeDeleted) qb.andWhere("e.lifecycleStage = 'active'");
    return ExperimentConnection.from(await paginate(qb, page, experimentSort(orderBy)), Experiment.from);
  }

  @Query(() => Experiment, { nullable: true, description: "One experiment by id; null when there is none or the caller may not read it." })
  async experiment(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "Id of the experiment." }) id: string,
  ): Promise<Experiment | null> {
    const row = await ctx.services.tracking.experiment(undefined, id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? Experiment.from(row) : null;
  }

  @Query(() => TrackingRunConnection, {
    description: "Runs of an experiment (children of `parentRunId` when given), newest first by default.",
  })
  async trackingRuns(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("experimentId", () => ID, { description: "Id of the experiment whose runs to list." }) experimentId: string,
    @Arg("filter", () => TrackingRunFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: TrackingRunFilter | null,
    @Arg("orderBy", () => TrackingRunOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: TrackingRunOrder | null,
  ): Promise<TrackingRunConnection> {
    const args = filter ?? {};
    const experiment = await ctx.services.tracking.experiment(undefined, experimentId);
    ctx.authz.require(Permission.READ, experiment?.projectId);
    const qb = ctx.services.db.dataSource
      .getRepository(TrackingRunRow)
      .createQueryBuilder("r")
      .where("r.experimentId = :e", { e: experiment?.id ?? "00000000-0000-0000-0000-000000000000" });
    if (args.parentRunId) qb.andWhere("r.parentRunId = :p", { p: args.parentRunId });
    if (!args.includeDeleted) qb.andWhere("r.lifecycleStage = 'active'");
    return TrackingRunConnection.from(await paginate(qb, page, trackingRunSort(orderBy)), TrackingRun.from);
  }

  @Query(() => TrackingRun, {
    nullable: true,
    description: "One tracking run by id; null when there is none or the caller may not read it.",
  })
  async trackingRun(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "Id of the tracking run (MLflow's run_id)." }) id: string,
  ): Promise<TrackingRun | null> {
    const row = await ctx.services.tracking.run(id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? TrackingRun.from(row) : null;
  }
}

@Resolver(() => TrackingRun)
export class TrackingRunResolver {
  @FieldResolver(() => [TrackingMetric], { description: "Every logged value of `key`, in logging order (at most 25,000)." })
  async metricHistory(
    @Root() run: TrackingRun,
    @Ctx() ctx: RequestContext,
    @Arg("key", { description: "Name of the metric." }) key: string,
  ): Promise<TrackingMetric[]> {
    ctx.authz.require(Permission.READ, run.projectId);
    return (await ctx.services.tracking.metricHistory(run.id, key)).items.map(TrackingMetric.from);
  }
}
