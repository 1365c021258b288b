/**
 * The binary logistic objective's data pass (sum of log-losses and its gradient) over fixed row
 * chunks, optionally computed by worker threads.
 *
 * The rows are cut into CHUNKS ranges whatever the thread count; each chunk's partial sums are
 * computed in row order and then added in chunk order on the main thread. So the objective — and
 * the fitted coefficients — are bit-for-bit the same with 1 thread or 8: threads only decide who
 * computes which chunk. Workers share the matrix, labels, coefficients and partial sums through
 * SharedArrayBuffers and are woken with Atomics (microseconds, not a message round trip), which
 * matters because L-BFGS calls the objective a few dozen times at most, each pass a few tens of
 * milliseconds.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";

/** Fixed, so the summation order — and so the result — never depends on the thread count. */
export const CHUNKS = 16;
/** Below this many matrix values a fit starts no worker. */
const MIN_VALUES_FOR_THREADS = 2_000_000;
const WORKER_TIMEOUT_MS = 120_000;
export const LCTRL = { SEQ: 0, DONE: 1, ERROR: 2, SIZE: 4 } as const;

/**
 * Adds chunk c's loss and gradient (unpenalized, unscaled) into partial[c·(d+2) …]: the loss first,
 * then d weights' and the intercept's gradient.
 */
export function binaryChunk(
  m: Float32Array | Float64Array,
  d: number,
  labels: Int32Array,
  theta: Float64Array,
  c: number,
  partial: Float64Array,
): void {
  const n = labels.length;
  const r0 = Math.floor((c * n) / CHUNKS);
  const r1 = Math.floor(((c + 1) * n) / CHUNKS);
  const out = c * (d + 2);
  partial.fill(0, out, out + d + 2);
  const b = theta[d]!;
  let f = 0;
  let gb = 0;
  for (let i = r0; i < r1; i++) {
    const off = i * d;
    let z = b;
    for (let j = 0; j < d; j++) z += m[off + j]! * theta[j]!;
    const yi = labels[i]!;
    // One exp serves both the loss and its derivative; exp(-|z|) never overflows.
    const e = Math.exp(-Math.abs(z));
    f += (z > 0 ? z : 0) + Math.log1p(e) - yi * z;
    const r = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - yi;
    if (r === 0) continue;
    for (let j = 0; j < d; j++) partial[out + 1 + j] += r * m[off + j]!;
    gb += r;
  }
  partial[out] = f;
  partial[out + 1 + d] = gb;
}

function threadsWanted(): number {
  const env = Number(process.env.SLUICE_TRAIN_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

interface ChunkWorker {
  worker: Worker;
  ctrl: Int32Array;
  seq: number;
}

/** The data pass of one fit; `close()` stops its workers. */
export class BinaryLogisticPass {
  private readonly m: Float32Array | Float64Array;
  private readonly labels: Int32Array;
  readonly theta: Float64Array;
  readonly partial: Float64Array;
  private readonly workers: ChunkWorker[] = [];
  /** Chunks the main thread computes: those c with c % threads === 0. */
  readonly threads: number;

  constructor(
    matrix: Float32Array | Float64Array,
    readonly d: number,
    labels: Int32Array,
    threads = threadsWanted(),
  ) {
    const want = Math.max(1, Math.min(Math.trunc(threads), CHUNKS, 8));
    const workerFile = path.join(__dirname, "logistic-worker.js");
    const threaded = want > 1 && matrix.length >= MIN_VALUES_FOR_THREADS && fs.existsSync(workerFile);
    const alloc = (bytes: number) => (threaded ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    if (threaded) {
      const Ctor = matrix instanceof Float32Array ? Float32Array : Float64Array;
      this.m = new Ctor(alloc(matrix.byteLength) as ArrayBuffer);
      this.m.set(matrix);
      this.labels = new Int32Array(alloc(labels.byteLength));
      this.labels.set(labels);
    } else {
      this.m = matrix;
      this.labels = labels;
    }
    this.theta = new Float64Array(alloc((d + 1) * 8));
    this.partial = new Float64Array(alloc(CHUNKS * (d + 2) * 8));
    if (threaded) {
      try {
        for (let t = 1; t < want; t++) {
          const ctrl = new Int32Array(new SharedArrayBuffer(LCTRL.SIZE * 4));
          const worker = new Worker(workerFile, {
            workerData: { ctrl, m: this.m, labels: this.labels, theta: this.theta, partial: this.partial, d, first: t, step: want },
          });
          worker.unref();
          this.workers.push({ worker, ctrl, seq: 0 });
        }
      } catch {
        this.close();
      }
    }
    // Workers that did start keep their chunk share; a failed start leaves the main thread alone.
    this.threads = this.workers.length === want - 1 ? want : 1;
    if (this.threads === 1) this.close();
  }

  /** Loss sum and gradient sums (length d + 1) at `theta`, chunk partials added in chunk order. */
  run(theta: Float64Array, g: Float64Array): number {
    this.theta.set(theta);
    for (const w of this.workers) {
      Atomics.store(w.ctrl, LCTRL.SEQ, ++w.seq);
      Atomics.notify(w.ctrl, LCTRL.SEQ);
    }
    for (let c = 0; c < CHUNKS; c += this.threads) binaryChunk(this.m, this.d, this.labels, this.theta, c, this.partial);
    for (const w of this.workers) {
      for (;;) {
        const done = Atomics.load(w.ctrl, LCTRL.DONE);
        if (done === w.seq) break;
        if (Atomics.wait(w.ctrl, LCTRL.DONE, done, WORKER_TIMEOUT_MS) === "timed-out") {
          this.close();
          throw new Error(`a logistic regression worker did not answer within ${WORKER_TIMEOUT_MS / 1000} s`);
        }
      }
      if (w.ctrl[LCTRL.ERROR] !== 0) {
        this.close();
        throw new Error("a logistic regression worker failed");
      }
    }
    const d = this.d;
    g.fill(0, 0, d + 1);
    let f = 0;
    for (let c = 0; c < CHUNKS; c++) {
      const off = c * (d + 2);
      f += this.partial[off]!;
      for (let j = 0; j <= d; j++) g[j]! += this.partial[off + 1 + j]!;
    }
    return f;
  }

  close(): void {
    for (const w of this.workers.splice(0)) {
      Atomics.store(w.ctrl, LCTRL.SEQ, -1);
      Atomics.notify(w.ctrl, LCTRL.SEQ);
      void w.worker.terminate();
    }
  }
}
