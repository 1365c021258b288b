import path from "node:path";
import { type PredictionLogSettings, predictionLogSettings } from "../serving/prediction-log/settings";
import { type EndpointStatsSettings, endpointStatsSettings } from "../serving/endpoint-stats/settings";
import { type MlflowSettings, mlflowSettings } from "../tracking/mlflow/settings";
import { allowEntryProblem } from "../notifications/webhook-targets";
import { type Prices, parsePrices } from "../costs/pricing";

/** Which deployment mode the server runs in; production turns introspection off by default. */
export type Mode = "development" | "production";

/** Endpoints outside `/graphql` that may be left open to anonymous callers. */
export type PublicEndpoint = "healthz" | "readyz" | "metrics";

/**
 * Every setting of a Sluice server, read once from the environment (and CLI flags) and frozen.
 * Each field names its variable and its default.
 */
export interface SluiceConfig {
  /** HTTP port for GraphQL, WebSocket subscriptions, health and metrics. `PORT`, `--port`. @default 4000 */
  readonly port: number;
  /** Interface to bind. `HOST`. @default "0.0.0.0" */
  readonly host: string;
  /** PostgreSQL connection string; unset means the embedded PGlite database. `DATABASE_URL`. */
  readonly databaseUrl: string | undefined;
  /**
   * Where the embedded database and artifacts live. `SLUICE_DATA_DIR`. `memory://` keeps the
   * embedded database in memory (tests). @default ".sluice"
   */
  readonly dataDir: string;
  /** `NODE_ENV=production` selects production. @default "development" */
  readonly mode: Mode;
  /** Serve GraphQL introspection. `SLUICE_INTROSPECTION`. @default true in development, false in production */
  readonly introspection: boolean;
  /** Admin token to install on first start instead of a generated one. `SLUICE_ADMIN_TOKEN`. */
  readonly adminToken: string | undefined;
  /** Largest accepted request body in bytes. `SLUICE_BODY_LIMIT` (bytes, or with kb/mb). @default 1 MiB */
  readonly bodyLimitBytes: number;
  /** Deepest selection set accepted. `SLUICE_MAX_DEPTH`. @default 12 */
  readonly maxQueryDepth: number;
  /** Highest estimated query cost accepted (each field 1, lists times `first`). `SLUICE_MAX_COST`. @default 10000 */
  readonly maxQueryCost: number;
  /**
   * Most fields an operation may select once its fragments are expanded (a fragment spread twice
   * counts twice). `SLUICE_MAX_NODES`. @default 10000
   */
  readonly maxQueryNodes: number;
  /** GraphQL operations per second per token (per client address when anonymous); 0 turns it off. `SLUICE_RATE_LIMIT`. @default 100 */
  readonly rateLimitPerSecond: number;
  /** Burst allowance on top of the rate, in requests. `SLUICE_RATE_LIMIT_BURST`. @default 200 */
  readonly rateLimitBurst: number;
  /** Endpoints open without a token. `SLUICE_PUBLIC_ENDPOINTS` (comma list, or `none`). @default healthz,readyz,metrics */
  readonly publicEndpoints: ReadonlySet<PublicEndpoint>;
  /** pino level. `LOG_LEVEL`. @default "info" */
  readonly logLevel: string;
  /**
   * How `sluice server` writes its log: `json` (one object a line), `pretty` (a line a person
   * reads), or `auto`: pretty on a terminal outside production, JSON otherwise. `SLUICE_LOG_FORMAT`.
   * @default "auto"
   */
  readonly logFormat: "auto" | "json" | "pretty";
  /** How long SIGTERM waits for in-flight requests before closing connections. `SLUICE_SHUTDOWN_TIMEOUT_MS`. @default 10000 */
  readonly shutdownTimeoutMs: number;
  /** Connections in the PostgreSQL pool (ignored by PGlite, a single session). `SLUICE_DB_POOL_SIZE`. @default 10 */
  readonly dbPoolSize: number;
  /**
   * Where artifacts are stored. `SLUICE_ARTIFACT_DIR`. @default `<dataDir>/artifacts`; with an
   * in-memory database, a temporary folder removed at shutdown
   */
  readonly artifactDir: string | undefined;
  /** Scratch folders of running stage attempts. `SLUICE_WORK_DIR`. @default `<dataDir>/work`; a temporary folder with an in-memory database */
  readonly workDir: string | undefined;
  /** Runners this server hosts itself: `local` (worker threads), `process` (commands). `SLUICE_RUNNERS` (comma list, or `none`). @default local,process */
  readonly embeddedRunners: ReadonlySet<EmbeddedRunner>;
  /** Labels the embedded runners offer (stages need all of theirs among them). `SLUICE_RUNNER_LABELS` (comma list). @default local */
  readonly embeddedLabels: readonly string[];
  /** Worker threads of the embedded local runner. `SLUICE_LOCAL_THREADS`. @default cores - 1 (at least 1) */
  readonly localThreads: number | undefined;
  /** How long a stage-run lease lasts without renewal. `SLUICE_LEASE_MS`. @default 30000 */
  readonly leaseMs: number;
  /** Most stage runs running at once per runner label, e.g. `gpu=2,big=1`. `SLUICE_LABEL_LIMITS`. @default none */
  readonly labelLimits: Readonly<Record<string, number>>;
  /** How often approval requests are checked for expiry and gates for decisions missed. `SLUICE_GOVERNANCE_SWEEP_MS`. @default 5000 */
  readonly governanceSweepMs: number;
  /** Days stage logs are kept. `SLUICE_LOG_RETENTION_DAYS`. @default 30 */
  readonly logRetentionDays: number;
  /** Largest artifact a remote runner may upload (`PUT /artifacts/uploads`), in bytes after decompression. `SLUICE_UPLOAD_LIMIT`. @default 10 GiB */
  readonly uploadLimitBytes: number;
  /**
   * The key project secrets are encrypted under (AES-256-GCM): 32 bytes, given in base64.
   * `SLUICE_SECRET_KEY`. @default unset: a key file `<dataDir>/secret.key` created once (0600)
   * and reused; with an in-memory database, a random key for this process only. Servers that
   * share a PostgreSQL database must all set the same key.
   */
  readonly secretKey: Buffer | undefined;
  /**
   * Folders file sources may read from; any path outside them (after `..` and symlinks) is
   * refused. `SLUICE_DATA_ROOTS` (comma list). @default the working directory and the data dir
   */
  readonly dataRoots: readonly string[];
  /** Wait before a failed notification's second attempt; each later wait is 4 times longer (at most 1 h). `SLUICE_NOTIFY_RETRY_MS`. @default 5000 */
  readonly notifyRetryMs: number;
  /** Attempts to deliver one notification, the first included. `SLUICE_NOTIFY_MAX_ATTEMPTS`. @default 6 */
  readonly notifyMaxAttempts: number;
  /** The MLflow REST API's default project and the MLflow mirror plugin (`SLUICE_MLFLOW_*`; see src/tracking/mlflow/settings.ts). */
  readonly mlflow: MlflowSettings;
  /** Most rows one onnxruntime run of a served model takes (requests are micro-batched up to it). `SLUICE_SERVING_MAX_BATCH`. @default 64 */
  readonly servingMaxBatch: number;
  /** Longest an inference request waits to be batched while a run of its model is in flight. `SLUICE_SERVING_MAX_WAIT_MS`. @default 5 */
  readonly servingMaxWaitMs: number;
  /**
   * Most rows one inference request may carry (OIP `shape[0]`, records-form instances, GraphQL
   * `predict` instances); a larger request is refused (413) before any work. The default matches
   * the prediction log's queue (a larger request would be partly dropped from the log) and keeps
   * one request to tens of milliseconds of the serving thread. `SLUICE_SERVING_MAX_ROWS`. @default 10000
   */
  readonly servingMaxRows: number;
  /**
   * Most output bytes per row a model may produce, measured when a version is registered (by
   * running it on synthetic batches in a capped child process); a model over it is refused.
   * 64 KiB holds a 16,384-float embedding per row; tabular models give tens of bytes.
   * `SLUICE_SERVING_MAX_OUTPUT_BYTES_PER_ROW` (bytes, or with kb/mb). @default 64 KiB
   */
  readonly servingMaxOutputBytesPerRow: number;
  /**
   * Most output bytes one inference request may produce: rows × the model's measured bytes per
   * row must stay under it, else 413 before the model runs. `SLUICE_SERVING_MAX_OUTPUT_BYTES`. @default 64 MiB
   */
  readonly servingMaxOutputBytes: number;
  /**
   * Address space of the child process that measures a model at registration (node itself takes
   * about 1 GiB of it): a model needing more on a few synthetic rows is refused, and the server
   * never runs it. `SLUICE_MODEL_CHECK_MEMORY` (bytes, or with mb/gb). @default 2 GiB
   */
  readonly modelCheckMemoryBytes: number;
  /** Longest the registration measurement of a model may run. `SLUICE_MODEL_CHECK_TIMEOUT_MS`. @default 20000 */
  readonly modelCheckTimeoutMs: number;
  /** How often the monitoring loop looks for windows to close; 0 turns the loop off (windows close only on request). */
  readonly monitoringIntervalMs: number;
  /** How often the leader checks every SLA; 0 turns the loop off. `SLUICE_SLA_INTERVAL_MS`. @default 30000 */
  readonly slaIntervalMs: number;
  /** Most prediction rows one monitoring window reads. */
  readonly monitoringMaxWindowRows: number;
  /**
   * The price table costs are computed with (a project's own settings override it). `SLUICE_PRICES`:
   * JSON with any of `currency`, `cpuHour`, `memoryGbHour`, `storageGbMonth`, `millionRequests`.
   * @default {"currency":"USD","cpuHour":0.04,"memoryGbHour":0.005,"storageGbMonth":0.023,"millionRequests":0.2}
   */
  readonly prices: Readonly<Prices>;
  /** How often the leader checks project budgets; 0 turns the check off. `SLUICE_BUDGET_INTERVAL_MS`. @default 60000 */
  readonly budgetIntervalMs: number;
  /** The prediction log of served models (`SLUICE_PREDICTION_LOG_*`; see src/serving/prediction-log/settings.ts). */
  readonly predictionLog: PredictionLogSettings;
  /** Per-endpoint request statistics (`SLUICE_ENDPOINT_STATS_*`; see src/serving/endpoint-stats/settings.ts). */
  readonly endpointStats: EndpointStatsSettings;
  /** Longest a POSTGRES_QUERY dataset source may run, in ms (each fetch and all together). `SLUICE_SQL_SOURCE_TIMEOUT_MS`. @default 60000 */
  readonly sqlSourceTimeoutMs: number;
  /** Most rows a POSTGRES_QUERY dataset source may return; a query returning more is refused. `SLUICE_SQL_SOURCE_MAX_ROWS`. @default 10000000 */
  readonly sqlSourceMaxRows: number;
  /**
   * The bubblewrap program that sandboxes project code (command and module stages); probed at
   * start. `none` runs no sandbox. `SLUICE_SANDBOX_BWRAP`. @default "bwrap" (looked up on PATH)
   */
  readonly sandboxBwrap: string;
  /**
   * Without a working sandbox, run project code anyway, unsandboxed (still with only the
   * documented environment); otherwise command and module stages are refused
   * (`SANDBOX_UNAVAILABLE`). Only for servers where every EDITOR is trusted with the server
   * itself. `SLUICE_TRUSTED_CODE`. @default false
   */
  readonly trustedCode: boolean;
  /**
   * Folders a pipeline's code may come from when it runs sandboxed: a pipeline whose folder (its
   * `baseDir`, a command's `cwd`, a module's folder) lies elsewhere is refused (`SANDBOX_REFUSED`),
   * so nobody who may apply a pipeline can show another host folder to a stage.
   * `SLUICE_CODE_ROOTS`, a comma list. @default the working directory
   */
  readonly codeRoots: readonly string[];
  /**
   * Memory a sandboxed stage process may allocate (its data segment and heap, RLIMIT_DATA set
   * with `prlimit` inside the sandbox): a stage that asks for more gets an allocation failure
   * instead of taking the machine's memory from the server. `SLUICE_STAGE_MEMORY` (bytes, or with
   * kb/mb/gb). @default 8 GiB
   */
  readonly stageMemoryBytes: number;
  // --- Warm pool of sandboxed module-stage hosts (issue #13) ---
  /**
   * How long a warm sandboxed host process (for `{ module }` stages) waits idle for the next
   * attempt of its project before it is ended, in ms. `SLUICE_SANDBOX_POOL_IDLE_MS`. @default 60000
   */
  readonly sandboxPoolIdleMs: number;
  /** Most warm sandboxed host processes kept, all projects together; 0 turns the pool off (one process per attempt). `SLUICE_SANDBOX_POOL_MAX`. @default 8 */
  readonly sandboxPoolMax: number;
  /** Most warm sandboxed host processes kept for one project. `SLUICE_SANDBOX_POOL_PER_PROJECT`. @default 2 */
  readonly sandboxPoolPerProject: number;
  // --- Outbound targets and size limits (issue #13) ---
  /**
   * Exceptions to the webhook target rule (no loopback, link-local, private, CGNAT or unspecified
   * addresses): host names, IPs or CIDRs. `SLUICE_WEBHOOK_ALLOW` (comma list). @default none
   */
  readonly webhookAllow: readonly string[];
  /** Shortest interval between two fires of a cron schedule, in seconds. `SLUICE_MIN_SCHEDULE_SECONDS`. @default 60 */
  readonly minScheduleSeconds: number;
  /** Most stages one pipeline spec may have. `SLUICE_MAX_PIPELINE_STAGES`. @default 1000 */
  readonly maxPipelineStages: number;
}

