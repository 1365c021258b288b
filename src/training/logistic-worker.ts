/**
 * A logistic regression worker thread (see logistic-chunks.ts): on each wake-up computes chunks
 * first, first + step, … of the data pass at the shared coefficients, then signals completion.
 * SEQ < 0 ends it.
 */
import { workerData } from "node:worker_threads";
import { binaryChunk, CHUNKS, LCTRL } from "./logistic-chunks";

const { ctrl, m, labels, theta, partial, d, first, step } = workerData as {
  ctrl: Int32Array;
  m: Float32Array | Float64Array;
  labels: Int32Array;
  theta: Float64Array;
  partial: Float64Array;
  d: number;
  first: number;
  step: number;
};

let seen = 0;
for (;;) {
  Atomics.wait(ctrl, LCTRL.SEQ, seen);
  const seq = Atomics.load(ctrl, LCTRL.SEQ);
  if (seq < 0) break;
  if (seq === seen) continue;
  seen = seq;
  try {
    for (let c = first; c < CHUNKS; c += step) binaryChunk(m, d, labels, theta, c, partial);
  } catch {
    Atomics.store(ctrl, LCTRL.ERROR, 1);
  }
  Atomics.store(ctrl, LCTRL.DONE, seq);
  Atomics.notify(ctrl, LCTRL.DONE);
}
