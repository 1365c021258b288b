/**
 * A pool of worker threads that runs one task per worker at a time and reuses workers across
 * tasks. Tasks wait in a FIFO queue when every worker is busy; workers start lazily up to `size`
 * and are unref'd while idle (an idle pool does not keep the process alive). A worker that dies
 * or is terminated is dropped; the next queued task starts a fresh one.
 * @internal used by `index.ts`.
 */
import path from "node:path";
import { MessageChannel, type MessagePort, type ResourceLimits, Worker } from "node:worker_threads";
import type { DoneMessage, RunMessage, WorkerTask, WorkerToMain } from "./messages";

export type AbortReason = "cancel" | "timeout";

/** How a task ended, from the pool's point of view. */
export type JobResult =
  | { kind: "done"; message: DoneMessage }
  /** Stopped by `abort`: it ended within the grace period, was terminated after it, or had not started. */
  | { kind: "aborted"; reason: AbortReason }
  /** The worker thread died while the task ran. */
  | { kind: "crashed"; exitCode: number; error?: { name?: string; message: string; stack?: string; code?: string } };

export interface PoolJob {
  task: WorkerTask;
  /** Abort with reason `timeout` after this long, counted from when a worker takes the task. */
  timeoutMs?: number;
  onLog(stream: "stdout" | "stderr", text: string): void;
  onMetric(key: string, value: number, step?: number): void;
}

export interface JobHandle {
  /** Resolves once, with how the task ended. */
  readonly result: Promise<JobResult>;
  /** Asks the task to stop (a queued task is simply dropped); the first reason given wins. */
  abort(reason: AbortReason): void;
}

export interface WorkerPoolOptions {
  size: number;
  /** How long an aborted task may take to return before its worker is terminated. */
  cancelGraceMs: number;
  resourceLimits?: ResourceLimits;
}

interface Slot {
  worker: Worker;
  entry?: Entry;
  /** Set once the worker is terminated or has exited: it takes no more tasks. */
  retired: boolean;
  error?: unknown;
}

interface Entry {
  job: PoolJob;
  state: "queued" | "running" | "settled";
  resolve(result: JobResult): void;
  slot?: Slot;
  port?: MessagePort;
  abortReason?: AbortReason;
  timeoutTimer?: NodeJS.Timeout;
  graceTimer?: NodeJS.Timeout;
}

const WORKER_FILE = path.join(__dirname, "worker.js");

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly queue: Entry[] = [];
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Queues a task; it starts as soon as a worker is free. */
  submit(job: PoolJob): JobHandle {
    let resolve!: (result: JobResult) => void;
    const result = new Promise<JobResult>((r) => (resolve = r));
    const entry: Entry = { job, state: "queued", resolve };
    this.queue.push(entry);
    this.pump();
    return { result, abort: (reason) => this.abort(entry, reason) };
  }

  /** Live workers, busy ones, and tasks waiting for a worker. */
  stats(): { workers: number; busy: number; queued: number } {
    return { workers: this.slots.length, busy: this.slots.filter((s) => s.entry).length, queued: this.queue.length };
  }

  /** Terminates every worker. Call when no task runs or waits any more. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    this.idle.length = 0;
    await Promise.all(
      slots.map((slot) => {
        slot.retired = true;
        return slot.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot = this.idle.pop();
      if (!slot) {
        if (this.slots.length >= this.options.size) return;
        slot = this.spawn();
      }
      this.start(this.queue.shift()!, slot);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_FILE, { resourceLimits: this.options.resourceLimits });
    const slot: Slot = { worker, retired: false };
    worker.on("error", (err) => (slot.error = err));
    worker.on("exit", (exitCode) => this.onExit(slot, exitCode));
    this.slots.push(slot);
    return slot;
  }

  private start(entry: Entry, slot: Slot): void {
    const { port1, port2 } = new MessageChannel();
    entry.state = "running";
    entry.slot = slot;
    entry.port = port1;
    slot.entry = entry;
    port1.on("message", (message: WorkerToMain) => {
      if (entry.state !== "running") return;
      if (message.type === "log") entry.job.onLog(message.stream, message.text);
      else if (message.type === "metric") entry.job.onMetric(message.key, message.value, message.step);
      else if (message.type === "done") this.finish(entry, message);
    });
    slot.worker.ref();
    const run: RunMessage = { type: "run", task: entry.job.task, port: port2 };
    slot.worker.postMessage(run, [port2]);
    if (entry.job.timeoutMs !== undefined) entry.timeoutTimer = setTimeout(() => this.abort(entry, "timeout"), entry.job.timeoutMs);
  }

  private abort(entry: Entry, reason: AbortReason): void {
    if (entry.state === "queued") {
      this.queue.splice(this.queue.indexOf(entry), 1);
      this.settle(entry, { kind: "aborted", reason });
      return;
    }
    if (entry.state !== "running" || entry.abortReason) return;
    entry.abortReason = reason;
    entry.port!.postMessage({ type: "abort", reason });
    entry.graceTimer = setTimeout(() => this.kill(entry), this.options.cancelGraceMs);
  }

  /** The grace period ran out: terminate the worker under the task; a fresh one replaces it on demand. */
  private kill(entry: Entry): void {
    if (entry.state !== "running") return;
    const slot = entry.slot!;
    this.retire(slot);
    void slot.worker.terminate();
    this.settle(entry, { kind: "aborted", reason: entry.abortReason! });
    this.pump();
  }

  private finish(entry: Entry, done: DoneMessage): void {
    const slot = entry.slot!;
    slot.entry = undefined;
    if (!slot.retired) {
      slot.worker.unref();
      this.idle.push(slot);
    }
    this.settle(entry, entry.abortReason ? { kind: "aborted", reason: entry.abortReason } : { kind: "done", message: done });
    this.pump();
  }

  private onExit(slot: Slot, exitCode: number): void {
    if (slot.retired) return;
    this.retire(slot);
    const entry = slot.entry;
    if (entry) {
      // Let messages the worker posted before dying (its last log lines) arrive first.
      setImmediate(() => {
        if (entry.abortReason) return this.settle(entry, { kind: "aborted", reason: entry.abortReason });
        this.settle(entry, { kind: "crashed", exitCode, error: describe(slot.error) });
      });
    }
    this.pump();
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const j = this.idle.indexOf(slot);
    if (j >= 0) this.idle.splice(j, 1);
  }

  private settle(entry: Entry, result: JobResult): void {
    if (entry.state === "settled") return;
    entry.state = "settled";
    clearTimeout(entry.timeoutTimer);
    clearTimeout(entry.graceTimer);
    if (entry.slot?.entry === entry) entry.slot.entry = undefined;
    entry.port?.close();
    entry.resolve(result);
  }
}

function describe(err: unknown): { name?: string; message: string; stack?: string; code?: string } | undefined {
  if (err === undefined) return undefined;
  if (!(err instanceof Error)) return { message: String(err) };
  const out: { name?: string; message: string; stack?: string; code?: string } = { name: err.name, message: err.message };
  if (err.stack) out.stack = err.stack;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") out.code = code;
  return out;
}
