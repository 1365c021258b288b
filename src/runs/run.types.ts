import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import { Artifact } from "../artifacts/artifact.types";
import type { EventRow } from "../events/event.entity";
import type { RunMetricRow } from "./streams/run-metric.entity";
import { RUN_STATUSES, STAGE_STATUSES, type RunStatus, type StageStatus, type TriggerKind } from "./engine/run-state";
import type { RunRow } from "./run.entity";
import type { StageAttemptRow } from "./stage-attempt.entity";
import type { StageLogRow } from "./streams/stage-log.entity";
import type { StageRunRow } from "./stage-run.entity";

export { Artifact };

const asEnum = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as Record<T, T>;
export const RunStatusEnum = asEnum(RUN_STATUSES);
export const StageStatusEnum = asEnum(STAGE_STATUSES);
export const TriggerKindEnum = asEnum<TriggerKind>(["MANUAL", "SCHEDULE", "EVENT", "RERUN"]);
registerEnumType(RunStatusEnum, { name: "RunStatus" });
registerEnumType(StageStatusEnum, { name: "StageStatus" });
registerEnumType(TriggerKindEnum, { name: "TriggerKind", description: "How a run was started." });

@ObjectType({ description: "One execution of a pipeline version." })
export class Run {
  @Field(() => ID)
  id: string;

  @Field(() => Int, { description: "1, 2, 3… per pipeline." })
  number: number;

  @Field(() => ID)
  projectId: string;

  @Field(() => ID)
  pipelineId: string;

  @Field(() => ID)
  pipelineVersionId: string;

  @Field(() => RunStatusEnum)
  status: RunStatus;

  @Field(() => GraphQLJSONObject, { description: "Parameter overrides by stage name." })
  params: Record<string, unknown>;

  @Field(() => GraphQLJSONObject)
  tags: Record<string, unknown>;

  @Field(() => TriggerKindEnum)
  triggerKind: TriggerKind;

  @Field(() => String, { nullable: true })
  triggerRef: string | null;

  @Field(() => ID, { nullable: true, description: "For a rerun, the run whose outputs it reuses." })
  parentRunId: string | null;

  @Field(() => ID, { nullable: true })
  createdBy: string | null;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;

  @Field(() => Date, { nullable: true })
  cancelRequestedAt: Date | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The first failing stage and its failure." })
  error: Record<string, unknown> | null;

  static from(row: RunRow): Run {
    return Object.assign(new Run(), {
      id: row.id,
      number: row.number,
      projectId: row.projectId,
      pipelineId: row.pipelineId,
      pipelineVersionId: row.pipelineVersionId,
      status: row.status,
      params: row.params,
      tags: row.tags,
      triggerKind: row.triggerKind,
      triggerRef: row.triggerRef,
      parentRunId: row.parentRunId,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      cancelRequestedAt: row.cancelRequestedAt,
      error: row.error,
    });
  }
}

@ObjectType({ description: "One stage of one run." })
export class StageRun {
  @Field(() => ID)
  id: string;

  /** The run's project, carried along so field resolvers authorize without a lookup. */
  projectId: string;

  @Field(() => ID)
  runId: string;

  @Field()
  stageName: string;

  @Field(() => StageStatusEnum)
  status: StageStatus;

  @Field(() => Int, { description: "The current or last attempt, from 1 (0 before the first)." })
  attempt: number;

  @Field(() => Int)
  maxAttempts: number;

  @Field(() => [String])
  runnerLabels: string[];

  @Field({ description: "`operator`, `module` or `command`." })
  runKind: string;

  @Field(() => GraphQLJSONObject)
  params: Record<string, unknown>;

