import { hideServerPathsIn } from "../kernel/server-paths";
import { GraphQLJSONObject } from "graphql-scalars";
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../kernel/graphql/list";
import { MutationResult } from "../kernel/graphql/results";
import { Artifact } from "../artifacts/artifact.types";
import type { EventRow } from "../events/event.entity";
import { RUN_STATUSES, STAGE_STATUSES, type RunStatus, type StageStatus, type TriggerKind } from "./engine/run-state";
import type { RunRow } from "./run.entity";
import type { StageAttemptRow } from "./stage-attempt.entity";
import type { StageRunRow } from "./stage-run.entity";
import { ResourceUsage } from "./usage.types";

export { Artifact };

const asEnum = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as Record<T, T>;
export const RunStatusEnum = asEnum(RUN_STATUSES);
export const StageStatusEnum = asEnum(STAGE_STATUSES);
export const TriggerKindEnum = asEnum<TriggerKind>(["MANUAL", "SCHEDULE", "EVENT", "RERUN"]);
registerEnumType(RunStatusEnum, {
  description: "Where a run stands: queued, running, or one of three final statuses.",
  name: "RunStatus",
  valuesConfig: {
    SUCCEEDED: { description: "Final: every stage succeeded (or reused outputs)." },
    RUNNING: { description: "At least one stage has started and the run is not finished." },
    QUEUED: { description: "Created; no stage has started yet." },
    FAILED: { description: "Final: a stage failed with no attempts left." },
    CANCELED: { description: "Final: canceled on request." },
  },
});
registerEnumType(StageStatusEnum, {
  description: "Where a stage run stands.",
  name: "StageStatus",
  valuesConfig: {
    WAITING: { description: "A gate stage waiting for its decision." },
    SUCCEEDED: { description: "Final: done, or its outputs were reused." },
    SKIPPED: { description: "Final: not run because an upstream stage failed." },
    RUNNING: { description: "A runner is executing an attempt." },
    QUEUED: { description: "Waiting for a runner, or for a retry delay." },
    PENDING: { description: "Waiting for its upstream stages." },
    FAILED: { description: "Final: failed with no attempts left." },
    CANCELED: { description: "Final: canceled with its run." },
  },
});
registerEnumType(TriggerKindEnum, {
  name: "TriggerKind",
  description: "How a run was started.",
  valuesConfig: {
    SCHEDULE: { description: "Started by a schedule's tick." },
    RERUN: { description: "A rerun of an earlier run." },
    MANUAL: { description: "Started by a person or client through the API." },
    EVENT: { description: "Started by an event rule." },
  },
});

@ObjectType({ description: "One execution of a pipeline version." })
export class Run {
  @Field(() => ID, { description: "Server-assigned UUID of the run." })
  id: string;

  @Field(() => Int, { description: "1, 2, 3… per pipeline." })
  number: number;

  @Field(() => ID, { description: "Project of the run's pipeline." })
  projectId: string;

  @Field(() => ID, { description: "The pipeline the run executes." })
  pipelineId: string;

  @Field(() => ID, { description: "The exact pipeline version the run executes." })
  pipelineVersionId: string;

  @Field(() => RunStatusEnum, { description: "Where the run stands; SUCCEEDED, FAILED and CANCELED are final." })
  status: RunStatus;

  @Field(() => GraphQLJSONObject, { description: "Parameter overrides by stage name." })
  params: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'String tags: `{ team: "fraud" }`.' })
  tags: Record<string, unknown>;

  @Field(() => TriggerKindEnum, { description: "How the run was started." })
  triggerKind: TriggerKind;

  @Field(() => String, {
    nullable: true,
    description: "What started it: the trigger fire's id for a schedule or event rule, the parent run's id for a rerun; null when manual.",
  })
  triggerRef: string | null;

  @Field(() => ID, { nullable: true, description: "For a rerun, the run whose outputs it reuses." })
  parentRunId: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "The principal that started it (for a schedule or event rule, its creator); null when unknown.",
  })
  createdBy: string | null;

  @Field({ description: "When the run was created (queued)." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When the first stage started; null before." })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When the run reached a final status; null until then." })
  finishedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When cancellation was asked for; null when it was not." })
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
      // A failure's stack names the server's folders; answers show them as placeholders.
      error: hideServerPathsIn(row.error),
    });
  }
}

@ObjectType({ description: "One stage of one run." })
export class StageRun {
  @Field(() => ID, { description: "Server-assigned UUID of the stage run." })
  id: string;

  /** The run's project, carried along so field resolvers authorize without a lookup. */
  projectId: string;

  @Field(() => ID, { description: "The run the stage run belongs to." })
  runId: string;

  @Field({ description: "Name of the stage in the pipeline." })
  stageName: string;

  @Field(() => StageStatusEnum, { description: "Where the stage stands; SUCCEEDED, FAILED, CANCELED and SKIPPED are final." })
  status: StageStatus;

  @Field(() => Int, { description: "The current or last attempt, from 1 (0 before the first)." })
  attempt: number;

  @Field(() => Int, { description: "Attempts allowed by the stage's retry policy, from 1." })
  maxAttempts: number;

