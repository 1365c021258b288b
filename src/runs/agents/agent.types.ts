/**
 * GraphQL types of the runner API: what a remote agent (`sluice runner`) sends and receives, and
 * the `runners` list. `runners/PROTOCOL.md` ("Remote agent") describes the exchange.
 */
import { GraphQLJSONObject } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { FilterBy, ListTypes } from "../../kernel/graphql/list";
import { CODE, ErrorInterface, MESSAGE, MutationResult, registerErrorMember } from "../../kernel/graphql/results";
import { LeaseLostError } from "./agent.errors";
import { ErrorCode } from "../../kernel/errors";
import type { RunnerAgentRow } from "./runner-agent.entity";

/** Whether an agent is alive, as the server sees it. */
export enum RunnerStatus {
  /** It heartbeated within the last three heartbeat intervals. */
  ONLINE = "ONLINE",
  /** No heartbeat for three heartbeat intervals: it died, or lost the network. */
  OFFLINE = "OFFLINE",
  /** It deregistered (drained and stopped). */
  STOPPED = "STOPPED",
}
registerEnumType(RunnerStatus, {
  name: "RunnerStatus",
  description: "Whether a remote runner is alive.",
  valuesConfig: {
    STOPPED: { description: "It deregistered (drained and stopped)." },
    ONLINE: { description: "It heartbeated within the last three heartbeat intervals." },
    OFFLINE: { description: "No heartbeat for three heartbeat intervals: it died or lost the network." },
  },
});

/** How an attempt ended, as an agent reports it. */
export enum AttemptStatus {
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
  CANCELED = "CANCELED",
}
registerEnumType(AttemptStatus, {
  name: "AttemptStatus",
  description: "How an attempt ended, as its runner reports it.",
  valuesConfig: {
    SUCCEEDED: { description: "The attempt finished and uploaded every declared output." },
    FAILED: { description: "The attempt failed; `failure` says how." },
    CANCELED: { description: "The attempt stopped because the run was canceled." },
  },
});

@ObjectType("RunnerAgent", { description: "A remote runner (`sluice runner`) registered with the server." })
export class RunnerAgent {
  @Field(() => ID, { description: "Server-assigned UUID of the runner." })
  id: string;

  @Field({ description: "Unique; registering the same name again updates this runner." })
  name: string;

  @Field(() => [String], { description: "What it offers; a stage's runner labels must all be among them." })
  labels: string[];

  @Field(() => Int, { description: "Attempts it runs at once." })
  concurrency: number;

  @Field({ description: "The machine it runs on, as it reported; empty when not given." })
  hostname: string;

  @Field({ description: "The agent's software version." })
  version: string;

  @Field({ description: "When it first registered." })
  registeredAt: Date;

  @Field({ description: "Its last heartbeat or lease request." })
  lastSeenAt: Date;

  @Field(() => Date, { nullable: true, description: "When it deregistered." })
  stoppedAt: Date | null;

  @Field(() => RunnerStatus, { description: "Whether it is alive: ONLINE, OFFLINE or STOPPED." })
  status: RunnerStatus;

  static from(row: RunnerAgentRow, offlineAfterMs: number, now = Date.now()): RunnerAgent {
    const status = row.stoppedAt
      ? RunnerStatus.STOPPED
      : now - row.lastSeenAt.getTime() > offlineAfterMs
        ? RunnerStatus.OFFLINE
        : RunnerStatus.ONLINE;
    return Object.assign(new RunnerAgent(), {
      id: row.id,
      name: row.name,
      labels: row.labels,
      concurrency: row.concurrency,
      hostname: row.hostname,
      version: row.version,
      registeredAt: row.registeredAt,
      lastSeenAt: row.lastSeenAt,
      stoppedAt: row.stoppedAt,
      status,
    });
  }
}

export const {
  Connection: RunnerAgentConnection,
  Order: RunnerAgentOrder,
  sortOf: runnerAgentSort,
  Filter: RunnerAgentFilter,
} = ListTypes(RunnerAgent, "RunnerAgent", {
  orderBy: { NAME: "name", LAST_SEEN_AT: "lastSeenAt", REGISTERED_AT: "registeredAt" } as const,
  defaultOrder: { property: "name", direction: "ASC" },
  filter: {
    status: FilterBy.oneOf(RunnerStatus, "Only runners with this liveness status."),
    label: FilterBy.text("Only runners offering this label."),
  },
});
export type RunnerAgentConnection = InstanceType<typeof RunnerAgentConnection>;
export type RunnerAgentOrder = InstanceType<typeof RunnerAgentOrder>;
export type RunnerAgentFilter = InstanceType<typeof RunnerAgentFilter>;

