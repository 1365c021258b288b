/**
 * The pipeline spec: what a pipeline is, as authored in TypeScript (`definePipeline`, `stage`)
 * or as the same object in JSON/YAML. Pure types and constructors, no I/O. The server, its
 * artifact store and its runners take these types from here: the SDK is the one source of the
 * contract a user's repository is written against.
 */

/**
 * What an artifact is. Outputs declare their kind; an input wired with `from` takes the kind of the
 * output it names, and an input given a stored `artifact` states the kind that artifact must have.
 */
export type ArtifactKind = "Dataset" | "FeatureSet" | "Model" | "Report" | "Metrics" | "File";
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ["Dataset", "FeatureSet", "Model", "Report", "Metrics", "File"];

/** What a stage runs: exactly one of a built-in operator, a TypeScript/JS module, or a command. */
export type StageRun =
  /** A built-in operator by name, e.g. `noop`, `ingest`, `validate`. */
  | { operator: string }
  /** A module (path relative to the spec file) whose `export` is the stage function. `export` @default "default" */
  | { module: string; export?: string; codeVersion?: string }
  /** A command and its arguments, run by the process runner; `codeVersion` names the code for caching. */
  | { command: string[]; cwd?: string; env?: Record<string, string>; codeVersion?: string };

/**
 * A JSON Schema, as accepted by ajv: draft-07 unless its `$schema` names draft 2019-09 or 2020-12.
 * Unknown keywords and formats are refused (ajv's strict mode), so a typo does not pass silently.
 */
export type JsonSchema = Record<string, unknown>;

/** Where an input comes from: another stage's output, an artifact already stored, or a deployment. */
export type InputRef =
  /** `"stage.output"`. */
  | { from: string }
  /** A stored artifact by id, with the kind it must have. */
  | { artifact: string; kind: ArtifactKind }
  /**
   * The model file of the version a deployment (an endpoint of the run's project) serves when the
   * stage starts — its primary version, as `/v2` would answer with. A `Model` input, for batch
   * scoring with what a (usually BATCH) endpoint names.
   */
  | { deployment: string };

/** How a failed attempt is retried; a stage without `retries` is not retried. */
export interface RetryPolicy {
  /** Attempts after the first, 0 to 20 (0 when `retries` is omitted). */
  max: number;
  /** Delay before the first retry. @default 1000 */
  initialDelayMs?: number;
  /** Each further delay is the previous times this. @default 2 */
  factor?: number;
  /** Upper bound of one delay. @default 60000 */
  maxDelayMs?: number;
}

export interface CachePolicy {
  /** Reuse the outputs of an earlier success with the same inputs, parameters and code. @default false */
  enabled: boolean;
}

export interface StageSpec {
  /** Unique in the pipeline: `^[a-z0-9][a-z0-9_-]{0,62}$`. */
  name: string;
  description?: string;
  run: StageRun;
  /** By input name (`^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$`). @default {} */
  inputs?: Record<string, InputRef>;
  /** By output name (same pattern as inputs). @default {} */
  outputs?: Record<string, { kind: ArtifactKind; description?: string }>;
  /** JSON Schema for this stage's parameters; values come from `params` and run overrides. */
  paramsSchema?: JsonSchema;
  /** Parameter values (JSON data); must satisfy `paramsSchema`. @default {} */
  params?: Record<string, unknown>;
  /** Labels a runner must all have to take this stage (a set: normalized sorted, without repeats). @default ["local"] */
  runner?: { labels: string[] };
  /** Retry policy. @default { max: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000 } */
  retries?: RetryPolicy;
  /** Kill the attempt after this long (ms). @default none */
  timeoutMs?: number;
  /** @default { enabled: false } */
  cache?: CachePolicy;
  /**
   * Project secrets this stage receives, by the environment variable (or `ctx.secrets` key) it
   * reads them as: `{ API_KEY: "WAREHOUSE_KEY" }`. Module and command stages only. The spec holds
   * names, never values; each named secret must exist in the run's project. @default {}
   */
  secrets?: Record<string, string>;
}

export interface PipelineSpec {
  /** `^[a-z0-9][a-z0-9_-]{0,62}$`. */
  name: string;
  description?: string;
  /** Most stages of one run running at once. @default unlimited */
  maxParallel?: number;
  /** Most runs of this pipeline running at once, across all servers. @default unlimited */
  maxConcurrentRuns?: number;
  /** At least one; their order breaks ties in the topological order. */
  stages: StageSpec[];
  /**
   * What this pipeline owes its workflow: service-level objectives the server checks continuously
   * (docs/slas.md). Applying the spec creates, changes and deletes the SLAs it declares; the
   * same names cannot also be used by SLAs made through the API or another pipeline. @default []
   */
  slas?: SlaSpec[];
}

/**
 * What an SLA promises. `PIPELINE_*` kinds are about the pipeline that declares them,
 * `DATASET_*` about the dataset named in `dataset`, `ENDPOINT_*` about the endpoint named in
 * `endpoint`.
 */
