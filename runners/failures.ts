/**
 * The failure codes runners report, and the one constructor they build failures with.
 * `runners/PROTOCOL.md` ("Failures") has the table of when each is reported and why it is or is
 * not retryable; the engine reads `type` and `nonRetryable`, never the message.
 */
import type { StageFailure, StageOutcome } from "./contract";

/** Stable failure codes. Values are strings so they cross threads, processes and the network as they are. */
export const FailureType = {
  /** The stage function threw; retryable unless the error says `nonRetryable: true`. */
  STAGE_ERROR: "STAGE_ERROR",
  /** A gate stage (`validate`) found an `error`-severity breach; downstream stages do not run. Non-retryable. */
  GATE_FAILED: "GATE_FAILED",
  /** The stage module could not be loaded or its export is not a function. Non-retryable. */
  LOAD_FAILED: "LOAD_FAILED",
  /** No operator of that name is registered. Non-retryable. */
  UNKNOWN_OPERATOR: "UNKNOWN_OPERATOR",
  /** The worker thread died under the stage. Retryable. */
  WORKER_CRASHED: "WORKER_CRASHED",
  /** The command exited non-zero. Retryable except exit codes 2, 126 and 127. */
  EXIT_CODE: "EXIT_CODE",
  /** The command was killed by a signal the runner did not send. Retryable. */
  EXIT_SIGNAL: "EXIT_SIGNAL",
  /** The command could not be started. Non-retryable. */
  SPAWN_FAILED: "SPAWN_FAILED",
  /** The stage ended well but declared outputs are absent. Non-retryable. */
  MISSING_OUTPUT: "MISSING_OUTPUT",
  /** A command stage's Dataset output, written as JSON lines or CSV, could not be converted to Parquet. Non-retryable. */
  OUTPUT_UNREADABLE: "OUTPUT_UNREADABLE",
  /** The attempt ran past its `timeoutMs`. Retryable. */
  TIMEOUT: "TIMEOUT",
  /** The runner does not execute this kind of `run`, or the task is malformed. Non-retryable. */
  UNSUPPORTED_RUN: "UNSUPPORTED_RUN",
  /** `run()` after `close()`. Retryable (elsewhere). */
  RUNNER_CLOSED: "RUNNER_CLOSED",
  /** The runner itself failed around the stage (preparing `workDir`, a bug of ours). Retryable. */
  RUNNER_ERROR: "RUNNER_ERROR",
  /** Project code (a command or module stage) on a runner with no sandbox that was not told to trust it (`SLUICE_TRUSTED_CODE`). Non-retryable. */
  SANDBOX_UNAVAILABLE: "SANDBOX_UNAVAILABLE",
  /** The stage's folders cannot be shown in a sandbox (the root, a system folder, the server's data). Non-retryable. */
  SANDBOX_REFUSED: "SANDBOX_REFUSED",
  /** A project secret the stage is granted is gone (deleted since the run began) or cannot be decrypted. Non-retryable. */
  SECRET_UNAVAILABLE: "SECRET_UNAVAILABLE",
  /** Remote agent: an input could not be downloaded, or did not match its hash. Retryable. */
  INPUT_UNAVAILABLE: "INPUT_UNAVAILABLE",
  /** Remote agent: an output could not be uploaded (the server unreachable, or it would not take it). Retryable. */
  OUTPUT_NOT_STORED: "OUTPUT_NOT_STORED",
  /** Remote agent: the server refused an output (it holds a link or a special file). Non-retryable. */
  OUTPUT_REFUSED: "OUTPUT_REFUSED",
  /** Remote agent: an output is over the server's upload limit (`SLUICE_UPLOAD_LIMIT`). Non-retryable. */
  OUTPUT_TOO_LARGE: "OUTPUT_TOO_LARGE",
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * The failure types a stage function may claim for itself by throwing an error whose
 * `failureType` names one; any other thrown error is a `STAGE_ERROR`.
 */
export const STAGE_DECLARED_FAILURES: ReadonlySet<string> = new Set([FailureType.GATE_FAILED]);

/** A failed outcome. `details` is dropped when empty. */
export function failed(type: FailureType, message: string, nonRetryable: boolean, details?: Record<string, unknown>): StageOutcome {
  const failure: StageFailure = { type, message, nonRetryable };
  if (details && Object.keys(details).length > 0) failure.details = details;
  return { status: "failed", failure };
}

/** The outcome of an attempt stopped by its runner's timer. */
export function timedOut(timeoutMs: number | undefined): StageOutcome {
  return failed(FailureType.TIMEOUT, `the stage ran longer than its timeout of ${timeoutMs} ms`, false, { timeoutMs });
}

/** The outcome of `run()` on a closed runner. */
export function runnerClosed(name: string): StageOutcome {
  return failed(FailureType.RUNNER_CLOSED, `the ${name} runner is closed`, false);
}

/** The outcome when the runner itself failed around the stage (retryable: it may well work elsewhere or later). */
export function runnerError(name: string, err: unknown): StageOutcome {
  const e = err as { message?: unknown; stack?: unknown; code?: unknown } | undefined;
  const details: Record<string, unknown> = {};
  if (typeof e?.code === "string") details.code = e.code;
  if (typeof e?.stack === "string") details.stack = e.stack;
  return failed(
    FailureType.RUNNER_ERROR,
    `the ${name} runner failed around the stage: ${typeof e?.message === "string" ? e.message : String(err)}`,
    false,
    details,
  );
}
