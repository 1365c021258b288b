/**
 * The data the remote-agent protocol carries (runners/PROTOCOL.md, "Remote agent"): one
 * definition read by both ends — the server's agent service (src/runs/agents), which builds these
 * answers, and the agent (runners/remote), which receives them. Runners sit below the
 * capabilities, so the server imports these types from here, never the other way round.
 */

/** One input of a leased task: an artifact the agent downloads before the stage starts. */
export interface LeasedInput {
  name: string;
  artifactId: string;
  kind: string;
  hash: string;
  size: number;
  isDirectory: boolean;
  metadata: Record<string, unknown>;
  /** Where the agent downloads it (a path on the server, with the runner's token). */
  downloadUrl: string;
}

/** A stage attempt the server leased to one runner. */
export interface LeasedTask {
  stageRunId: string;
  runId: string;
  /** The run's project (a warm sandboxed host serves one project only). */
  projectId: string;
  attempt: number;
  stageName: string;
  /** The lease's epoch: every later call about this attempt carries it, a stale one is refused. */
  epoch: number;
  run: Record<string, unknown>;
  baseDir: string;
  params: Record<string, unknown>;
  inputs: LeasedInput[];
  outputs: Array<{ name: string; kind: string }>;
  /** The stage's runner labels (`network` lets a sandboxed stage use the network). */
  labels: string[];
  timeoutMs: number | null;
  /** The project secrets the stage is granted, decrypted, by variable name: only in the lease answer, never logged. */
  secrets: Record<string, string>;
}

/** What a heartbeat answers for each attempt the runner holds. */
export interface LeaseState {
  stageRunId: string;
  /** False when the lease expired or went to another runner: the agent stops the attempt. */
  held: boolean;
  epoch: number | null;
  cancelRequested: boolean;
}

/** An output as the upload endpoint stored it and the agent reports it at completion. */
export interface UploadedOutput {
  name: string;
  hash: string;
  uri: string;
  size: number;
  isDirectory: boolean;
  metadata?: Record<string, unknown> | null;
}
