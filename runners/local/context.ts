/**
 * Builds the `StageContext` a stage function is called with, inside a worker thread: input
 * readers, output writers, `log` and `metric` posting to the task's port.
 * @internal used by `worker.ts`.
 */
import { mkdirSync, statSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { format } from "node:util";
import { outputDir } from "../outputs";
import { TableSession, tableReader, writeRowsAsParquet } from "../tables";
import type { WorkerTask, WorkerToMain } from "./messages";
import type { StageContext, StageInput, StageOutputTarget, TableRow, TableWriteOptions } from "./stage";

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
 * lands before the outputs are checked. `outputMetadata()` is what the table writers attach to
 * their outputs (`format`, `rowCount`, a dataset registration); `close()` ends the attempt's
 * DuckDB, if the stage opened one.
 */
export function createStageContext(
  task: WorkerTask,
  post: (message: WorkerToMain) => void,
  signal: AbortSignal,
): {
  ctx: StageContext;
  settle(): Promise<void>;
  outputMetadata(): Record<string, Record<string, unknown>>;
  close(): Promise<void>;
} {
  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>): Promise<void> => {
    pending.add(work);
    const forget = () => pending.delete(work);
    work.then(forget, forget);
    return work;
  };

  const session = new TableSession(task.workDir);
  const inputs: Record<string, StageInput> = {};
  for (const [name, input] of Object.entries(task.inputs)) {
    inputs[name] = {
      ...input,
      readText: () => readFile(input.path, "utf8"),
      readJson: async <T>() => JSON.parse(await readFile(input.path, "utf8")) as T,
      readBuffer: () => readFile(input.path),
      ...tableReader(session, name, input.path, isFolder(input.path)),
    };
  }

  const dir = outputDir(task.workDir);
  const written: Record<string, Record<string, unknown>> = {};
  const writeTable = (name: string, target: string, batches: Parameters<typeof writeRowsAsParquet>[2], options: TableWriteOptions = {}) => {
    const work = (async () => {
      const registration = datasetRegistration(name, options);
      const shape = await writeRowsAsParquet(session, target, batches);
      written[name] = { format: "parquet", rowCount: shape.rowCount, ...registration };
      return shape;
    })();
    void track(work.then(() => undefined));
    return work;
  };
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
      writeRows: (rows, options) => {
        if (!Array.isArray(rows)) return Promise.reject(new TypeError(`writeRows: rows for output "${name}" must be an array`));
        return writeTable(name, target, [rows as readonly TableRow[]], options);
      },
      writeTable: (batches, options) => writeTable(name, target, batches, options),
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
  return { ctx, settle, outputMetadata: () => written, close: () => session.closed() };
}

/** Whether `file` is a folder (a multi-file artifact); a path that cannot be read counts as a file, whose reader then says why. */
function isFolder(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The output metadata that asks the server to register a written table as a dataset version
 * (`src/operators/hooks.ts`, registration `stageDataset`); the server checks the name and reads
 * schema, row count and profile from the stored Parquet itself, trusting nothing else of it.
 */
function datasetRegistration(output: string, options: TableWriteOptions): Record<string, unknown> {
  if (options === null || typeof options !== "object") throw new TypeError(`output "${output}": the write options must be an object`);
  if (options.dataset === undefined) return {};
  if (typeof options.dataset !== "string" || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(options.dataset)) {
    throw new TypeError(`output "${output}": dataset must be 1-63 characters of lowercase letters, digits, _ and -`);
  }
  return {
    register: { type: "stageDataset", dataset: options.dataset, ...(options.schemaPolicy ? { schemaPolicy: options.schemaPolicy } : {}) },
  };
}
