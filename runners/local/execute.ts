/**
 * Runs one task of the local runner wherever it is hosted (a worker thread for operators, a
 * sandboxed process for project modules): loads the stage function, calls it with its
 * `StageContext`, and posts `log`, `metric` and one last `done` message.
 * @internal used by `worker.ts` and `sandbox-host.ts`.
 */
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { isMainThread } from "node:worker_threads";
import { startSelfMeter } from "../usage/self";
import { createStageContext } from "./context";
import type { AbortMessage, SerializedError, WorkerTask, WorkerToMain } from "./messages";
import type { StageFunction } from "./stage";

/** The abort reason as the stage's `ctx.signal` carries it. */
export function abortReason(reason: AbortMessage["reason"]): DOMException {
  return reason === "timeout"
    ? new DOMException("the stage timed out", "TimeoutError")
    : new DOMException("the stage was canceled", "AbortError");
}

/** Runs `task` to its end; its last message posted is `done`. Never rejects. */
export async function executeTask(
  task: WorkerTask,
  post: (message: WorkerToMain) => void,
  signal: AbortSignal,
  options: { fresh?: string } = {},
): Promise<void> {
  // A worker thread measures its own thread; a sandboxed module process, the whole process.
  const meter = startSelfMeter(isMainThread ? "process" : "thread");
  let fn: StageFunction;
  try {
    fn = await loadStage(task.entry.module, task.entry.export, options.fresh);
  } catch (err) {
    post({ type: "done", status: "threw", phase: "load", error: serializeError(err), usage: meter.stop() });
    return;
  }
  const { ctx, settle, outputMetadata, close } = createStageContext(task, post, signal);
  let done: Extract<WorkerToMain, { type: "done" }>;
  try {
    const result = await fn(ctx);
    await settle();
    done = { type: "done", status: "returned", outputs: withTableMetadata(normalizeResult(result), outputMetadata()) };
  } catch (err) {
    await settle().catch(() => undefined);
    done = { type: "done", status: "threw", phase: "run", error: serializeError(err) };
  }
  // The attempt's DuckDB (tables read or written) ends with it, before `done`: a warm host must be left with nothing open.
  await close().catch(() => undefined);
  post({ ...done, usage: meter.stop() });
}

/** The metadata the table writers recorded, under what the stage returned for the same outputs (the stage's keys win). */
function withTableMetadata(
  outputs: Record<string, { path?: string; metadata?: Record<string, unknown> }>,
  tables: Record<string, Record<string, unknown>>,
): Record<string, { path?: string; metadata?: Record<string, unknown> }> {
  for (const [name, metadata] of Object.entries(tables)) {
    const entry = outputs[name] ?? {};
    // A path the stage returned elsewhere is not the table that was written: its metadata does not apply.
    if (entry.path !== undefined) continue;
    outputs[name] = { ...entry, metadata: { ...metadata, ...entry.metadata } };
  }
  return outputs;
}

const loaded = new Map<string, StageFunction>();
let typeScriptReady = false;

/**
 * The stage function `exportName` of `modulePath`, loaded once per worker; or, with `fresh` (a
 * warm sandboxed host, whose caller cleared the project's modules from `require.cache`), loaded
 * anew, an ES module under the query `?attempt=<fresh>` so that it is evaluated again.
 */
async function loadStage(modulePath: string, exportName: string, fresh?: string): Promise<StageFunction> {
  const key = `${modulePath}#${exportName}`;
  const cached = fresh === undefined ? loaded.get(key) : undefined;
  if (cached) return cached;
  // A sandboxed host may have its own `.ts` loader already (modules transpiled by the runner).
  if (/\.[cm]?ts$/.test(modulePath) && !typeScriptReady && !require.extensions[".ts"]) {
    // Loaded lazily: the TypeScript compiler is large and only .ts stages need it.
    const { registerTypeScript } = require("./typescript") as typeof import("./typescript");
    registerTypeScript();
    typeScriptReady = true;
  }
  let mod: unknown;
  try {
    mod = require(modulePath);
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_REQUIRE_ESM") throw err;
    const url = pathToFileURL(modulePath);
    if (fresh !== undefined) url.searchParams.set("attempt", fresh);
    mod = await import(url.href);
  }
  let fn = (mod as Record<string, unknown> | undefined)?.[exportName];
  if (fn === undefined && exportName === "default" && typeof mod === "function") fn = mod;
  if (typeof fn !== "function") {
    const names = mod && typeof mod === "object" ? Object.keys(mod).join(", ") : "";
    throw new Error(`${modulePath} has no function export "${exportName}" (its exports: ${names || "none"})`);
  }
  if (fresh === undefined) loaded.set(key, fn as StageFunction);
  return fn as StageFunction;
}

/** The stage's return value as plain data: output name -> { path?, metadata? }; anything else is ignored. */
function normalizeResult(result: unknown): Record<string, { path?: string; metadata?: Record<string, unknown> }> {
  const outputs: Record<string, { path?: string; metadata?: Record<string, unknown> }> = {};
  if (!result || typeof result !== "object") return outputs;
  for (const [name, value] of Object.entries(result as Record<string, unknown>)) {
    if (!value || typeof value !== "object") continue;
    const { path, metadata } = value as { path?: unknown; metadata?: unknown };
    const entry: { path?: string; metadata?: Record<string, unknown> } = {};
    if (typeof path === "string" && path.length > 0) entry.path = path;
    if (metadata !== undefined) {
      try {
        entry.metadata = JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`the metadata returned for output "${name}" is not JSON: ${(err as Error).message}`);
      }
    }
    outputs[name] = entry;
  }
  return outputs;
}

/** A thrown value as data; `nonRetryable` is read from the value, never from its class. */
export function serializeError(err: unknown): SerializedError {
  if (!err || typeof err !== "object") return { name: "Error", message: String(err), nonRetryable: false };
  const e = err as {
    name?: unknown;
    message?: unknown;
    stack?: unknown;
    nonRetryable?: unknown;
    details?: unknown;
    code?: unknown;
    failureType?: unknown;
  };
  const out: SerializedError = {
    name: typeof e.name === "string" ? e.name : "Error",
    message: typeof e.message === "string" ? e.message : format(err),
    nonRetryable: e.nonRetryable === true,
  };
  if (typeof e.stack === "string") out.stack = e.stack;
  const details: Record<string, unknown> = {};
  if (typeof e.code === "string") details.code = e.code;
  if (typeof e.failureType === "string") details.failureType = e.failureType;
  if (e.details && typeof e.details === "object") {
    try {
      Object.assign(details, JSON.parse(JSON.stringify(e.details)));
    } catch {
      // Details that are not JSON are dropped; the message and stack remain.
    }
  }
  if (Object.keys(details).length > 0) out.details = details;
  return out;
}
