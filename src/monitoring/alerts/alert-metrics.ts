/**
 * The metric names an alert rule can watch: those a window stores (see window-closer.ts). Window
 * metrics have no feature; per-feature metrics need one (`feature_drift:distance` or the feature
 * field); prediction metrics are about the one prediction column, so its name may be left out.
 */
export const WINDOW_METRICS = [
  "rows",
  "outcomes",
  "dataset_drift_share",
  "dataset_drift",
  "drifted_features",
  "roc_auc",
  "accuracy",
  "log_loss",
  "rmse",
  "mae",
  "roc_auc_delta",
  "accuracy_delta",
  "log_loss_delta",
  "rmse_delta",
  "mae_delta",
] as const;

const PER_FEATURE = ["drift_score", "drift_statistic", "p_value", "psi", "null_share", "out_of_range_share", "unseen_share"];

export const FEATURE_METRICS = ["feature_drift", ...PER_FEATURE] as const;
export const PREDICTION_METRICS = ["prediction_drift", ...PER_FEATURE.map((m) => `prediction_${m}`)] as const;

export type MetricScope = "window" | "feature" | "prediction";

export function metricScope(metric: string): MetricScope | null {
  if ((WINDOW_METRICS as readonly string[]).includes(metric)) return "window";
  if ((FEATURE_METRICS as readonly string[]).includes(metric)) return "feature";
  if ((PREDICTION_METRICS as readonly string[]).includes(metric)) return "prediction";
  return null;
}

/** `feature_drift:distance` → metric and feature; a plain name keeps `feature`. */
export function splitMetric(metric: string, feature: string | null | undefined): { metric: string; feature: string } {
  const i = metric.indexOf(":");
  if (i > 0) return { metric: metric.slice(0, i), feature: metric.slice(i + 1) };
  return { metric, feature: feature ?? "" };
}
