/**
 * The runner API operations the agent sends (runners/PROTOCOL.md, "Remote agent"), as typed
 * functions over `AgentClient.gql`. Result unions come back as `{ __typename, … }`; a typed error
 * member the caller must handle is returned, never thrown.
 * @internal used by `runners/remote/index.ts`
 */
import type { StageFailure, StageUsage } from "../contract";
import type { AgentClient } from "./client";
import type { LeasedTask, LeaseState, UploadedOutput } from "./wire";

export interface Registration {
  runnerId: string;
  leaseMs: number;
  heartbeatIntervalMs: number;
  maxWaitMs: number;
}

/** How an attempt ended, as the agent reports it; `usage` is what the stage consumed on the agent's machine. */
export type Completion = (
  { status: "SUCCEEDED"; outputs: UploadedOutput[] } | { status: "FAILED"; failure: StageFailure } | { status: "CANCELED" }
) & { usage?: StageUsage };

/** A union's typed error member, as the agent sees it. */
export interface ErrorMember {
  __typename: string;
  code: string;
  message: string;
}

const ERROR_FIELDS = `... on Error { code message }`;

/** The runner is not (or no longer) known to the server: register again. */
export class RunnerGoneError extends Error {}

function fail(op: string, member: ErrorMember): never {
  if (member.__typename === "NotFoundError") throw new RunnerGoneError(`${op}: ${member.message}`);
  throw new Error(`${op}: ${member.__typename} ${member.message}`);
}

export async function registerRunner(
  client: AgentClient,
  input: { name: string; labels: string[]; concurrency: number; hostname: string; version: string },
  signal?: AbortSignal,
): Promise<Registration> {
  const data = await client.gql(
    `mutation Register($i: RegisterRunnerInput!) { registerRunner(input: $i) {
       __typename ... on RegisterRunnerPayload { runner { id } leaseMs heartbeatIntervalMs maxWaitMs } ${ERROR_FIELDS} } }`,
    { i: input },
    signal,
  );
  const r = data.registerRunner;
  if (r.__typename !== "RegisterRunnerPayload") throw new Error(`registerRunner: ${r.__typename} ${r.message}`);
  return { runnerId: r.runner.id, leaseMs: r.leaseMs, heartbeatIntervalMs: r.heartbeatIntervalMs, maxWaitMs: r.maxWaitMs };
}

export async function leaseStageRuns(
  client: AgentClient,
  runnerId: string,
  max: number,
  waitMs: number,
  signal?: AbortSignal,
): Promise<LeasedTask[]> {
  const data = await client.gql(
    `mutation Lease($i: LeaseStageRunsInput!) { leaseStageRuns(input: $i) {
       __typename ... on LeaseStageRunsPayload { tasks { stageRunId runId projectId attempt stageName epoch run baseDir params timeoutMs labels secrets
         inputs { name artifactId kind hash size isDirectory metadata downloadUrl } outputs { name kind } } } ${ERROR_FIELDS} } }`,
    { i: { runnerId, max, waitMs } },
    signal,
  );
  const r = data.leaseStageRuns;
  if (r.__typename !== "LeaseStageRunsPayload") fail("leaseStageRuns", r);
  return r.tasks as LeasedTask[];
}

export async function heartbeat(client: AgentClient, runnerId: string, stageRunIds: string[], signal?: AbortSignal): Promise<LeaseState[]> {
  const data = await client.gql(
    `mutation Heartbeat($i: HeartbeatInput!) { heartbeat(input: $i) {
       __typename ... on HeartbeatPayload { leases { stageRunId held epoch cancelRequested } } ${ERROR_FIELDS} } }`,
    { i: { runnerId, stageRunIds } },
    signal,
  );
  const r = data.heartbeat;
  if (r.__typename !== "HeartbeatPayload") fail("heartbeat", r);
  return r.leases as LeaseState[];
}

/** Resolves `"ok"`, or `"lost"` when the lease is gone (the attempt should stop). */
export async function appendStageLogs(
  client: AgentClient,
  stageRunId: string,
  epoch: number,
  chunks: Array<{ stream: string; text: string }>,
): Promise<"ok" | "lost"> {
  const data = await client.gql(
    `mutation AppendLogs($i: AppendStageLogsInput!) { appendStageLogs(input: $i) { __typename ${ERROR_FIELDS} } }`,
    { i: { stageRunId, epoch, chunks } },
  );
  const r = data.appendStageLogs;
  if (r.__typename === "AppendStageLogsPayload") return "ok";
  if (r.__typename === "LeaseLostError") return "lost";
  throw new Error(`appendStageLogs: ${r.__typename} ${r.message}`);
}

export async function logMetrics(
  client: AgentClient,
  runId: string,
  stageRunId: string,
  points: Array<{ key: string; value: number; step?: number; timestamp: string }>,
): Promise<void> {
  const data = await client.gql(`mutation LogMetrics($i: LogMetricsInput!) { logMetrics(input: $i) { __typename ${ERROR_FIELDS} } }`, {
    i: { runId, stageRunId, points },
  });
  const r = data.logMetrics;
  if (r.__typename !== "LogMetricsPayload") throw new Error(`logMetrics: ${r.__typename} ${r.message}`);
}

/** The stage run's status after the completion, or the typed refusal (LeaseLostError, InvalidInputError …). */
export async function completeStageRun(
  client: AgentClient,
  stageRunId: string,
  epoch: number,
  completion: Completion,
): Promise<{ __typename: "CompleteStageRunPayload"; status: string } | ErrorMember> {
  const input: Record<string, unknown> = { stageRunId, epoch, status: completion.status };
  if (completion.status === "SUCCEEDED") input.outputs = completion.outputs;
  if (completion.status === "FAILED") input.failure = { ...completion.failure, details: completion.failure.details ?? null };
  if (completion.usage) input.usage = completion.usage;
  const data = await client.gql(
    `mutation Complete($i: CompleteStageRunInput!) { completeStageRun(input: $i) {
       __typename ... on CompleteStageRunPayload { status } ${ERROR_FIELDS} } }`,
    { i: input },
  );
  return data.completeStageRun;
}

/** Gives back what the runner holds and marks it stopped; resolves how many stage runs it gave back. */
export async function deregisterRunner(client: AgentClient, runnerId: string): Promise<number> {
  const data = await client.gql(
    `mutation Deregister($i: RunnerIdInput!) { deregisterRunner(input: $i) { __typename ... on RunnerPayload { released } ${ERROR_FIELDS} } }`,
    { i: { runnerId } },
  );
  const r = data.deregisterRunner;
  if (r.__typename !== "RunnerPayload") fail("deregisterRunner", r);
  return r.released as number;
}