export type SlaKind =
  /** A successful run at least every `objective` (a duration). */
  | "PIPELINE_FRESHNESS"
  /** Every scheduled fire ends in a successful run within `objective` (a duration) of its fire time. */
  | "PIPELINE_DEADLINE"
  /** The newest run (finished or still running) takes at most `objective` (a duration). */
  | "PIPELINE_MAX_DURATION"
  /** At most this share (0 to 1) of the runs finished in `window` failed. */
  | "PIPELINE_FAILURE_RATE"
  /** The dataset's newest version is at most `objective` (a duration) old. */
  | "DATASET_FRESHNESS"
  /** The dataset's newest version has at least `objective` rows. */
  | "DATASET_MIN_ROWS"
  /** At least this share (0 to 1) of the dataset's validation reports made in `window` passed. */
  | "DATASET_VALIDATION_PASS_RATE"
  /** The median latency (ms) of the endpoint's answered requests in `window` is at most `objective`. */
  | "ENDPOINT_LATENCY_P50"
  /** The 99th percentile latency (ms) of its answered requests in `window` is at most `objective`. */
  | "ENDPOINT_LATENCY_P99"
  /** At most this share (0 to 1) of its requests in `window` got no answer (bad requests, refusals, server errors). */
  | "ENDPOINT_ERROR_RATE"
  /** At least this share (0 to 1) of its requests in `window` were not refused nor failed by the server (bad requests are the caller's). */
  | "ENDPOINT_AVAILABILITY"
  /** The endpoint's live `metric` (monitoring's windows closed in `window`) stays on the right side of `objective`. */
  | "ENDPOINT_LIVE_PERFORMANCE";

export const SLA_KINDS: readonly SlaKind[] = [
  "PIPELINE_FRESHNESS",
  "PIPELINE_DEADLINE",
  "PIPELINE_MAX_DURATION",
  "PIPELINE_FAILURE_RATE",
  "DATASET_FRESHNESS",
  "DATASET_MIN_ROWS",
  "DATASET_VALIDATION_PASS_RATE",
  "ENDPOINT_LATENCY_P50",
  "ENDPOINT_LATENCY_P99",
  "ENDPOINT_ERROR_RATE",
  "ENDPOINT_AVAILABILITY",
  "ENDPOINT_LIVE_PERFORMANCE",
];

/**
 * A duration: seconds as a number, or a string of a number and a unit, `s`, `m`, `h` or `d`
 * (`"90s"`, `"30m"`, `"6h"`, `"7d"`).
 */
export type Duration = number | string;

/** One SLA in a pipeline spec (see {@link SlaKind} for what each kind means). */
export interface SlaSpec {
  /** Unique in the project: `^[a-z0-9][a-z0-9_-]{0,62}$`. */
  name: string;
  kind: SlaKind;
  description?: string;
  /** The dataset a `DATASET_*` SLA is about (its name in the project). */
  dataset?: string;
  /** The endpoint an `ENDPOINT_*` SLA is about (its name in the project). */
  endpoint?: string;
  /**
   * The objective: a {@link Duration} for the freshness, deadline and duration kinds; a share from
   * 0 to 1 for the rate and availability kinds; milliseconds for the latency kinds; a row count for
   * `DATASET_MIN_ROWS`; the metric's value for
   * `ENDPOINT_LIVE_PERFORMANCE` (a floor for accuracy and roc_auc, a ceiling for log_loss, rmse and mae).
   */
  objective: number | string;
  /** The window the rate, endpoint and live-performance kinds look back over (required by them, refused by the others). */
  window?: Duration;
  /** `PIPELINE_DEADLINE` only: the one schedule (by name) it watches. @default every schedule of the pipeline */
  schedule?: string;
  /** `ENDPOINT_LIVE_PERFORMANCE` only: accuracy, roc_auc, log_loss, rmse or mae. */
  metric?: string;
  /** The severity of the alert a breach opens. @default "WARNING" */
  severity?: "INFO" | "WARNING" | "CRITICAL";
}

/** An SLA as `validatePipelineSpec` returns it: durations in seconds, the severity filled in. */
export interface NormalizedSlaSpec extends SlaSpec {
  objective: number;
  window?: number;
  severity: "INFO" | "WARNING" | "CRITICAL";
}

/**
 * A stage as `validatePipelineSpec` returns it: every default filled in, so two specs that differ
 * only by omitted defaults are equal.
 */
export interface NormalizedStageSpec extends StageSpec {
  inputs: Record<string, InputRef>;
  outputs: Record<string, { kind: ArtifactKind; description?: string }>;
  params: Record<string, unknown>;
  runner: { labels: string[] };
  retries: Required<RetryPolicy>;
  cache: CachePolicy;
}

/** A pipeline as `validatePipelineSpec` returns it (see {@link NormalizedStageSpec}). */
export interface NormalizedPipelineSpec extends PipelineSpec {
  stages: NormalizedStageSpec[];
  slas?: NormalizedSlaSpec[];
}

/** Declares a pipeline in TypeScript; returns the plain spec (the same object JSON/YAML holds). */
export function definePipeline(spec: PipelineSpec): PipelineSpec {
  return spec;
}

/** Declares one SLA of a pipeline; a typed identity so editors check the fields. */
export function sla(spec: SlaSpec): SlaSpec {
  return spec;
}

/** Declares one stage; a typed identity so editors check the fields. */
export function stage(spec: StageSpec): StageSpec {
  return spec;
}
