/**
 * The worker thread entry of the local runner: loads stage functions and runs one task at a time,
 * reporting over the task's `MessagePort` (see `messages.ts`). Started by `pool.ts`; never
 * imported by other code.
 * @internal
 */
import { type MessagePort, parentPort } from "node:worker_threads";
import { format } from "node:util";
import { postLines } from "./context";
import { abortReason, executeTask } from "./execute";
import type { AbortMessage, RunMessage, WorkerTask, WorkerToMain } from "./messages";

if (!parentPort) throw new Error("runners/local/worker runs only as a worker thread");
const port0 = parentPort;

/** The port of the task running now; `console.*` goes there while a task runs. */
let current: MessagePort | undefined;

routeConsole();
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

/** While a task runs, `console.log/info/debug` become stdout log lines and `console.warn/error` stderr ones. */
function routeConsole(): void {
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
      const port = current;
      if (!port) return original(...args);
      postLines((m) => port.postMessage(m), stream, format(...args));
    };
  }
}
