/**
 * The worker thread entry of the local runner: loads stage functions and runs one task at a time,
 * reporting over the task's `MessagePort` (see `messages.ts`). Started by `pool.ts`; never
 * imported by other code.
 * @internal
 */
import { type MessagePort, parentPort } from "node:worker_threads";
import { routeConsole } from "./context";
import { abortReason, executeTask } from "./execute";
import type { AbortMessage, RunMessage, WorkerTask, WorkerToMain } from "./messages";

if (!parentPort) throw new Error("runners/local/worker runs only as a worker thread");
const port0 = parentPort;

/** The port of the task running now; `console.*` goes there while a task runs. */
let current: MessagePort | undefined;

routeConsole(() => {
  const port = current;
  return port && ((message: WorkerToMain) => port.postMessage(message));
});
port0.on("message", (message: RunMessage) => {
  if (message.type === "run") void runTask(message.task, message.port);
});

async function runTask(task: WorkerTask, port: MessagePort): Promise<void> {
  const controller = new AbortController();
  port.on("message", (message: AbortMessage) => {
    if (message.type !== "abort" || controller.signal.aborted) return;
    controller.abort(abortReason(message.reason));
  });
  current = port;
  try {
    await executeTask(task, (message: WorkerToMain) => port.postMessage(message), controller.signal);
  } finally {
    current = undefined;
    port.removeAllListeners("message");
  }
}
