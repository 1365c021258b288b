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
}

/** Declares a pipeline in TypeScript; returns the plain spec (the same object JSON/YAML holds). */
export function definePipeline(spec: PipelineSpec): PipelineSpec {
  return spec;
}

/** Declares one stage; a typed identity so editors check the fields. */
export function stage(spec: StageSpec): StageSpec {
  return spec;
}
