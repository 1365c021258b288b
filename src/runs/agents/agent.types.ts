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
registerEnumType(RunnerStatus, { name: "RunnerStatus", description: "Whether a remote runner is alive." });

/** How an attempt ended, as an agent reports it. */
export enum AttemptStatus {
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
  CANCELED = "CANCELED",
}
registerEnumType(AttemptStatus, { name: "AttemptStatus", description: "How an attempt ended, as its runner reports it." });

@ObjectType("RunnerAgent", { description: "A remote runner (`sluice runner`) registered with the server." })
export class RunnerAgent {
  @Field(() => ID)
  id: string;

  @Field({ description: "Unique; registering the same name again updates this runner." })
  name: string;

  @Field(() => [String], { description: "What it offers; a stage's runner labels must all be among them." })
  labels: string[];

  @Field(() => Int, { description: "Attempts it runs at once." })
  concurrency: number;

  @Field()
  hostname: string;

  @Field({ description: "The agent's software version." })
  version: string;

  @Field()
  registeredAt: Date;

  @Field({ description: "Its last heartbeat or lease request." })
  lastSeenAt: Date;

  @Field(() => Date, { nullable: true, description: "When it deregistered." })
  stoppedAt: Date | null;

  @Field(() => RunnerStatus)
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

@InputType()
export class RegisterRunnerInput {
  @Field({ description: "Unique name, 1-128 characters of letters, digits and _ . : -; the same name again updates the runner." })
  name: string;

  @Field(() => [String], { description: "What the runner offers (at most 32 labels of letters, digits and _ . -)." })
  labels: string[];

  @Field(() => Int, { description: "Attempts it runs at once, 1-1024." })
  concurrency: number;

  @Field(() => String, { nullable: true })
  hostname?: string | null;

  @Field(() => String, { nullable: true })
  version?: string | null;
}

@ObjectType()
export class RegisterRunnerPayload {
  @Field(() => RunnerAgent)
  runner: RunnerAgent;

  @Field(() => Int, { description: "How long a lease lasts without a heartbeat." })
  leaseMs: number;

  @Field(() => Int, { description: "How often to heartbeat; three missed intervals show the runner OFFLINE." })
  heartbeatIntervalMs: number;

  @Field(() => Int, { description: "The longest `waitMs` a lease request may ask for." })
  maxWaitMs: number;
}

@InputType()
export class RunnerIdInput {
  @Field(() => ID)
  runnerId: string;
}

@ObjectType()
export class RunnerPayload {
  @Field(() => RunnerAgent)
  runner: RunnerAgent;

  @Field(() => Int, { description: "Stage runs it still held, given back to the queue." })
  released: number;
}

@InputType()
export class LeaseStageRunsInput {
  @Field(() => ID)
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
  @Field()
  name: string;

  @Field(() => ID)
  artifactId: string;

  @Field()
  kind: string;

  @Field({ description: "`sha256:<hex>`; check the download against it." })
  hash: string;

  @Field(() => Float)
  size: number;

  @Field()
  isDirectory: boolean;

  @Field(() => GraphQLJSONObject)
  metadata: Record<string, unknown>;

  @Field({
    description:
      "`GET` it with the runner's token, relative to the API's origin: the bytes of a file, or a tar stream of a folder (gzip when accepted).",
  })
  downloadUrl: string;
}

@ObjectType({ description: "An output a leased stage must produce." })
export class LeasedOutput {
  @Field()
  name: string;

  @Field()
  kind: string;
}

@ObjectType({ description: "One attempt of one stage run, leased to a runner: everything it needs to run it." })
export class LeasedTask {
  @Field(() => ID)
  stageRunId: string;

  @Field(() => ID)
  runId: string;

  @Field(() => ID, {
    description: "The run's project: a runner keeps warm sandboxed processes per project and never lets two projects share one.",
  })
  projectId: string;

  @Field(() => Int, { description: "1 for the first attempt." })
  attempt: number;

