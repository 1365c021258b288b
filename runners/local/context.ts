/**
 * Builds the `StageContext` a stage function is called with, inside a worker thread: input
 * readers, output writers, `log` and `metric` posting to the task's port.
 * @internal used by `worker.ts`.
 */
import { mkdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { format } from "node:util";
import { outputDir } from "../outputs";
import type { WorkerTask, WorkerToMain } from "./messages";
import type { StageContext, StageInput, StageOutputTarget } from "./stage";

/** Posts `text` as one log message per line (a message with newlines is several lines). */
export function postLines(post: (message: WorkerToMain) => void, stream: "stdout" | "stderr", text: string): void {
  for (const line of text.split(/\r?\n/)) post({ type: "log", stream, text: line });
}

/**
 * Makes `console.log/info/debug` stdout log lines and `console.warn/error` stderr ones of the task
 * running now, in order with `ctx.log`; `target()` gives where that task reports, or undefined
 * when none runs (the console then writes as it did).
 */
export function routeConsole(target: () => ((message: WorkerToMain) => void) | undefined): void {
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
      const post = target();
      if (!post) return original(...args);
      postLines(post, stream, format(...args));
    };
  }
}

/**
 * The context for one task, and `settle()`: resolves when every output write the stage started
 * has finished (rejects with the first that failed), so a write the stage forgot to await still
 * lands before the outputs are checked.
 */
export function createStageContext(
  task: WorkerTask,
  post: (message: WorkerToMain) => void,
  signal: AbortSignal,
): { ctx: StageContext; settle(): Promise<void> } {
  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>): Promise<void> => {
    pending.add(work);
    const forget = () => pending.delete(work);
    work.then(forget, forget);
    return work;
  };

  const inputs: Record<string, StageInput> = {};
  for (const [name, input] of Object.entries(task.inputs)) {
    inputs[name] = {
      ...input,
      readText: () => readFile(input.path, "utf8"),
      readJson: async <T>() => JSON.parse(await readFile(input.path, "utf8")) as T,
      readBuffer: () => readFile(input.path),
    };
  }

  const dir = outputDir(task.workDir);
  const outputs: Record<string, StageOutputTarget> = {};
  for (const name of task.outputNames) {
    const target = path.join(dir, name);
    const write = (data: string | Uint8Array) =>
      track(
        (async () => {
          await mkdir(dir, { recursive: true });
          await writeFile(target, data);
        })(),
      );
    outputs[name] = {
      path: target,
      writeText: (text) => write(String(text)),
      writeJson: (value) => write(JSON.stringify(value)),
      writeBuffer: (data) => write(data),
      dir: () => {
        mkdirSync(target, { recursive: true });
        return target;
      },
    };
  }

  const ctx: StageContext = {
    runId: task.runId,
    stageRunId: task.stageRunId,
    stageName: task.stageName,
    attempt: task.attempt,
    workDir: task.workDir,
    params: task.params,
    inputs,
    outputs,
    secrets: Object.freeze({ ...task.secrets }),
    signal,
    log: (...args) => postLines(post, "stdout", format(...args)),
    metric: (key, value, step) => {
      if (typeof key !== "string" || key.length === 0) throw new TypeError("metric: key must be a non-empty string");
      if (typeof value !== "number" || !Number.isFinite(value))
        throw new TypeError(`metric ${key}: value must be a finite number, got ${value}`);
      if (step !== undefined && !(Number.isInteger(step) && step >= 0)) {
        throw new TypeError(`metric ${key}: step must be a non-negative integer, got ${step}`);
      }
      post(step === undefined ? { type: "metric", key, value } : { type: "metric", key, value, step });
    },
  };

  const settle = async () => {
    while (pending.size > 0) await Promise.all([...pending]);
  };
  return { ctx, settle };
}