@InputType({ description: "A remote runner announcing itself: name, labels and capacity." })
export class RegisterRunnerInput {
  @Field({ description: "Unique name, 1-128 characters of letters, digits and _ . : -; the same name again updates the runner." })
  name: string;

  @Field(() => [String], { description: "What the runner offers (at most 32 labels of letters, digits and _ . -)." })
  labels: string[];

  @Field(() => Int, { description: "Attempts it runs at once, 1-1024." })
  concurrency: number;

  @Field(() => String, { nullable: true, description: "The machine it runs on, for display." })
  hostname?: string | null;

  @Field(() => String, { nullable: true, description: "The agent's software version, for display." })
  version?: string | null;
}

@ObjectType({ description: "The registered runner and the timing it must keep." })
export class RegisterRunnerPayload {
  @Field(() => RunnerAgent, { description: "The runner as registered." })
  runner: RunnerAgent;

  @Field(() => Int, { description: "How long a lease lasts without a heartbeat." })
  leaseMs: number;

  @Field(() => Int, { description: "How often to heartbeat; three missed intervals show the runner OFFLINE." })
  heartbeatIntervalMs: number;

  @Field(() => Int, { description: "The longest `waitMs` a lease request may ask for." })
  maxWaitMs: number;
}

@InputType({ description: "Names one runner." })
export class RunnerIdInput {
  @Field(() => ID, { description: "The runner's id, from `registerRunner`." })
  runnerId: string;
}

@ObjectType({ description: "The runner after the change." })
export class RunnerPayload {
  @Field(() => RunnerAgent, { description: "The runner after the change." })
  runner: RunnerAgent;

  @Field(() => Int, { description: "Stage runs it still held, given back to the queue." })
  released: number;
}

@InputType({ description: "A runner's request for queued stage runs matching its labels." })
export class LeaseStageRunsInput {
  @Field(() => ID, { description: "The runner's id, from `registerRunner`." })
  runnerId: string;

  @Field(() => Int, { description: "Most stage runs to lease, 1-1024 (the runner's free slots)." })
  max: number;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 0,
    description: "Long poll: when nothing is claimable, wait up to this long (at most 30,000 ms) for work.",
  })
  waitMs?: number | null;
}

@ObjectType({ description: "An input of a leased stage run: the artifact and where to download it." })
export class LeasedInput {
  @Field({ description: "Name of the stage input." })
  name: string;

  @Field(() => ID, { description: "The artifact bound to the input." })
  artifactId: string;

  @Field({ description: "The artifact's kind: Dataset, FeatureSet, Model, Report, Metrics or File." })
  kind: string;

  @Field({ description: "`sha256:<hex>`; check the download against it." })
  hash: string;

  @Field(() => Float, { description: "Size of the content in bytes." })
  size: number;

  @Field({ description: "True when the artifact is a folder (downloaded as a tar archive)." })
  isDirectory: boolean;

  @Field(() => GraphQLJSONObject, { description: "The artifact's metadata, as its producer attached it." })
  metadata: Record<string, unknown>;

  @Field({
    description:
      "`GET` it with the runner's token, relative to the API's origin: the bytes of a file, or a tar stream of a folder (gzip when accepted).",
  })
  downloadUrl: string;
}

@ObjectType({ description: "An output a leased stage must produce." })
export class LeasedOutput {
  @Field({ description: "Name of the declared output; `completeStageRun` must upload one per name on success." })
  name: string;

  @Field({ description: "The kind the output must be recorded as." })
  kind: string;
}

@ObjectType({ description: "One attempt of one stage run, leased to a runner: everything it needs to run it." })
export class LeasedTask {
  @Field(() => ID, { description: "The stage run to execute." })
  stageRunId: string;

  @Field(() => ID, { description: "The run the stage run belongs to." })
  runId: string;

  @Field(() => ID, {
    description: "The run's project: a runner keeps warm sandboxed processes per project and never lets two projects share one.",
  })
  projectId: string;

  @Field(() => Int, { description: "1 for the first attempt." })
  attempt: number;

  @Field({ description: "Name of the stage in the pipeline." })
  stageName: string;

