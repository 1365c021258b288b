import { Arg, Ctx, ID, Int, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { Permission } from "../kernel/roles";
import { type EndpointStatsService, LATENCY_BUCKET_BOUNDS_MS } from "../serving";
import { seriesPoints } from "./series-window";
import type { StageHealthService } from "./stage-health.service";
import { EndpointHealth, EndpointHealthPoint, StageHealth, StageHealthPoint } from "./health.types";

/** What HealthResolver uses. */
export interface HealthResolverDeps {
  stageHealth: StageHealthService;
  endpointStats: EndpointStatsService;
}

@Resolver()
export class HealthResolver {
  constructor(readonly deps: HealthResolverDeps) {}

  @Query(() => StageHealth, {
    description:
      "A stage's health over [from, to): attempts, outcomes, retries, failure kinds, duration and queue-wait quantiles, rows in and out, one point per `step` seconds (at most 1000 points). Needs READ on the pipeline's project.",
  })
  async stageHealth(
    @Ctx() ctx: RequestContext,
    @Arg("pipeline", () => ID, { description: "The pipeline's id." }) pipeline: string,
    @Arg("stage", { description: "The stage's name." }) stage: string,
    @Arg("from", { description: "The window's start (inclusive)." }) from: Date,
    @Arg("to", { description: "The window's end (exclusive)." }) to: Date,
    @Arg("step", () => Int, { description: "Seconds per point, at least 1." }) step: number,
  ): Promise<StageHealth> {
    const projectId = await this.deps.stageHealth.projectOfPipeline(pipeline);
    ctx.authz.require(Permission.READ, projectId);
    if (!projectId) throw new NotFoundError("Pipeline", pipeline);
    const points = await this.deps.stageHealth.series({ pipelineId: pipeline, stage, from, to, stepSeconds: step });
    return Object.assign(new StageHealth(), { pipelineId: pipeline, stage, step, points: points.map((p) => StageHealthPoint.from(p)) });
  }

  @Query(() => EndpointHealth, {
    description:
      "A served name's (endpoint's) request health over [from, to): requests, errors by kind, latency p50/p99 (estimated from buckets), rows and CPU, one point per `step` seconds (whole minutes, at most 1000 points). Needs READ on the project.",
  })
  async endpointHealth(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project of the served name." }) projectId: string,
    @Arg("servedName", { description: "The served name: a deployment's endpoint or a registered model's name." }) servedName: string,
    @Arg("from", { description: "The window's start (inclusive; minutes starting at or after it)." }) from: Date,
    @Arg("to", { description: "The window's end (exclusive)." }) to: Date,
    @Arg("step", () => Int, { description: "Seconds per point: a whole number of minutes (60, 300, 3600, …)." }) step: number,
    @Arg("modelVersionId", () => ID, { nullable: true, description: "Only this model version's requests." }) modelVersionId?: string | null,
    @Arg("includeShadow", { defaultValue: false, description: "Count the copies sent to a shadow model too (never seen by callers)." })
    includeShadow?: boolean,
  ): Promise<EndpointHealth> {
    ctx.authz.require(Permission.READ, projectId);
    seriesPoints(from, to, step, 60);
    const points = await this.deps.endpointStats.series({
      projectId,
      servedName,
      from,
      to,
      stepMs: step * 1000,
      ...(modelVersionId ? { modelVersionId } : {}),
      variants: includeShadow ? ["primary", "canary", "shadow"] : ["primary", "canary"],
    });
    return Object.assign(new EndpointHealth(), {
      servedName,
      step,
      latencyBucketBoundsMs: [...LATENCY_BUCKET_BOUNDS_MS],
      points: points.map((p) => EndpointHealthPoint.from(p)),
    });
  }
}