  @Field(() => [String], { description: "Labels a runner must all offer to run it." })
  runnerLabels: string[];

  @Field({ description: "`operator`, `module` or `command`." })
  runKind: string;

  @Field(() => GraphQLJSONObject, { description: "The stage's parameters after the run's overrides." })
  params: Record<string, unknown>;

  @Field(() => Date, { nullable: true, description: "When it last became QUEUED; null before." })
  queuedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "A retry waits until then." })
  notBefore: Date | null;

  @Field(() => Date, { nullable: true, description: "When the current or last attempt started; null before." })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When it reached a final status; null until then." })
  finishedAt: Date | null;

  @Field(() => String, { nullable: true, description: "Who runs it: a server's embedded runner or a remote agent." })
  leaseOwner: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Hash of the stage's spec, params and inputs, for output reuse; null when caching does not apply.",
  })
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
      failure: hideServerPathsIn(row.failure),
    });
  }
}

@ObjectType({ description: "One attempt of a stage run." })
export class StageAttempt {
  @Field(() => Int, { description: "The attempt's number, from 1." })
  attempt: number;

  @Field({ description: "Who ran it: a server's embedded runner or a remote agent." })
  runner: string;

  @Field(() => Int, { description: "The lease epoch it ran under." })
  leaseEpoch: number;

  @Field({ description: "When it started." })
  startedAt: Date;

  @Field(() => Date, { nullable: true, description: "When it ended; null while running." })
  finishedAt: Date | null;

  @Field(() => String, { nullable: true, description: "SUCCEEDED, FAILED, CANCELED, LOST or INTERRUPTED; null while running." })
  outcome: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: "`{ type, message, nonRetryable, details }` when it failed; null otherwise.",
  })
  failure: Record<string, unknown> | null;

  @Field(() => ResourceUsage, {
    nullable: true,
    description: "What the attempt consumed, as its runner measured it; null while running or when the runner measured nothing.",
  })
  usage: ResourceUsage | null;

  static from(row: StageAttemptRow): StageAttempt {
    return Object.assign(new StageAttempt(), {
      attempt: row.attempt,
      runner: row.runner,
      leaseEpoch: row.leaseEpoch,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      outcome: row.outcome,
      failure: hideServerPathsIn(row.failure),
      usage: ResourceUsage.ofAttempt(row),
    });
  }
}

@ObjectType({ description: "An artifact a stage run read, and the input it read it as." })
export class ArtifactUse {
  @Field({ description: "The stage input the artifact was read as." })
  inputName: string;

  @Field(() => Artifact, { description: "The artifact that was read." })
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
  @Field({ description: "The stage input the artifact was read as." })
  inputName: string;

  @Field(() => StageRun, { description: "The stage run that read the artifact." })
  stageRun: StageRun;
}

@ObjectType({ description: "A state change of a run or one of its stages." })
export class RunEvent {
  @Field({ description: "Pass as `after` to resume from here." })
  cursor: string;

  @Field({ description: "e.g. `run.started`, `stage.succeeded`, `stage.retrying`." })
  type: string;

  @Field(() => ID, { description: "The run the event is about." })
  runId: string;

  @Field(() => ID, { nullable: true, description: "The stage run, for a stage event; null for a run event." })
  stageRunId: string | null;

  @Field(() => String, { nullable: true, description: "Name of the stage, for a stage event; null for a run event." })
  stage: string | null;

  @Field(() => GraphQLJSONObject, { description: "Event details; the fields depend on `type`." })
  payload: Record<string, unknown>;

  @Field({ description: "When the change happened." })
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

@InputType({ description: "A pipeline to run, with its version, parameter overrides and tags." })
export class TriggerRunInput {
  @Field(() => ID, { description: "The pipeline to run; the caller needs EDITOR in its project." })
  pipelineId: string;

  @Field(() => Int, { nullable: true, description: "A version number; the latest when omitted." })
  version?: number | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Parameter overrides by stage name: `{ train: { lr: 0.1 } }`." })
  params?: Record<string, Record<string, unknown>> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'String tags: `{ team: "fraud" }`.' })
  tags?: Record<string, string> | null;
}

@InputType({ description: "Names one run." })
export class RunIdInput {
  @Field(() => ID, { description: "UUID of the run." })
  id: string;
}

@InputType({ description: "A finished run to run again, reusing the outputs of stages that need not run." })
export class RerunInput {
  @Field(() => ID, { description: "The finished run to rerun." })
  id: string;

  @Field(() => [String], {
    nullable: true,
    description: "Run these stages and everything below them; by default, every stage that did not succeed.",
  })
  fromStages?: string[] | null;
}

@InputType({ description: "New tags for a run." })
export class SetRunTagsInput {
  @Field(() => ID, { description: "UUID of the run." })
  id: string;

  @Field(() => GraphQLJSONObject, { description: "String tags; replace the run's tags." })
  tags: Record<string, string>;
}

@ObjectType({ description: "The run after the change." })
export class RunPayload {
  @Field(() => Run, { description: "The run after the change." })
  run: Run;

  static of(row: RunRow): RunPayload {
    return Object.assign(new RunPayload(), { run: Run.from(row) });
  }
}

export const RunResult = MutationResult("Run", RunPayload);