  @Field(() => Int, { description: "The lease epoch: send it with logs, uploads and the completion; a newer lease fences this one." })
  epoch: number;

  @Field(() => GraphQLJSONObject, { description: "What to execute: `{ operator }`, `{ module, export? }` or `{ command, cwd?, env? }`." })
  run: Record<string, unknown>;

  @Field({ description: "The folder the spec's relative paths resolve against (on the server's machine)." })
  baseDir: string;

  @Field(() => GraphQLJSONObject, { description: "The stage's parameters after the run's overrides." })
  params: Record<string, unknown>;

  @Field(() => [LeasedInput], { description: "The artifacts bound to the stage's inputs, with where to download them." })
  inputs: LeasedInput[];

  @Field(() => [LeasedOutput], { description: "The outputs the stage declares; each must be uploaded before completing SUCCEEDED." })
  outputs: LeasedOutput[];

  @Field(() => [String], { description: "The stage's runner labels; `network` lets a sandboxed stage use the network." })
  labels: string[];

  @Field(() => Float, { nullable: true, description: "Stop the attempt after this long (a TIMEOUT failure)." })
  timeoutMs: number | null;

  @Field(() => GraphQLJSONObject, {
    description:
      "The project secrets the stage is granted, decrypted, by the variable name it reads them as (`{}` for none). Only the lease answer carries them, to a runner allowed to run in the project: keep them out of logs and disk, mask them in the stage's log lines.",
  })
  secrets: Record<string, string>;
}

@ObjectType({ description: "The stage runs now leased to the runner." })
export class LeaseStageRunsPayload {
  @Field(() => [LeasedTask], { description: "Empty when nothing became claimable within `waitMs`." })
  tasks: LeasedTask[];
}

@InputType({ description: "A runner's heartbeat: it is alive and still running these stage runs." })
export class HeartbeatInput {
  @Field(() => ID, { description: "The runner's id, from `registerRunner`." })
  runnerId: string;

  @Field(() => [ID], { description: "The stage runs the runner is running; their leases are renewed." })
  stageRunIds: string[];
}

@ObjectType({ description: "Whether a runner still holds one stage run." })
export class LeaseState {
  @Field(() => ID, { description: "The stage run named in the heartbeat." })
  stageRunId: string;

  @Field({ description: "False when the lease expired or was taken over: stop the attempt and do not complete it." })
  held: boolean;

  @Field(() => Int, { nullable: true, description: "The current lease epoch when held; an attempt with another epoch is stale." })
  epoch: number | null;

  @Field({ description: "The run was canceled: stop the attempt and complete it CANCELED." })
  cancelRequested: boolean;
}

@ObjectType({ description: "Whether the runner still holds each lease it named." })
export class HeartbeatPayload {
  @Field(() => [LeaseState], { description: "One entry per stage run named in the heartbeat, in the same order." })
  leases: LeaseState[];
}

@InputType({ description: "One chunk of output from one stream." })
export class LogChunkInput {
  @Field({ description: "`stdout` or `stderr`." })
  stream: string;

  @Field({ description: "Lines, each ending in a newline; at most 256 KiB." })
  text: string;
}

@InputType({ description: "Output lines of a leased stage run, sent by its runner." })
export class AppendStageLogsInput {
  @Field(() => ID, { description: "The stage run the output belongs to." })
  stageRunId: string;

  @Field(() => Int, { description: "The lease epoch the stage run was leased with; a stale epoch is refused." })
  epoch: number;

  @Field(() => [LogChunkInput], { description: "At most 100 chunks, stored in order." })
  chunks: LogChunkInput[];
}

@ObjectType({ description: "How many chunks were stored." })
export class AppendStageLogsPayload {
  @Field(() => Int, { description: "Chunks stored." })
  count: number;
}

@InputType({ description: "How an attempt failed." })
export class StageFailureInput {
  @Field({ description: "A stable code: `EXIT_CODE`, `STAGE_ERROR`, `TIMEOUT`, … (runners/PROTOCOL.md)." })
  type: string;

  @Field({ description: "What went wrong, for people." })
  message: string;

  @Field({ defaultValue: false, description: "True stops retries even when the stage's policy has attempts left." })
  nonRetryable: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Extra JSON about the failure, e.g. an exit code." })
  details?: Record<string, unknown> | null;
}

