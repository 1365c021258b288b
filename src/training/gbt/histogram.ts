/**
 * Gradient histograms of a tree node, optionally built by several threads at once.
 *
 * Layout: (grad, hess, count) triples per (feature, bin), feature f's 256 bins starting at
 * f · HIST_STRIDE. Rows are read through a row-major copy of the binned matrix, so one row's bins
 * for every feature share a cache line: a node's rows are scattered over the matrix, and the
 * column-major layout cost one cache miss per feature per row there.
 *
 * Threads split the FEATURES, never the rows: each histogram cell is still the sum of the same
 * rows in the same order, so a model is bit-for-bit the same whatever the thread count (the
 * "deterministic for a seed" promise does not depend on the machine). The node's gradients are
 * kept contiguous in node order (see beginTree); the main thread builds the first feature block
 * itself, and worker threads build the others into scratch buffers it then copies; they share the
 * data through SharedArrayBuffers and are woken with Atomics, which costs microseconds rather than
 * a message round trip. Nodes under MIN_ROWS_PER_DISPATCH rows stay on the main thread.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { HIST_BINS } from "./binning";

/** Doubles per feature in a histogram: (grad, hess, count) per possible Uint8 bin. */
export const HIST_STRIDE = HIST_BINS * 3;

/**
 * Adds the rows order[start … start+m) — whose gradients are og/oh[start … start+m), kept in node
 * order — to `hist` for features [f0, f1). Each cell gets its rows in node order, whichever thread
 * runs it.
 */
export function accumulate(
  rowBins: Uint8Array,
  cols: number,
  order: Uint32Array,
  start: number,
  m: number,
  og: Float64Array,
  oh: Float64Array,
  hist: Float64Array,
  f0: number,
  f1: number,
): void {
  for (let i = start; i < start + m; i++) {
    const base = order[i]! * cols;
    const g = og[i]!;
    const h = oh[i]!;
    for (let f = f0; f < f1; f++) {
      const b = f * HIST_STRIDE + 3 * rowBins[base + f]!;
      hist[b] += g;
      hist[b + 1] += h;
      hist[b + 2]++;
    }
  }
}

/** Control slots shared with one worker (Int32Array indices). */
export const CTRL = { SEQ: 0, DONE: 1, START: 2, COUNT: 3, F0: 4, F1: 5, ERROR: 6, SIZE: 8 } as const;
/** Nodes with fewer rows are built on the main thread alone: waking a worker would cost more. */
const MIN_ROWS_PER_DISPATCH = 16_384;
/** Below this many (rows × features) a training run starts no worker at all. */
const MIN_CELLS_FOR_THREADS = 1_000_000;
const WORKER_TIMEOUT_MS = 120_000;

