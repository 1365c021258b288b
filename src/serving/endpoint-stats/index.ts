/** Endpoint statistics: what other folders (SLAs, costs, health) use. */
export { EndpointStatRow, NO_MODEL_VERSION } from "./endpoint-stat.entity";
export { EndpointStatsService, type EndpointWindowQuery, type EndpointWindowTotals } from "./endpoint-stats.service";
export { EndpointStatsRecorder, type EndpointOutcome, type EndpointRequest, type EndpointVariant } from "./endpoint-stats-recorder";
export { LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKETS, addBuckets, emptyBuckets, histogramQuantile, latencyBucket } from "./histogram";
export { type EndpointStatsSettings, endpointStatsSettings } from "./settings";
