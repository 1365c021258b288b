/**
 * The messages between the local runner (main thread) and its worker threads.
 * @internal
 *
 * The main thread posts `RunMessage` on the worker's `parentPort`, transferring a fresh
 * `MessagePort` for that task. Everything about the task then travels on that port, in order:
 * the worker posts `LogMessage`s and `MetricMessage`s while the stage runs and one `DoneMessage`
 * last; the main thread may post one `AbortMessage`. The main thread closes the port after `done`.
 */
import type { MessagePort } from "node:worker_threads";
import type { ResolvedInput, StageUsage } from "../contract";

/** The task as the worker needs it: the contract's `StageTask` with its entry point resolved. */
export interface WorkerTask {
  runId: string;
  stageRunId: string;
  stageName: string;
  attempt: number;
  workDir: string;
  params: Record<string, unknown>;
  inputs: Record<string, ResolvedInput>;
  outputNames: string[];
  /** Absolute module path and export name of the stage function (a module or an operator). */
  entry: { module: string; export: string };
  /** The project secrets the stage was granted, by name (`ctx.secrets`); never logged. */
  secrets: Record<string, string>;
}

export interface RunMessage {
  type: "run";
  task: WorkerTask;
  port: MessagePort;
}

export interface AbortMessage {
  type: "abort";
  reason: "cancel" | "timeout";
}

export interface LogMessage {
  type: "log";
  stream: "stdout" | "stderr";
  text: string;
}

export interface MetricMessage {
  type: "metric";
  key: string;
  value: number;
  step?: number;
}

/** A thrown value, as data. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  nonRetryable: boolean;
  details?: Record<string, unknown>;
}

/** The end of a task; `usage` is what it consumed, measured where it ran (`runners/usage/self.ts`). */
export type DoneMessage = (
  | { type: "done"; status: "returned"; outputs: Record<string, { path?: string; metadata?: Record<string, unknown> }> }
  /** `phase` says whether loading the module or running the function failed. */
  | { type: "done"; status: "threw"; phase: "load" | "run"; error: SerializedError }
) & { usage?: StageUsage };

export type WorkerToMain = LogMessage | MetricMessage | DoneMessage;

/** What the runner sends a sandboxed module process (`sandbox-host.ts`) over its IPC channel: one `run`, maybe one `abort`. */
export type HostMessage = { type: "run"; task: WorkerTask; transpiled?: Record<string, string> } | AbortMessage;

/** What a sandboxed module process sends the runner: the worker's messages, and for a warm host `idle` after each `done`. */
export type HostToRunner = WorkerToMain | { type: "idle"; clean: boolean };

/** The line a warm host writes on stdout and stderr after an attempt: what comes before it was that attempt's output. */
export const ATTEMPT_END = "\u0001sluice: end of attempt\u0001";
