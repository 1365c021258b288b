/**
 * The worker thread entry of the local runner: loads stage functions and runs one task at a time,
 * reporting over the task's `MessagePort` (see `messages.ts`). Started by `pool.ts`; never
 * imported by other code.
 * @internal
 */
import { type MessagePort, parentPort } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { createStageContext, postLines } from "./context";
import type { AbortMessage, RunMessage, SerializedError, WorkerTask, WorkerToMain } from "./messages";
import type { StageFunction } from "./stage";

if (!parentPort) throw new Error("runners/local/worker runs only as a worker thread");
const port0 = parentPort;

/** The port of the task running now; `console.*` goes there while a task runs. */
let current: MessagePort | undefined;

routeConsole();
port0.on("message", (message: RunMessage) => {
  if (message.type === "run") void runTask(message.task, message.port);
});

async function runTask(task: WorkerTask, port: MessagePort): Promise<void> {
  const controller = new AbortController();
  port.on("message", (message: AbortMessage) => {
    if (message.type !== "abort" || controller.signal.aborted) return;
    controller.abort(
      message.reason === "timeout"
        ? new DOMException("the stage timed out", "TimeoutError")
        : new DOMException("the stage was canceled", "AbortError"),
    );
  });
  const post = (message: WorkerToMain) => port.postMessage(message);
  current = port;
  try {
    let fn: StageFunction;
    try {
      fn = await loadStage(task.entry.module, task.entry.export);
    } catch (err) {
      post({ type: "done", status: "threw", phase: "load", error: serializeError(err) });
      return;
    }
    const { ctx, settle } = createStageContext(task, post, controller.signal);
    try {
      const result = await fn(ctx);
      await settle();
      post({ type: "done", status: "returned", outputs: normalizeResult(result) });
    } catch (err) {
      await settle().catch(() => undefined);
      post({ type: "done", status: "threw", phase: "run", error: serializeError(err) });
    }
  } finally {
    current = undefined;
    port.removeAllListeners("message");
  }
}

const loaded = new Map<string, StageFunction>();
let typeScriptReady = false;

/** The stage function `exportName` of `modulePath`, loaded once per worker. */
async function loadStage(modulePath: string, exportName: string): Promise<StageFunction> {
  const key = `${modulePath}#${exportName}`;
  const cached = loaded.get(key);
  if (cached) return cached;
  if (/\.[cm]?ts$/.test(modulePath) && !typeScriptReady) {
    // Loaded lazily: the TypeScript compiler is large and only .ts stages need it.
    const { registerTypeScript } = require("../../src/pipelines/typescript") as typeof import("../../src/pipelines/typescript");
    registerTypeScript();
    typeScriptReady = true;
  }
  let mod: unknown;
  try {
    mod = require(modulePath);
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_REQUIRE_ESM") throw err;
    mod = await import(pathToFileURL(modulePath).href);
  }
  let fn = (mod as Record<string, unknown> | undefined)?.[exportName];
  if (fn === undefined && exportName === "default" && typeof mod === "function") fn = mod;
  if (typeof fn !== "function") {
    const names = mod && typeof mod === "object" ? Object.keys(mod).join(", ") : "";
    throw new Error(`${modulePath} has no function export "${exportName}" (its exports: ${names || "none"})`);
  }
  loaded.set(key, fn as StageFunction);
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
function serializeError(err: unknown): SerializedError {
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

/** While a task runs, `console.log/info/debug` become stdout log lines and `console.warn/error` stderr ones. */
function routeConsole(): void {
  const routes: Array<["log" | "info" | "debug" | "warn" | "error", "stdout" | "stderr"]> = [
    ["log", "stdout"],
    ["info", "stdout"],
    ["debug", "stdout"],
    ["warn", "stderr"],
    ["error", "stderr"],
  ];
  for (const [method, stream] of routes) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const port = current;
      if (!port) return original(...args);
      postLines((m) => port.postMessage(m), stream, format(...args));
    };
  }
}