/** A runner the server can host in its own process. */
export type EmbeddedRunner = "local" | "process";

/** A setting that failed to parse: names the variable and what it accepts. */
export class ConfigError extends Error {
  constructor(variable: string, value: string, expected: string) {
    super(`${variable}=${JSON.stringify(value)} is not valid: expected ${expected}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(name, raw, `an integer >= ${min}`);
  return n;
}

function prices(env: Env, name: string): Readonly<Prices> {
  try {
    return Object.freeze(parsePrices(env[name], name));
  } catch (err) {
    const problems = (err as { problems?: Array<{ field: string; message: string }> }).problems ?? [];
    const why = problems.map((p) => `${p.field} ${p.message}`).join("; ") || (err as Error).message;
    throw new ConfigError(name, env[name]!, `a JSON price table (${why})`);
  }
}

function logFormat(env: Env, name: string): SluiceConfig["logFormat"] {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return "auto";
  if (raw === "auto" || raw === "json" || raw === "pretty") return raw;
  throw new ConfigError(name, env[name]!, "auto, json or pretty");
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, raw, "true or false");
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1024,
  k: 1024,
  mb: 1024 ** 2,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  kib: 1024,
  gb: 1024 ** 3,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

function byteSize(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const m = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new ConfigError(name, raw, "a positive size such as 1048576, 512kb or 1mb");
  return Number(m[1]) * unit;
}

const ENDPOINTS: readonly PublicEndpoint[] = ["healthz", "readyz", "metrics"];
const RUNNERS: readonly EmbeddedRunner[] = ["local", "process"];

function runners(env: Env, name: string): ReadonlySet<EmbeddedRunner> {
  const raw = env[name];
  if (raw === undefined || raw === "") return new Set(RUNNERS);
  if (raw.trim() === "none") return new Set();
  const out = new Set<EmbeddedRunner>();
  for (const part of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!RUNNERS.includes(part as EmbeddedRunner)) throw new ConfigError(name, raw, `a comma list of ${RUNNERS.join(", ")}, or none`);
    out.add(part as EmbeddedRunner);
  }
  return out;
}

function labels(env: Env, name: string): readonly string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return Object.freeze(["local"]);
  const out = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (out.length === 0 || out.some((l) => !/^[A-Za-z0-9_.-]{1,63}$/.test(l))) {
    throw new ConfigError(name, raw, "a comma list of labels (letters, digits, _ . -), e.g. local,gpu");
  }
  return Object.freeze([...new Set(out)]);
}

function labelLimits(env: Env, name: string): Readonly<Record<string, number>> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return {};
  const out: Record<string, number> = {};
  for (const part of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+)=(\d+)$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new ConfigError(name, raw, "label=limit pairs separated by commas, e.g. gpu=2,big=1");
    out[m[1]!] = Number(m[2]);
  }
  return Object.freeze(out);
}

function endpoints(env: Env, name: string): ReadonlySet<PublicEndpoint> {
  const raw = env[name];
  if (raw === undefined || raw === "") return new Set(ENDPOINTS);
  if (raw.trim() === "none") return new Set();
  const out = new Set<PublicEndpoint>();
  for (const part of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!ENDPOINTS.includes(part as PublicEndpoint)) throw new ConfigError(name, raw, `a comma list of ${ENDPOINTS.join(", ")}, or none`);
    out.add(part as PublicEndpoint);
  }
  return out;
}

/** 32 bytes in base64 (or base64url); the value itself never appears in the error. */
function secretKey(env: Env, name: string): Buffer | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) ? Buffer.from(raw.replace(/-/g, "+").replace(/_/g, "/"), "base64") : undefined;
  if (!key || key.length !== 32) throw new ConfigError(name, "<hidden>", "32 random bytes in base64, e.g. from `openssl rand -base64 32`");
  return key;
}

function webhookAllow(env: Env, name: string): readonly string[] {
  const raw = env[name];
  if (!raw) return [];
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const problem = allowEntryProblem(entry);
    if (problem) throw new ConfigError(name, entry, `${problem}, in a comma list`);
  }
  return entries;
}

function dataRoots(env: Env, name: string, fallback: string[]): readonly string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return Object.freeze([...new Set(fallback)]);
  const out = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => path.resolve(s));
  if (out.length === 0) throw new ConfigError(name, raw, "a comma list of folders, e.g. /data,/srv/shared");
  return Object.freeze([...new Set(out)]);
}

/** Flags given on the command line win over the environment. */
export interface ConfigOverrides {
  port?: number;
  host?: string;
  dataDir?: string;
}

/** Builds the frozen configuration; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env = process.env, overrides: ConfigOverrides = {}): SluiceConfig {
  const mode: Mode = env.NODE_ENV === "production" ? "production" : "development";
  const dataDir = overrides.dataDir ?? (env.SLUICE_DATA_DIR || ".sluice");
  const config: SluiceConfig = {
    port: overrides.port ?? integer(env, "PORT", 4000, 0),
    host: overrides.host ?? (env.HOST || "0.0.0.0"),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: dataDir === "memory://" ? dataDir : path.resolve(dataDir),
    mode,
    introspection: bool(env, "SLUICE_INTROSPECTION", mode === "development"),
    adminToken: env.SLUICE_ADMIN_TOKEN || undefined,
    bodyLimitBytes: byteSize(env, "SLUICE_BODY_LIMIT", 1024 * 1024),
    maxQueryDepth: integer(env, "SLUICE_MAX_DEPTH", 12, 1),
    maxQueryCost: integer(env, "SLUICE_MAX_COST", 10_000, 1),
    maxQueryNodes: integer(env, "SLUICE_MAX_NODES", 10_000, 1),
    rateLimitPerSecond: integer(env, "SLUICE_RATE_LIMIT", 100, 0),
    rateLimitBurst: integer(env, "SLUICE_RATE_LIMIT_BURST", 200, 0),
    publicEndpoints: endpoints(env, "SLUICE_PUBLIC_ENDPOINTS"),
    logLevel: env.LOG_LEVEL || "info",
    logFormat: logFormat(env, "SLUICE_LOG_FORMAT"),
    shutdownTimeoutMs: integer(env, "SLUICE_SHUTDOWN_TIMEOUT_MS", 10_000, 0),
    dbPoolSize: integer(env, "SLUICE_DB_POOL_SIZE", 10, 1),
    artifactDir: env.SLUICE_ARTIFACT_DIR
      ? path.resolve(env.SLUICE_ARTIFACT_DIR)
      : dataDir === "memory://"
        ? undefined
        : path.resolve(dataDir, "artifacts"),
    workDir: env.SLUICE_WORK_DIR ? path.resolve(env.SLUICE_WORK_DIR) : dataDir === "memory://" ? undefined : path.resolve(dataDir, "work"),
    embeddedRunners: runners(env, "SLUICE_RUNNERS"),
    embeddedLabels: labels(env, "SLUICE_RUNNER_LABELS"),
    localThreads: env.SLUICE_LOCAL_THREADS ? integer(env, "SLUICE_LOCAL_THREADS", 1, 1) : undefined,
    leaseMs: integer(env, "SLUICE_LEASE_MS", 30_000, 500),
    labelLimits: labelLimits(env, "SLUICE_LABEL_LIMITS"),
    governanceSweepMs: integer(env, "SLUICE_GOVERNANCE_SWEEP_MS", 5_000, 50),
    logRetentionDays: integer(env, "SLUICE_LOG_RETENTION_DAYS", 30, 1),
    uploadLimitBytes: byteSize(env, "SLUICE_UPLOAD_LIMIT", 10 * 1024 ** 3),
    secretKey: secretKey(env, "SLUICE_SECRET_KEY"),
    dataRoots: dataRoots(env, "SLUICE_DATA_ROOTS", dataDir === "memory://" ? [process.cwd()] : [process.cwd(), path.resolve(dataDir)]),
    notifyRetryMs: integer(env, "SLUICE_NOTIFY_RETRY_MS", 5000, 1),
    notifyMaxAttempts: integer(env, "SLUICE_NOTIFY_MAX_ATTEMPTS", 6, 1),
    mlflow: mlflowSettings(env),
    servingMaxBatch: integer(env, "SLUICE_SERVING_MAX_BATCH", 64, 1),
    servingMaxWaitMs: integer(env, "SLUICE_SERVING_MAX_WAIT_MS", 5, 0),
    servingMaxRows: integer(env, "SLUICE_SERVING_MAX_ROWS", 10_000, 1),
    servingMaxOutputBytesPerRow: byteSize(env, "SLUICE_SERVING_MAX_OUTPUT_BYTES_PER_ROW", 64 * 1024),
    servingMaxOutputBytes: byteSize(env, "SLUICE_SERVING_MAX_OUTPUT_BYTES", 64 * 1024 ** 2),
    modelCheckMemoryBytes: byteSize(env, "SLUICE_MODEL_CHECK_MEMORY", 2 * 1024 ** 3),
    modelCheckTimeoutMs: integer(env, "SLUICE_MODEL_CHECK_TIMEOUT_MS", 20_000, 100),
    monitoringIntervalMs: integer(env, "SLUICE_MONITORING_INTERVAL_MS", 5_000, 0),
    slaIntervalMs: integer(env, "SLUICE_SLA_INTERVAL_MS", 30_000, 0),
    monitoringMaxWindowRows: integer(env, "SLUICE_MONITORING_MAX_WINDOW_ROWS", 100_000, 1),
    prices: prices(env, "SLUICE_PRICES"),
    budgetIntervalMs: integer(env, "SLUICE_BUDGET_INTERVAL_MS", 60_000, 0),
    predictionLog: predictionLogSettings(env, (variable, value, expected) => new ConfigError(variable, value, expected)),
    endpointStats: endpointStatsSettings(env, (variable, value, expected) => new ConfigError(variable, value, expected)),
    sqlSourceTimeoutMs: integer(env, "SLUICE_SQL_SOURCE_TIMEOUT_MS", 60_000, 1),
    sqlSourceMaxRows: integer(env, "SLUICE_SQL_SOURCE_MAX_ROWS", 10_000_000, 1),
    sandboxBwrap: env.SLUICE_SANDBOX_BWRAP?.trim() || "bwrap",
    trustedCode: bool(env, "SLUICE_TRUSTED_CODE", false),
    codeRoots: dataRoots(env, "SLUICE_CODE_ROOTS", [process.cwd()]),
    stageMemoryBytes: byteSize(env, "SLUICE_STAGE_MEMORY", 8 * 1024 ** 3),
    sandboxPoolIdleMs: integer(env, "SLUICE_SANDBOX_POOL_IDLE_MS", 60_000, 0),
    sandboxPoolMax: integer(env, "SLUICE_SANDBOX_POOL_MAX", 8, 0),
    sandboxPoolPerProject: integer(env, "SLUICE_SANDBOX_POOL_PER_PROJECT", 2, 1),
    webhookAllow: webhookAllow(env, "SLUICE_WEBHOOK_ALLOW"),
    minScheduleSeconds: integer(env, "SLUICE_MIN_SCHEDULE_SECONDS", 60, 1),
    maxPipelineStages: integer(env, "SLUICE_MAX_PIPELINE_STAGES", 1000, 1),
  };
  if (config.port > 65535) throw new ConfigError("PORT", String(config.port), "a port number 0-65535");
  if (config.adminToken !== undefined && config.adminToken.length < 24) {
    throw new ConfigError("SLUICE_ADMIN_TOKEN", "<hidden>", "at least 24 characters (it guards everything)");
  }
  return Object.freeze(config);
}