  @Field()
  stageName: string;

  @Field(() => Int, { description: "The lease epoch: send it with logs, uploads and the completion; a newer lease fences this one." })
  epoch: number;

  @Field(() => GraphQLJSONObject, { description: "What to execute: `{ operator }`, `{ module, export? }` or `{ command, cwd?, env? }`." })
  run: Record<string, unknown>;

  @Field({ description: "The folder the spec's relative paths resolve against (on the server's machine)." })
  baseDir: string;

  @Field(() => GraphQLJSONObject)
  params: Record<string, unknown>;

  @Field(() => [LeasedInput])
  inputs: LeasedInput[];

  @Field(() => [LeasedOutput])
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

@ObjectType()
export class LeaseStageRunsPayload {
  @Field(() => [LeasedTask], { description: "Empty when nothing became claimable within `waitMs`." })
  tasks: LeasedTask[];
}

@InputType()
export class HeartbeatInput {
  @Field(() => ID)
  runnerId: string;

  @Field(() => [ID], { description: "The stage runs the runner is running; their leases are renewed." })
  stageRunIds: string[];
}

@ObjectType({ description: "Whether a runner still holds one stage run." })
export class LeaseState {
  @Field(() => ID)
  stageRunId: string;

  @Field({ description: "False when the lease expired or was taken over: stop the attempt and do not complete it." })
  held: boolean;

  @Field(() => Int, { nullable: true, description: "The current lease epoch when held; an attempt with another epoch is stale." })
  epoch: number | null;

  @Field({ description: "The run was canceled: stop the attempt and complete it CANCELED." })
  cancelRequested: boolean;
}

@ObjectType()
export class HeartbeatPayload {
  @Field(() => [LeaseState])
  leases: LeaseState[];
}

@InputType()
export class LogChunkInput {
  @Field({ description: "`stdout` or `stderr`." })
  stream: string;

  @Field({ description: "Lines, each ending in a newline; at most 256 KiB." })
  text: string;
}

@InputType()
export class AppendStageLogsInput {
  @Field(() => ID)
  stageRunId: string;

  @Field(() => Int)
  epoch: number;

  @Field(() => [LogChunkInput], { description: "At most 100 chunks, stored in order." })
  chunks: LogChunkInput[];
}

@ObjectType()
export class AppendStageLogsPayload {
  @Field(() => Int, { description: "Chunks stored." })
  count: number;
}

@InputType()
export class StageFailureInput {
  @Field({ description: "A stable code: `EXIT_CODE`, `STAGE_ERROR`, `TIMEOUT`, … (runners/PROTOCOL.md)." })
  type: string;

  @Field()
  message: string;

  @Field({ defaultValue: false, description: "True stops retries even when the stage's policy has attempts left." })
  nonRetryable: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true })
  details?: Record<string, unknown> | null;
}

@InputType({ description: "An output, as `PUT /artifacts/uploads` stored it." })
export class UploadedOutputInput {
  @Field()
  name: string;

  @Field()
  hash: string;

  @Field()
  uri: string;

  @Field(() => Float)
  size: number;

  @Field()
  isDirectory: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true })
  metadata?: Record<string, unknown> | null;
}

@InputType()
export class CompleteStageRunInput {
  @Field(() => ID)
  stageRunId: string;

  @Field(() => Int, { description: "The epoch the stage run was leased with." })
  epoch: number;

  @Field(() => AttemptStatus)
  status: AttemptStatus;

  @Field(() => StageFailureInput, { nullable: true, description: "Required when FAILED." })
  failure?: StageFailureInput | null;

  @Field(() => [UploadedOutputInput], { nullable: true, description: "Every declared output, when SUCCEEDED." })
  outputs?: UploadedOutputInput[] | null;
}

@ObjectType()
export class CompleteStageRunPayload {
  @Field(() => ID)
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

  @Field(() => ID)
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