@InputType({
  description: "What an attempt consumed on the runner's machine, as the runner measured it (runners/contract.ts `StageUsage`).",
})
export class StageUsageInput {
  @Field(() => Float, { description: "CPU seconds, user plus system." })
  cpuSeconds: number;

  @Field(() => Float, { description: "Wall seconds the stage ran." })
  wallSeconds: number;

  @Field(() => Float, { nullable: true, description: "Peak resident memory in bytes, when measured." })
  peakMemoryBytes?: number | null;

  @Field(() => Float, { nullable: true, description: "Bytes read through read system calls, when measured." })
  bytesRead?: number | null;

  @Field(() => Float, { nullable: true, description: "Bytes written through write system calls, when measured." })
  bytesWritten?: number | null;

  @Field({ description: "How it was measured: `process-tree`, `process` or `worker-thread`." })
  method: string;
}

@InputType({ description: "An output, as `PUT /artifacts/uploads` stored it." })
export class UploadedOutputInput {
  @Field({ description: "Name of the declared output." })
  name: string;

  @Field({ description: "`sha256:<hex>` of the content, as the upload returned it." })
  hash: string;

  @Field({ description: "The stored object's address, as the upload returned it." })
  uri: string;

  @Field(() => Float, { description: "Size in bytes, as the upload returned it." })
  size: number;

  @Field({ description: "True when the output is a folder, as the upload returned it." })
  isDirectory: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "JSON to record with the artifact." })
  metadata?: Record<string, unknown> | null;
}

@InputType({ description: "How a leased attempt ended, with its failure or its outputs." })
export class CompleteStageRunInput {
  @Field(() => ID, { description: "The stage run whose attempt ended." })
  stageRunId: string;

  @Field(() => Int, { description: "The epoch the stage run was leased with." })
  epoch: number;

  @Field(() => AttemptStatus, { description: "How the attempt ended." })
  status: AttemptStatus;

  @Field(() => StageFailureInput, { nullable: true, description: "Required when FAILED." })
  failure?: StageFailureInput | null;

  @Field(() => [UploadedOutputInput], { nullable: true, description: "Every declared output, when SUCCEEDED." })
  outputs?: UploadedOutputInput[] | null;

  @Field(() => StageUsageInput, {
    nullable: true,
    description: "What the attempt consumed, as the runner measured it; recorded on the attempt.",
  })
  usage?: StageUsageInput | null;
}

@ObjectType({ description: "The stage run's status after the completion." })
export class CompleteStageRunPayload {
  @Field(() => ID, { description: "The stage run that was completed." })
  stageRunId: string;

  @Field({ description: "The stage run's status now: SUCCEEDED, FAILED, CANCELED, or QUEUED for a retry." })
  status: string;
}

@ObjectType("LeaseLostError", {
  implements: ErrorInterface,
  description: "The runner no longer holds the stage run (its lease expired or was taken over); nothing was changed.",
})
export class LeaseLostProblem implements ErrorInterface {
  @Field({ description: MESSAGE })
  message: string;

  @Field(() => ErrorCode, { description: CODE })
  code: ErrorCode;

  @Field(() => ID, { description: "The stage run the runner no longer holds." })
  stageRunId: string;

  @Field(() => Int, { description: "The epoch the runner sent." })
  epoch: number;

  @Field(() => Int, { nullable: true, description: "The stage run's lease epoch now." })
  currentEpoch: number | null;

  @Field({ description: "`LEASE_LOST` (another lease replaced it) or `NOT_RUNNING` (the stage run is no longer running)." })
  reason: string;
}

registerErrorMember(LeaseLostError, LeaseLostProblem, (err) => ({
  stageRunId: err.stageRunId,
  epoch: err.epoch,
  currentEpoch: err.currentEpoch,
  reason: err.reason,
}));

export const RegisterRunnerResult = MutationResult("RegisterRunner", RegisterRunnerPayload);
export const DeregisterRunnerResult = MutationResult("DeregisterRunner", RunnerPayload);
export const LeaseStageRunsResult = MutationResult("LeaseStageRuns", LeaseStageRunsPayload);
export const HeartbeatResult = MutationResult("Heartbeat", HeartbeatPayload);
export const AppendStageLogsResult = MutationResult("AppendStageLogs", AppendStageLogsPayload, [LeaseLostProblem]);
export const CompleteStageRunResult = MutationResult("CompleteStageRun", CompleteStageRunPayload, [LeaseLostProblem]);
