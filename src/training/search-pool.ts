/**
 * Runs the trials of a hyperparameter search, in this thread or across worker threads, and keeps
 * the model of the best one. The data every trial shares (preprocessed features and targets) is
 * copied once into SharedArrayBuffers that all workers read, so a worker costs a thread start and
 * a module load, not a copy of the data. Trials are independent and deterministic, so the result
 * is the same whatever the number of workers; only the order they finish in changes.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { bestTrial } from "./search";
import { fitModel, predictValidation, validationMetrics, type TrainedModel, type TrialData } from "./trial";

export interface TrialRequest {
  index: number;
  hyperparameters: Record<string, unknown>;
}

export type TrialReply =
  | { index: number; ok: true; model: TrainedModel; metrics: Record<string, number>; details: Record<string, unknown>; durationMs: number }
  | { index: number; ok: false; error: string; durationMs: number };

/** One trial as the search records it. */
export interface TrialRecord {
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  durationMs: number;
  /** Trainer facts (iterations, trees). */
  training?: Record<string, unknown>;
  /** Why the trial failed (it then has no metrics and cannot win). */
  error?: string;
}

export interface SearchOutcome {
  trials: TrialRecord[];
  /** Index of the best trial; null when no trial produced the metric. */
  best: number | null;
  /** The best trial's model, as trained: the one to export. */
  bestModel: TrainedModel | null;
}

export interface RunTrialsOptions {
  metric: string;
  direction: "maximize" | "minimize";
  /** Worker threads; 0 runs the trials one after another in this thread. */
  workers: number;
  signal?: AbortSignal;
  /** Called as each trial ends (in completion order). */
  onTrial?(index: number, trial: TrialRecord): void;
}

/**
 * Runs `configs` (each trial's full hyperparameters) on `data`. A trial that throws is recorded
 * with its error; the search goes on. Rejects when `signal` aborts or a worker dies.
 */
export async function runTrials(data: TrialData, configs: Array<Record<string, unknown>>, opts: RunTrialsOptions): Promise<SearchOutcome> {
  const trials: Array<TrialRecord | undefined> = new Array(configs.length);
  let kept: { index: number; model: TrainedModel } | null = null;

  // Keeps a finished trial's model only while it is the best of the finished ones: the overall best
  // (earliest among equals) is the best of the finished set when it finishes, and stays so.
  const record = (reply: TrialReply) => {
    const trial: TrialRecord = reply.ok
      ? { params: configs[reply.index]!, metrics: reply.metrics, durationMs: Math.round(reply.durationMs), training: reply.details }
      : { params: configs[reply.index]!, metrics: {}, durationMs: Math.round(reply.durationMs), error: reply.error };
    trials[reply.index] = trial;
    if (reply.ok) {
      const done = trials.map((t) => t ?? { metrics: {} });
      if (bestTrial(done, opts.metric, opts.direction) === reply.index) kept = { index: reply.index, model: reply.model };
    }
    opts.onTrial?.(reply.index, trial);
  };

  if (opts.workers <= 0 || configs.length <= 1) {
    for (let index = 0; index < configs.length; index++) {
      opts.signal?.throwIfAborted();
      record(runInThread(data, { index, hyperparameters: configs[index]! }));
    }
  } else {
    await runInWorkers(shareData(data), configs, Math.min(opts.workers, configs.length), record, opts.signal);
  }
  const all = trials.map((t) => t!);
  const best = bestTrial(all, opts.metric, opts.direction);
  const k = kept as { index: number; model: TrainedModel } | null;
  if (best !== null && k?.index !== best) throw new Error(`search kept trial ${k?.index}'s model but trial ${best} is best`);
  return { trials: all, best, bestModel: k?.model ?? null };
}

function runInThread(data: TrialData, req: TrialRequest): TrialReply {
  const started = performance.now();
  try {
    const { model, details } = fitModel(data, req.hyperparameters);
    const metrics = validationMetrics(data, predictValidation(data, model));
    return { index: req.index, ok: true, model, metrics, details, durationMs: performance.now() - started };
  } catch (err) {
    return { index: req.index, ok: false, error: (err as Error).message ?? String(err), durationMs: performance.now() - started };
  }
}

/** The same data with its typed arrays over SharedArrayBuffers, so every worker reads one copy. */
function shareData(data: TrialData): TrialData {
  const share = <T extends Float32Array | Float64Array>(a: T): T => {
    const copy = new (a.constructor as { new (b: SharedArrayBuffer): T })(new SharedArrayBuffer(a.byteLength));
    copy.set(a);
    return copy;
  };
  return { ...data, Xtr: share(data.Xtr), ytr: share(data.ytr), Xva: share(data.Xva), yva: share(data.yva) };
}

function runInWorkers(
  data: TrialData,
  configs: Array<Record<string, unknown>>,
  workers: number,
  record: (reply: TrialReply) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const pool: Worker[] = [];
    let next = 0;
    let finished = 0;
    let settled = false;
    const end = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      for (const w of pool) void w.terminate();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => end(signal!.reason ?? new Error("aborted"));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const feed = (w: Worker) => {
      if (next < configs.length) {
        const index = next++;
        w.postMessage({ index, hyperparameters: configs[index]! } satisfies TrialRequest);
      }
    };
    for (let i = 0; i < workers; i++) {
      const w = new Worker(path.join(__dirname, "search-worker.js"), { workerData: data });
      pool.push(w);
      w.on("message", (reply: TrialReply) => {
        if (settled) return;
        try {
          record(reply);
        } catch (err) {
          return end(err);
        }
        if (++finished === configs.length) return end();
        feed(w);
      });
      w.on("error", (err) => end(err));
      w.on("exit", (code) => {
        if (!settled) end(new Error(`a search worker thread exited (code ${code}) before the search ended`));
      });
      feed(w);
    }
  });
}
