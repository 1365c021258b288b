/**
 * Calling a `StageReporter` safely: the contract says a reporter that throws is ignored for that
 * call, so a broken log sink never breaks a running stage.
 * @internal shared by the runner plugins.
 */
import type { StageReporter } from "./contract";

/** Calls the reporter, ignoring anything it throws: a broken reporter must not break the stage. */
export function safeLog(reporter: StageReporter, stream: "stdout" | "stderr", text: string): void {
  try {
    reporter.log(stream, text);
  } catch {
    // The contract: a reporter that throws is ignored for that call.
  }
}

/** As `safeLog`, for metrics. */
export function safeMetric(reporter: StageReporter, key: string, value: number, step?: number): void {
  try {
    reporter.metric(key, value, step);
  } catch {
    // As above.
  }
}
