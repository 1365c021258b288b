import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import type { EndpointSeriesPoint } from "../serving";
import type { StageHealthPoint as StagePoint } from "./stage-health.service";

@ObjectType({ description: "Failed or lost stage attempts of one kind." })
export class FailureKindCount {
  @Field({ description: "The failure kind: a runner or engine failure code (STAGE_ERROR, TIMEOUT, LEASE_EXPIRED, …), or OTHER." })
  kind: string;

  @Field(() => Int, { description: "Attempts that failed so." })
  count: number;
}

@ObjectType({ description: "One step of a stage's health series: the attempts that started in [at, at + step)." })
export class StageHealthPoint {
  @Field({ description: "The step's start." })
  at: Date;

  @Field(() => Int, { description: "Attempts started in the step." })
  attempts: number;

  @Field(() => Int, { description: "Of them, attempts that succeeded." })
  succeeded: number;

  @Field(() => Int, { description: "Attempts that failed (retried or not)." })
  failed: number;

  @Field(() => Int, { description: "Attempts canceled." })
  canceled: number;

  @Field(() => Int, { description: "Attempts whose lease expired (their runner vanished)." })
  lost: number;

  @Field(() => Int, { description: "Attempts still running." })
  running: number;

  @Field(() => Int, { description: "Attempts after a stage run's first: retries." })
  retries: number;

  @Field(() => [FailureKindCount], { description: "Failed and lost attempts by kind; kinds with none are left out." })
  failures: FailureKindCount[];

  @Field(() => Float, { nullable: true, description: "Median duration of finished attempts, seconds (exact); null with none." })
  durationP50: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "99th percentile duration of finished attempts, seconds (exact, interpolated); null with none.",
  })
  durationP99: number | null;

  @Field(() => Float, { nullable: true, description: "Longest finished attempt, seconds; null with none." })
  durationMax: number | null;

  @Field(() => Float, { nullable: true, description: "Median queue wait (ready → started), seconds; null with none." })
  queueWaitP50: number | null;

  @Field(() => Float, { nullable: true, description: "99th percentile queue wait, seconds; null with none." })
  queueWaitP99: number | null;

  @Field(() => Float, { nullable: true, description: "Longest queue wait, seconds; null with none." })
  queueWaitMax: number | null;

  @Field(() => Float, { description: "Rows of the dataset versions the step's successful attempts read." })
  rowsIn: number;

  @Field(() => Float, { description: "Rows of the dataset versions they produced." })
  rowsOut: number;

  static from(p: StagePoint): StageHealthPoint {
    return Object.assign(new StageHealthPoint(), p, { failures: p.failures.map((f) => Object.assign(new FailureKindCount(), f)) });
  }
}

@ObjectType({ description: "A stage's operational health over a window, one point per step (empty steps included), oldest first." })
export class StageHealth {
  @Field(() => ID, { description: "The pipeline." })
  pipelineId: string;

  @Field({ description: "The stage's name." })
  stage: string;

  @Field(() => Int, { description: "Seconds per point." })
  step: number;

  @Field(() => [StageHealthPoint], { description: "One point per step of [from, to)." })
  points: StageHealthPoint[];
}

@ObjectType({ description: "One step of an endpoint's health series: the requests of the minutes starting in [at, at + step)." })
export class EndpointHealthPoint {
  @Field({ description: "The step's start." })
  at: Date;

  @Field(() => Int, { description: "Requests, whatever their outcome." })
  requests: number;

  @Field(() => Int, { description: "Requests that got no answer: badRequests + refused + serverErrors." })
  errors: number;

  @Field(() => Int, { description: "Requests answered 400/413 (the request was wrong)." })
  badRequests: number;

  @Field(() => Int, { description: "Requests answered 409 (the version may not serve)." })
  refused: number;

  @Field(() => Int, { description: "Requests that failed in the server (500)." })
  serverErrors: number;

  @Field(() => Float, { nullable: true, description: "errors / requests; null without requests." })
  errorRate: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "Median latency of answered requests, ms: an estimate from the latency buckets; null without any.",
  })
  p50Ms: number | null;

  @Field(() => Float, {
    nullable: true,
    description: "99th percentile latency, ms: an estimate from the latency buckets; null without any.",
  })
  p99Ms: number | null;

  @Field(() => Float, { nullable: true, description: "Mean latency of answered requests, ms; null without any." })
  meanMs: number | null;

  @Field(() => Float, { description: "Rows (instances) of the requests." })
  rows: number;

  @Field(() => Float, { description: "Process CPU seconds of onnxruntime runs attributed to the requests (by rows)." })
  cpuSeconds: number;

  @Field(() => [Int], { description: "Answered requests per latency bucket (bounds in latencyBucketBoundsMs; the last bucket is +Inf)." })
  latencyBuckets: number[];

  static from(p: EndpointSeriesPoint): EndpointHealthPoint {
    return Object.assign(new EndpointHealthPoint(), p);
  }
}

@ObjectType({ description: "An endpoint's (served name's) operational health over a window, one point per step, oldest first." })
export class EndpointHealth {
  @Field({ description: "The served name." })
  servedName: string;

  @Field(() => Int, { description: "Seconds per point (whole minutes)." })
  step: number;

  @Field(() => [Float], { description: "Upper bounds of the latency buckets, ms; a last, +Inf bucket follows them." })
  latencyBucketBoundsMs: number[];

  @Field(() => [EndpointHealthPoint], { description: "One point per step of [from, to)." })
  points: EndpointHealthPoint[];
}
