import { Arg, Args, Ctx, FieldResolver, ID, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
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
import type { Database } from "../db/data-source";
import type { TrackingService } from "./tracking.service";

/** Experiments and tracking runs, read-only (they are written through the MLflow API and the train operator). */
/** What ExperimentResolver uses. */
export interface ExperimentResolverDeps {
  db: Database;
  tracking: TrackingService;
}

@Resolver(() => Experiment)
export class ExperimentResolver {
  constructor(readonly deps: ExperimentResolverDeps) {}

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
    const qb = this.deps.db.dataSource.getRepository(TrackingExperimentRow).createQueryBuilder("e");
    if (projectIds !== "all") {
      if (projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("e.projectId IN (:...ids)", { ids: projectIds });
    }
    if (filter?.nameContains) qb.andWhere("e.name ILIKE :p", { p: `%${escapeLike(filter.nameContains)}%` });
    if (!filter?.includeDeleted) qb.andWhere("e.lifecycleStage = 'active'");
    return ExperimentConnection.from(await paginate(qb, page, experimentSort(orderBy)), Experiment.from);
  }

  @Query(() => Experiment, { nullable: true, description: "An experiment by id, or by project and name; null when there is none." })
  async experiment(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "Id of the experiment." }) id?: string | null,
    @Arg("projectId", () => ID, { nullable: true, description: "The experiment's project, with `name`." }) projectId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The experiment's name, unique in its project." }) name?: string | null,
  ): Promise<Experiment | null> {
    const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
    if (by.key) ctx.authz.require(Permission.READ, by.key.projectId);
    const row = by.key
      ? await this.deps.tracking.experimentByName(by.key.projectId, by.key.name)
      : await this.deps.tracking.experiment(undefined, by.id);
    ctx.authz.require(Permission.READ, row?.projectId ?? by.key?.projectId);
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
    const experiment = await this.deps.tracking.experiment(undefined, experimentId);
    ctx.authz.require(Permission.READ, experiment?.projectId);
    const qb = this.deps.db.dataSource
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
    const row = await this.deps.tracking.run(id);
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? TrackingRun.from(row) : null;
  }
}

/** What TrackingRunResolver uses. */
export interface TrackingRunResolverDeps {
  tracking: TrackingService;
}

@Resolver(() => TrackingRun)
export class TrackingRunResolver {
  constructor(readonly deps: TrackingRunResolverDeps) {}

  @FieldResolver(() => [TrackingMetric], { description: "Every logged value of `key`, in logging order (at most 25,000)." })
  async metricHistory(
    @Root() run: TrackingRun,
    @Ctx() ctx: RequestContext,
    @Arg("key", { description: "Name of the metric." }) key: string,
  ): Promise<TrackingMetric[]> {
    ctx.authz.require(Permission.READ, run.projectId);
    return (await this.deps.tracking.metricHistory(run.id, key)).items.map(TrackingMetric.from);
  }
}