  @Field(() => Date, { nullable: true })
  queuedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "A retry waits until then." })
  notBefore: Date | null;

  @Field(() => Date, { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Who runs it: a server's embedded runner or a remote agent." })
  leaseOwner: string | null;

  @Field(() => String, { nullable: true })
  cacheKey: string | null;

  @Field(() => ID, { nullable: true, description: "The stage run whose outputs this one reused." })
  reusedFrom: string | null;

  @Field(() => String, { nullable: true, description: "`CACHE` or `RERUN` when outputs were reused." })
  reuseReason: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "`{ type, message, nonRetryable, details }` of the last failure." })
  failure: Record<string, unknown> | null;

  static from(row: StageRunRow, projectId: string): StageRun {
    return Object.assign(new StageRun(), {
      id: row.id,
      projectId,
      runId: row.runId,
      stageName: row.stageName,
      status: row.status,
      attempt: row.attempt,
      maxAttempts: row.maxAttempts,
      runnerLabels: row.runnerLabels,
      runKind: row.runKind,
      params: row.params,
      queuedAt: row.queuedAt,
      notBefore: row.notBefore,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      leaseOwner: row.leaseOwner,
      cacheKey: row.cacheKey,
      reusedFrom: row.reusedFrom,
      reuseReason: row.reuseReason,
      failure: row.failure,
    });
  }
}

@ObjectType({ description: "One attempt of a stage run." })
export class StageAttempt {
  @Field(() => Int)
  attempt: number;

  @Field()
  runner: string;

  @Field(() => Int)
  leaseEpoch: number;

  @Field()
  startedAt: Date;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;

  @Field(() => String, { nullable: true, description: "SUCCEEDED, FAILED, CANCELED, LOST or INTERRUPTED; null while running." })
  outcome: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  failure: Record<string, unknown> | null;

  static from(row: StageAttemptRow): StageAttempt {
    return Object.assign(new StageAttempt(), row);
  }
}

@ObjectType({ description: "An artifact a stage run read, and the input it read it as." })
export class ArtifactUse {
  @Field()
  inputName: string;

  @Field(() => Artifact)
  artifact: Artifact;
}

@ObjectType({ description: "A project secret a stage is granted: its name and the variable the stage reads it as. Never its value." })
export class StageSecretGrant {
  @Field({ description: "The environment variable (command stage) or `ctx.secrets` key (module stage)." })
  variable: string;

  @Field({ description: "The project secret's name." })
  secret: string;
}

@ObjectType({ description: "A stage run that read an artifact." })
export class ArtifactReader {
  @Field()
  inputName: string;

  @Field(() => StageRun)
  stageRun: StageRun;
}

@ObjectType({ description: "A state change of a run or one of its stages." })
export class RunEvent {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field({ description: "e.g. `run.started`, `stage.succeeded`, `stage.retrying`." })
  type: string;

  @Field(() => ID)
  runId: string;

  @Field(() => ID, { nullable: true })
  stageRunId: string | null;

  @Field(() => String, { nullable: true })
  stage: string | null;

  @Field(() => GraphQLJSONObject)
  payload: Record<string, unknown>;

  @Field()
  at: Date;

  static from(row: EventRow): RunEvent {
    const p = row.payload as Record<string, unknown>;
    return Object.assign(new RunEvent(), {
      cursor: row.id,
      type: row.type,
      runId: String(p.runId ?? row.subjectId),
      stageRunId: (p.stageRunId as string | undefined) ?? null,
      stage: (p.stage as string | undefined) ?? null,
      payload: p,
      at: row.createdAt,
    });
  }
}

@ObjectType({ description: "A chunk of a stage run's output." })
export class LogChunk {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field(() => ID)
  stageRunId: string;

  @Field(() => Int)
  attempt: number;

  @Field({ description: "`stdout` or `stderr`." })
  stream: string;

  @Field()
  text: string;

  @Field()
  at: Date;

  static from(row: StageLogRow): LogChunk {
    return Object.assign(new LogChunk(), {
      cursor: row.id,
      stageRunId: row.stageRunId,
      attempt: row.attempt,
      stream: row.stream,
      text: row.text,
      at: row.createdAt,
    });
  }
}

@ObjectType("MetricPoint", { description: "One metric point." })
export class MetricPointType {
  @Field({ description: "Pass as `after` to resume a subscription from here." })
  cursor: string;

  @Field()
  key: string;

  @Field(() => Float)
  value: number;

  @Field(() => Float, { description: "Step or iteration (a whole number)." })
  step: number;

  @Field()
  at: Date;

  @Field(() => ID, { nullable: true })
  stageRunId: string | null;

  static from(row: RunMetricRow): MetricPointType {
    return Object.assign(new MetricPointType(), {
      cursor: String(row.id),
      key: row.key,
      value: row.value,
      step: Number(row.step),
      at: row.at,
      stageRunId: row.stageRunId,
    });
  }
}

