/**
 * A histogram worker thread (see histogram.ts): waits on its control slots, builds the feature
 * block it is given for the node the main thread describes, writes it to its scratch histogram
 * and signals completion. SEQ < 0 ends it.
 */
import { workerData } from "node:worker_threads";
import { accumulate, CTRL, HIST_STRIDE } from "./histogram";

const { ctrl, scratch, rowBins, order, og, oh, cols } = workerData as {
  ctrl: Int32Array;
  scratch: Float64Array;
  rowBins: Uint8Array;
  order: Uint32Array;
  og: Float64Array;
  oh: Float64Array;
  cols: number;
};

let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.SEQ, seen);
  const seq = Atomics.load(ctrl, CTRL.SEQ);
  if (seq < 0) break;
  if (seq === seen) continue;
  seen = seq;
  try {
    const f0 = ctrl[CTRL.F0]!;
    const f1 = ctrl[CTRL.F1]!;
    scratch.fill(0, f0 * HIST_STRIDE, f1 * HIST_STRIDE);
    accumulate(rowBins, cols, order, ctrl[CTRL.START]!, ctrl[CTRL.COUNT]!, og, oh, scratch, f0, f1);
  } catch {
    Atomics.store(ctrl, CTRL.ERROR, 1);
  }
  Atomics.store(ctrl, CTRL.DONE, seq);
  Atomics.notify(ctrl, CTRL.DONE);
}
