/**
 * The process entry that runs one project module stage for the local runner, started by
 * `module-process.ts` (under bubblewrap unless project code is trusted). It speaks the same
 * messages as a worker thread over Node's IPC channel: it receives one `run`, then maybe an
 * `abort`; it sends `log`s and `metric`s while the stage runs and one `done` last, then exits.
 * Nothing of the server is in this process: not its memory, its environment, nor its files.
 * @internal
 */
import { format } from "node:util";
import { postLines } from "./context";
import { abortReason, executeTask } from "./execute";
import type { HostMessage, WorkerToMain } from "./messages";
import { registerTranspiled } from "./transpiled";

const send = process.send?.bind(process);
if (!send) throw new Error("runners/local/sandbox-host runs only as a child process with an IPC channel");

const controller = new AbortController();
let started = false;

/** Sends a message; `done` is the last one: the process exits once it has been written. */
function post(message: WorkerToMain): void {
  if (message.type === "done") send!(message, undefined, {}, () => process.exit(0));
  else send!(message);
}

routeConsole();
process.on("message", (message: HostMessage) => {
  if (message.type === "run" && !started) {
    started = true;
    if (message.transpiled && Object.keys(message.transpiled).length > 0) registerTranspiled(message.transpiled);
    void executeTask(message.task, post, controller.signal);
  } else if (message.type === "abort" && !controller.signal.aborted) {
    controller.abort(abortReason(message.reason));
  }
});
// The runner went away (the server died or closed the channel): nothing is left to report to.
process.on("disconnect", () => process.exit(1));

/** `console.log/info/debug` become stdout log lines and `console.warn/error` stderr ones, in order with `ctx.log`. */
function routeConsole(): void {
  const routes: Array<["log" | "info" | "debug" | "warn" | "error", "stdout" | "stderr"]> = [
    ["log", "stdout"],
    ["info", "stdout"],
    ["debug", "stdout"],
    ["warn", "stderr"],
    ["error", "stderr"],
  ];
  for (const [method, stream] of routes) {
    console[method] = (...args: unknown[]) => postLines(post, stream, format(...args));
  }
}
