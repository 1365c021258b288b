import { InvalidInputError } from "../kernel/errors";

/**
 * MLflow's limits and key rules for what a run logs, with MLflow's messages, so a client that
 * handles MLflow's errors understands Sluice's (mlflow/utils/validation.py).
 */
export const MAX_METRICS_PER_BATCH = 1000;
export const MAX_PARAMS_TAGS_PER_BATCH = 100;
export const MAX_ENTITIES_PER_BATCH = 1000;
export const MAX_PARAM_VAL_LENGTH = 6000;
export const MAX_TAG_VAL_LENGTH = 5000;
export const MAX_ENTITY_KEY_LENGTH = 250;
export const MAX_EXPERIMENT_NAME_LENGTH = 500;

const VALID_KEY = /^[/\w.\- ]*$/;
const BAD_CHARACTERS = "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).";

/** An MLflow INVALID_PARAMETER_VALUE: a Sluice input error whose message is MLflow's. */
export function invalid(message: string, field = "request"): InvalidInputError {
  const err = new InvalidInputError([{ field, message }]);
  err.message = message;
  return err;
}

function normPath(name: string): string {
  // posixpath.normpath, enough to tell whether a name resolves to another.
  const absolute = name.startsWith("/");
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else if (p === ".." && absolute) continue;
    else parts.push(p);
  }
  const out = (absolute ? "/" : "") + parts.join("/");
  return out || (absolute ? "/" : ".");
}

export function checkKey(kind: "metric" | "parameter" | "tag", name: unknown): string {
  const Kind = kind === "metric" ? "Metric" : kind === "parameter" ? "Parameter" : "Tag";
  if (name === undefined || name === null) throw invalid(`${Kind} name cannot be None. A key name must be provided.`, "key");
  if (typeof name !== "string" || !VALID_KEY.test(name)) throw invalid(`Invalid ${kind} name: '${String(name)}'. ${BAD_CHARACTERS}`, "key");
  const norm = normPath(name);
  if (norm !== name || norm === "." || norm.startsWith("..") || norm.startsWith("/")) {
    throw invalid(
      `Invalid ${kind} name: '${name}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`,
      "key",
    );
  }
  const label = kind === "metric" ? "Metric name" : kind === "parameter" ? "Param key" : "Tag key";
  checkLength(label, MAX_ENTITY_KEY_LENGTH, name);
  return name;
}

export function checkLength(label: string, limit: number, value: string): string {
  if (value.length > limit) {
    throw invalid(`${label} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`, "value");
  }
  return value;
}

/** A metric value as MLflow's JSON carries it: a number, or "NaN" / "Infinity" / "-Infinity". */
export function metricValue(value: unknown, key: string, timestamp: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity" || value === "inf") return Infinity;
  if (value === "-Infinity" || value === "-inf") return -Infinity;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  throw invalid(
    `Got invalid value ${String(value)} for metric '${key}' (timestamp=${String(timestamp)}). Please specify value as a valid double (64-bit floating point)`,
    "value",
  );
}

/** An int64 as MLflow's JSON may carry it: a number or a decimal string. */
export function int64(value: unknown, what: string, fallback?: number): number {
  if ((value === undefined || value === null || value === "") && fallback !== undefined) return fallback;
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n))
    throw invalid(`Invalid value ${JSON.stringify(value)} for parameter '${what}': must be a 64-bit integer`, what);
  return n;
}

export function checkBatchLimits(metrics: number, params: number, tags: number): void {
  const limit = (entity: string, max: number, length: number) => {
    if (length > max) {
      throw invalid(
        `A batch logging request can contain at most ${max} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`,
      );
    }
  };
  limit("metrics", MAX_METRICS_PER_BATCH, metrics);
  limit("params", MAX_PARAMS_TAGS_PER_BATCH, params);
  limit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags);
  limit("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags);
}

export function checkExperimentName(name: unknown): string {
  if (name === undefined || name === null || name === "") throw invalid(`Invalid experiment name: '${name ?? "None"}'`, "name");
  if (typeof name !== "string") throw invalid(`Invalid experiment name: ${String(name)}. Expects a string.`, "name");
  if (name.length > MAX_EXPERIMENT_NAME_LENGTH) {
    throw invalid(`Experiment name exceeds the maximum length of ${MAX_EXPERIMENT_NAME_LENGTH} characters`, "name");
  }
  return name;
}
