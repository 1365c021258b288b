/**
 * How a process's exit status maps to an outcome's failure, and why: see `runners/PROTOCOL.md`
 * ("Exit status").
 * @internal used by `index.ts`.
 */
import type { StageOutcome } from "../contract";
import { FailureType, failed } from "../failures";

/**
 * Exit codes reported non-retryable: 2 (a usage error, as argparse and most command-line tools
 * use it), 126 and 127 (a shell could not execute or find the command). Running the same command
 * again cannot fix them. Every other non-zero code, 75 (`EX_TEMPFAIL`) included, is retryable and
 * left to the stage's retry policy.
 */
export const NON_RETRYABLE_EXIT_CODES: ReadonlySet<number> = new Set([2, 126, 127]);

/** The failure for a process that ended with `exitCode` or was killed by `signal` (not by us). */
export function exitFailure(exitCode: number | null, signal: NodeJS.Signals | null): StageOutcome {
  if (exitCode === null) {
    return failed(FailureType.EXIT_SIGNAL, `the command was killed by ${signal}`, false, { exitCode: null, signal });
  }
  const nonRetryable = NON_RETRYABLE_EXIT_CODES.has(exitCode);
  const hint = exitCode === 75 ? " (EX_TEMPFAIL: retryable)" : nonRetryable ? " (not retryable)" : "";
  return failed(FailureType.EXIT_CODE, `the command exited with code ${exitCode}${hint}`, nonRetryable, { exitCode, signal: null });
}