export const {
  Connection: LogChunkConnection,
  Order: LogChunkOrder,
  sortOf: logChunkSort,
  Filter: LogChunkFilter,
} = ListTypes(LogChunk, "LogChunk", {
  orderBy: { WRITTEN: "id" } as const,
  defaultOrder: { property: "id", direction: "ASC" },
  orderDescriptions: { WRITTEN: "Sorts by the order the chunks were written in." },
  filter: {
    stream: FilterBy.text("`stdout` or `stderr`."),
  },
});
export type LogChunkConnection = InstanceType<typeof LogChunkConnection>;
export type LogChunkOrder = InstanceType<typeof LogChunkOrder>;
export type LogChunkFilter = InstanceType<typeof LogChunkFilter>;

export const {
  Connection: MetricPointConnection,
  Order: MetricPointOrder,
  sortOf: metricPointSort,
  Filter: MetricPointFilter,
} = ListTypes(MetricPointType, "MetricPoint", {
  orderBy: { STEP: "step" } as const,
  defaultOrder: { property: "step", direction: "ASC" },
  filter: {
    stageRunId: FilterBy.id("Only points one stage run recorded."),
  },
});
export type MetricPointConnection = InstanceType<typeof MetricPointConnection>;
export type MetricPointOrder = InstanceType<typeof MetricPointOrder>;
export type MetricPointFilter = InstanceType<typeof MetricPointFilter>;

export const {
  Connection: RunConnection,
  Order: RunOrder,
  sortOf: runSort,
  Filter: RunFilterInput,
} = ListTypes(Run, "Run", {
  orderBy: { CREATED_AT: "createdAt", NUMBER: "number" } as const,
  defaultOrder: { property: "createdAt", direction: "DESC" },
  filter: {
    projectId: FilterBy.id("Only runs of pipelines in this project."),
    pipelineId: FilterBy.id("Only runs of this pipeline."),
    statuses: FilterBy.someOf(RunStatusEnum, "Only runs in one of these statuses."),
    triggerKind: FilterBy.oneOf(TriggerKindEnum, "Only runs started this way."),
  },
});
export type RunConnection = InstanceType<typeof RunConnection>;
export type RunOrder = InstanceType<typeof RunOrder>;
export type RunFilterInput = InstanceType<typeof RunFilterInput>;

@InputType()
export class TriggerRunInput {
  @Field(() => ID)
  pipelineId: string;

  @Field(() => Int, { nullable: true, description: "A version number; the latest when omitted." })
  version?: number | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Parameter overrides by stage name: `{ train: { lr: 0.1 } }`." })
  params?: Record<string, Record<string, unknown>> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'String tags: `{ team: "fraud" }`.' })
  tags?: Record<string, string> | null;
}

@InputType()
export class RunIdInput {
  @Field(() => ID)
  id: string;
}

@InputType()
export class RerunInput {
  @Field(() => ID, { description: "The finished run to rerun." })
  id: string;

  @Field(() => [String], {
    nullable: true,
    description: "Run these stages and everything below them; by default, every stage that did not succeed.",
  })
  fromStages?: string[] | null;
}

@InputType()
export class SetRunTagsInput {
  @Field(() => ID)
  id: string;

  @Field(() => GraphQLJSONObject)
  tags: Record<string, string>;
}

@InputType()
export class MetricPointInput {
  @Field()
  key: string;

  @Field(() => Float)
  value: number;

  @Field(() => Float, { nullable: true })
  step?: number | null;

  @Field(() => Date, { nullable: true })
  timestamp?: Date | null;
}

@InputType()
export class LogMetricsInput {
  @Field(() => ID)
  runId: string;

  @Field(() => ID, { nullable: true })
  stageRunId?: string | null;

  @Field(() => [MetricPointInput], { description: "At most 10,000 points." })
  points: MetricPointInput[];
}

@ObjectType()
export class RunPayload {
  @Field(() => Run)
  run: Run;

  static of(row: RunRow): RunPayload {
    return Object.assign(new RunPayload(), { run: Run.from(row) });
  }
}

@ObjectType()
export class LogMetricsPayload {
  @Field(() => Int)
  count: number;
}

export const RunResult = MutationResult("Run", RunPayload);
export const LogMetricsResult = MutationResult("LogMetrics", LogMetricsPayload);
