// Which way a metric improves: shared by training (a search's default direction) and governance
// (policy rules). It lives in the evaluation core, which both sit above.

const LOWER_IS_BETTER = new Set(["log_loss", "brier_score", "rmse", "mse", "mae", "mape"]);

/** Whether a smaller value of this metric is better: errors and losses, by name. */
export function isLowerBetter(metric: string): boolean {
  const m = metric.toLowerCase();
  return LOWER_IS_BETTER.has(m) || m.endsWith("_loss") || m.endsWith("_error");
}
