/**
 * A worker thread of a hyperparameter search (started by search-pool.ts, never imported): it gets
 * the shared training data once, as `workerData` over SharedArrayBuffers, then runs one trial per
 * message and answers with the trial's metrics and model.
 * @internal
 */
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { fitModel, predictValidation, validationMetrics, type TrialData } from "./trial";
import type { TrialReply, TrialRequest } from "./search-pool";

if (!parentPort) throw new Error("search-worker runs only as a worker thread");
const port = parentPort;
const data = workerData as TrialData;

port.on("message", (req: TrialRequest) => {
  const started = performance.now();
  let reply: TrialReply;
  try {
    const { model, details } = fitModel(data, req.hyperparameters);
    const metrics = validationMetrics(data, predictValidation(data, model));
    reply = { index: req.index, ok: true, model, metrics, details, durationMs: performance.now() - started };
  } catch (err) {
    reply = { index: req.index, ok: false, error: (err as Error).message ?? String(err), durationMs: performance.now() - started };
  }
  port.postMessage(reply);
});
