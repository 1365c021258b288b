/**
 * The public surface of `serving`: ONNX models held in memory and served over HTTP (the Open
 * Inference Protocol), micro-batched, with optional feature enrichment and prediction logging.
 * Deployments build their serving registry on the shared refresh path and model holders here.
 */
export { MODEL_SERVING_EVENTS, RefreshPath, type RefreshedEntry, loadVersion } from "./refresh-path";
export { ModelHolder, type ModelSettings } from "./session";
export type { RunObserver } from "./batcher";
export type { ServedModelRef, ServedRoute, ServingRegistry } from "./serving-registry";
export {
  EndpointStatRow,
  EndpointStatsRecorder,
  EndpointStatsService,
  LATENCY_BUCKET_BOUNDS_MS,
  LATENCY_BUCKETS,
  NO_MODEL_VERSION,
  histogramQuantile,
  latencyBucket,
  type EndpointOutcome,
  type EndpointRequest,
  type EndpointVariant,
  type EndpointWindowQuery,
  type EndpointWindowTotals,
} from "./endpoint-stats";
