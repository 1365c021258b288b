import type { ValidationReport } from "./run-suite";
import { type Suite, isRowLevel } from "./suite";

/**
 * Whether quarantining rows would clear a report's `error` breaches: there is at least one, and
 * each is a row-level expectation that could be evaluated. An aggregate breach (a mean, a row
 * count, a distribution) is about the whole data set, and no subset of rows can be set aside
 * to fix it.
 */
export function quarantinable(suite: Suite, report: ValidationReport): boolean {
  const failing = report.results.filter((r) => !r.success && r.severity === "error");
  return failing.length > 0 && failing.every((r) => isRowLevel(suite.expectations[r.index]!) && !r.error);
}