/** Threads to use by default: SLUICE_TRAIN_THREADS, else the cores Node may use. */
export function defaultThreads(): number {
  const env = Number(process.env.SLUICE_TRAIN_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

function shared<T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(
  Ctor: { new (buf: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  n: number,
  threaded: boolean,
): T {
  const buf = threaded
    ? new SharedArrayBuffer(Math.max(1, n) * Ctor.BYTES_PER_ELEMENT)
    : new ArrayBuffer(Math.max(1, n) * Ctor.BYTES_PER_ELEMENT);
  return new Ctor(buf as SharedArrayBuffer);
}

interface HistWorker {
  worker: Worker;
  ctrl: Int32Array;
  scratch: Float64Array;
  f0: number;
  f1: number;
  seq: number;
}

/**
 * Owns the row-major bins, the node-order row indices and node-ordered gradients of one training
 * run, and the worker threads (if any). `close()` stops the workers; the trainer calls it when done.
 */
export class HistogramBuilder {
  readonly order: Uint32Array;
  readonly og: Float64Array;
  readonly oh: Float64Array;
  readonly rowBins: Uint8Array;
  /** Threads that build histograms, the main one included. */
  readonly threads: number;
  private readonly workers: HistWorker[] = [];
  /** Features [0, mainF1) are the main thread's block. */
  private readonly mainF1: number;

  constructor(
    columnMajorBins: Uint8Array,
    readonly rows: number,
    readonly cols: number,
    threads = defaultThreads(),
  ) {
    const want = Math.max(1, Math.min(Math.trunc(threads), cols, 8));
    const workerFile = path.join(__dirname, "hist-worker.js");
    // A missing worker file (running from sources) would leave the main thread waiting: no threads then.
    const threaded = want > 1 && rows * cols >= MIN_CELLS_FOR_THREADS && fs.existsSync(workerFile);
    this.order = shared(Uint32Array, rows, threaded);
    this.og = shared(Float64Array, rows, threaded);
    this.oh = shared(Float64Array, rows, threaded);
    this.rowBins = shared(Uint8Array, rows * cols, threaded);
    for (let f = 0; f < cols; f++) {
      const off = f * rows;
      for (let r = 0; r < rows; r++) this.rowBins[r * cols + f] = columnMajorBins[off + r]!;
    }
    let mainF1 = cols;
    if (threaded) {
      // Contiguous feature blocks, the main thread's (it also copies the others in) the smallest.
      const blocks = Array.from({ length: want }, (_, i) => Math.floor(((i + 1) * cols) / want) - Math.floor((i * cols) / want));
      blocks.sort((a, b) => a - b);
      mainF1 = blocks[0]!;
      let f0 = mainF1;
      try {
        for (const size of blocks.slice(1)) {
          const ctrl = new Int32Array(new SharedArrayBuffer(CTRL.SIZE * 4));
          const scratch = new Float64Array(new SharedArrayBuffer(cols * HIST_STRIDE * 8));
          const worker = new Worker(workerFile, {
            workerData: { ctrl, scratch, rowBins: this.rowBins, order: this.order, og: this.og, oh: this.oh, cols },
          });
          worker.unref();
          this.workers.push({ worker, ctrl, scratch, f0, f1: f0 + size, seq: 0 });
          f0 += size;
        }
      } catch {
        // No threads to be had (resource limits): the main thread builds everything.
        this.close();
        mainF1 = cols;
      }
    }
    this.mainF1 = mainF1;
    this.threads = this.workers.length + 1;
  }

  /**
   * Starts a tree: every row in one node, gradients copied in row order. From here on `partition`
   * moves og/oh with `order`, so a node's gradients are always contiguous and in node order — no
   * scattered gather per node (LightGBM gathers "ordered gradients"; moving them costs sequential
   * reads and writes only).
   */
  beginTree(grad: Float64Array, hess: Float64Array): void {
    const { order, og, oh } = this;
    for (let i = 0; i < this.rows; i++) order[i] = i;
    og.set(grad.subarray(0, this.rows));
    oh.set(hess.subarray(0, this.rows));
  }

  /** Zeroed `hist` gets the rows order[start, end). */
  build(start: number, end: number, hist: Float64Array): void {
    const m = end - start;
    const { order, og, oh } = this;
    if (this.workers.length === 0 || m < MIN_ROWS_PER_DISPATCH) {
      accumulate(this.rowBins, this.cols, order, start, m, og, oh, hist, 0, this.cols);
      return;
    }
    for (const w of this.workers) {
      w.ctrl[CTRL.START] = start;
      w.ctrl[CTRL.COUNT] = m;
      w.ctrl[CTRL.F0] = w.f0;
      w.ctrl[CTRL.F1] = w.f1;
      Atomics.store(w.ctrl, CTRL.SEQ, ++w.seq);
      Atomics.notify(w.ctrl, CTRL.SEQ);
    }
    accumulate(this.rowBins, this.cols, order, start, m, og, oh, hist, 0, this.mainF1);
    for (const w of this.workers) {
      for (;;) {
        const done = Atomics.load(w.ctrl, CTRL.DONE);
        if (done === w.seq) break;
        if (Atomics.wait(w.ctrl, CTRL.DONE, done, WORKER_TIMEOUT_MS) === "timed-out") {
          this.close();
          throw new Error(`a histogram worker did not answer within ${WORKER_TIMEOUT_MS / 1000} s`);
        }
      }
      if (w.ctrl[CTRL.ERROR] !== 0) {
        this.close();
        throw new Error("a histogram worker failed");
      }
      hist.set(w.scratch.subarray(w.f0 * HIST_STRIDE, w.f1 * HIST_STRIDE), w.f0 * HIST_STRIDE);
    }
  }

  /** Stops the workers; idempotent. */
  close(): void {
    for (const w of this.workers.splice(0)) {
      Atomics.store(w.ctrl, CTRL.SEQ, -1);
      Atomics.notify(w.ctrl, CTRL.SEQ);
      void w.worker.terminate();
    }
  }
}
