/** The public surface of `health`: stage health series and metrics; endpoint series read serving's statistics. */
export { FAILURE_KINDS, failureKind } from "./failure-kinds";
export { MAX_SERIES_POINTS, seriesPoints } from "./series-window";
export { StageHealthService, type FailureCount, type StageHealthPoint, type StageHealthQuery } from "./stage-health.service";
export { MAX_PIPELINE_LABELS, MAX_STAGE_LABELS, StageHealthMetrics } from "./stage-metrics";
export { HealthResolver, type HealthResolverDeps } from "./health.resolver";
