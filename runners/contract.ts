/**
 * The runner plugin contract: what every runner (local worker threads, process, remote agent)
 * implements, and what the run engine hands it. Plain data crosses this boundary (threads,
 * processes and the network sit behind it), so failures are values, never `instanceof` checks.
 * `runners/PROTOCOL.md` describes the same contract in prose (with the failure codes and their
 * retry semantics, and the process runner's file-and-environment contract), and later the remote
 * agent's wire protocol.
 */
import type { ArtifactKind } from "../src/artifacts/kind";

/** What a stage runs: exactly one of a built-in operator, a TypeScript/JS module, or a command (defined by the SDK). */
export type { StageRun } from "../packages/sdk/src/spec";
import type { StageRun } from "../packages/sdk/src/spec";

/** An input as a stage sees it: the artifact, resolved to a local file or folder (defined by the SDK). */
export type { ResolvedInput } from "../packages/sdk/src/stage";
import type { ResolvedInput } from "../packages/sdk/src/stage";

/** One attempt of one stage, ready to run. */
export interface StageTask {
  stageRunId: string;
  runId: string;
  /**
   * The project the run belongs to. A sandboxing runner keeps warm processes per project and
   * never lets two projects share one; without it every attempt gets a process of its own.
   */
  projectId?: string;
  /** 1 for the first attempt. */
  attempt: number;
  stageName: string;
  run: StageRun;
  /** Absolute folder the spec's relative paths (modules, command cwd) resolve against. */
  baseDir: string;
  params: Record<string, unknown>;
  inputs: Record<string, ResolvedInput>;
  /** The declared outputs; the stage must produce each one. */
  outputs: Record<string, { kind: ArtifactKind }>;
  /**
   * An empty folder owned by this attempt; outputs are written below `workDir/outputs/<name>`.
   * With `projectId`, the engine puts it in a folder of that project's attempts
   * (`<work root>/<projectId>/<attempt>`); a warm sandboxed host keeps its own folder next to it.
   */
  workDir: string;
  /** The stage's runner labels (`runner.labels` of the spec); `network` keeps the network inside a sandbox. @default [] */
  labels?: readonly string[];
  /** Stop the attempt after this many milliseconds, counted from when it starts running (not queued). */
  timeoutMs?: number;
  /**
   * The project secrets the stage was granted (`secrets` in its spec), decrypted: values by the
   * variable name the stage reads them as. A command stage gets them as environment variables, a
   * module stage as `ctx.secrets`. Never log, store or echo a task with this field; runners mask
   * these values in the stage's log lines before reporting them (`maskSecrets`). @default {}
   */
  secrets?: Readonly<Record<string, string>>;
}

/**
 * Where a stage's live output goes while it runs. Calls must not block the stage; a call that
 * throws is ignored. Everything reported arrives before `Runner.run` resolves.
 */
export interface StageReporter {
  /** One line, without its line terminator, in the order the stage wrote it on that stream. */
  log(stream: "stdout" | "stderr", text: string): void;
  metric(key: string, value: number, step?: number): void;
}

/** An output the stage produced: a file or folder path, plus metadata it chose to attach. */
export interface ProducedOutput {
  path: string;
  metadata?: Record<string, unknown>;
}

/**
 * Why an attempt failed, as data. `type` is a stable code (`TIMEOUT`, `EXIT_CODE`,
 * `MISSING_OUTPUT`, `STAGE_ERROR`, `GATE_FAILED`, …; `runners/failures.ts` lists the runners'
 * codes); `nonRetryable` stops retries even when the policy has attempts left.
 */
export interface StageFailure {
  type: string;
  message: string;
  nonRetryable: boolean;
  details?: Record<string, unknown>;
}

/**
 * What one attempt consumed, as its runner measured it (`runners/usage/`). CPU is user plus
 * system time; memory and I/O are absent where the runner cannot attribute them (a worker
 * thread shares its process's memory). `method` says how it was measured:
 * `process-tree` (the command's process and its descendants, sampled from /proc),
 * `process` (a sandboxed module process measuring itself), `worker-thread` (the worker's own
 * thread, from /proc/thread-self). Figures are never negative.
 */
export interface StageUsage {
  cpuSeconds: number;
  wallSeconds: number;
  peakMemoryBytes?: number;
  bytesRead?: number;
  bytesWritten?: number;
  method: "process-tree" | "process" | "worker-thread";
}

/** How an attempt ended; `usage` is what it consumed, when the runner measured it. */
export type StageOutcome = (
  { status: "succeeded"; outputs: Record<string, ProducedOutput> } | { status: "failed"; failure: StageFailure } | { status: "canceled" }
) & { usage?: StageUsage };

/** What kinds of `StageRun` a runner can execute. */
export type RunKind = "operator" | "module" | "command";

export function runKindOf(run: StageRun): RunKind {
  if ("operator" in run) return "operator";
  if ("module" in run) return "module";
  return "command";
}

/** A runner plugin. */
export interface Runner {
  readonly name: string;
  /** What this runner offers; a stage's selector labels must all be among them. */
  readonly labels: readonly string[];
  readonly kinds: readonly RunKind[];
  /** How many attempts it runs at once. */
  readonly capacity: number;
  /**
   * Runs one attempt to its end. Resolves (never rejects) with the outcome; an abort of
   * `signal` (cancel) must stop the stage promptly and resolve `{ status: "canceled" }`.
   * A timeout resolves a failure of type `TIMEOUT`.
   */
  run(task: StageTask, reporter: StageReporter, signal: AbortSignal): Promise<StageOutcome>;
  /**
   * Stops accepting work (later `run` calls resolve `RUNNER_CLOSED`); waits for accepted attempts
   * up to their own end or cancellation, then frees the runner's resources. Idempotent.
   */
  close(): Promise<void>;
}
