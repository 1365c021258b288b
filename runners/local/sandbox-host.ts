/**
 * The process entry that runs project module stages for the local runner, started by
 * `module-process.ts` (one attempt, then exit) or `warm-hosts.ts` (`--warm`: attempt after
 * attempt of one project), under bubblewrap unless project code is trusted. It speaks the same
 * messages as a worker thread over Node's IPC channel: it receives a `run`, then maybe an
 * `abort`; it sends `log`s and `metric`s while the stage runs and one `done` last. A one-shot
 * host then exits; a warm one reports whether the stage left a process or a timer behind
 * (`idle`), and waits for the next `run`.
 * Nothing of the server is in this process: not its memory, its environment, nor its files.
 * @internal
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { routeConsole } from "./context";
import { abortReason, executeTask } from "./execute";
import { ATTEMPT_END, type HostMessage, type HostToRunner, type WorkerTask, type WorkerToMain } from "./messages";
import { registerTranspiled } from "./transpiled";

const send = process.send?.bind(process);
if (!send) throw new Error("runners/local/sandbox-host runs only as a child process with an IPC channel");
const warm = process.argv.includes("--warm");
/** A warm host's own folder (its working directory at start); each attempt runs in `HOME/work`. */
const HOME = process.cwd();

let controller = new AbortController();
let started = false;
let running = false;

/** Sends a message; for a one-shot host `done` is the last one: the process exits once it has been written. */
function post(message: WorkerToMain): void {
  if (message.type === "done" && !warm) send!(message, undefined, {}, () => process.exit(0));
  else send!(message);
}

routeConsole(() => post);
process.on("message", (message: HostMessage) => {
  if (message.type === "run" && (warm ? !running : !started)) {
    started = true;
    running = true;
    controller = new AbortController();
    if (message.transpiled && Object.keys(message.transpiled).length > 0) registerTranspiled(message.transpiled);
    if (!warm) void executeTask(message.task, post, controller.signal);
    else void runWarm(message.task);
  } else if (message.type === "abort" && running && !controller.signal.aborted) {
    controller.abort(abortReason(message.reason));
  }
});
// The runner went away (the server died or closed the channel): nothing is left to report to.
process.on("disconnect", () => process.exit(1));

/**
 * One attempt in a warm host: the project's modules are loaded afresh (module-level state does
 * not carry over; `globalThis` does), in the attempt's own work folder, and the runner learns
 * after `done` whether the stage left a process running, in which case it ends this host.
 */
async function runWarm(task: WorkerTask): Promise<void> {
  forgetModules();
  try {
    process.chdir(task.workDir);
  } catch {
    // The stage's folder is gone already; the stage reports what it cannot write.
  }
  const before = activeResources();
  await executeTask(task, post, controller.signal, { fresh: `${task.stageRunId}-${task.attempt}` });
  running = false;
  // The attempt's folder is handed over once the stage is over: this host's working directory
  // must not follow it. Whatever the stage left running (a process, a timer, a socket, a file
  // operation) could still act on it or on the next attempt: the runner then ends this host.
  process.chdir(HOME);
  const clean = strayProcesses() === 0 && (await settles(before));
  // Pipes are written synchronously on Linux: the mark follows everything the stage wrote.
  process.stdout.write(`\n${ATTEMPT_END}\n`);
  process.stderr.write(`\n${ATTEMPT_END}\n`);
  send!({ type: "idle", clean } satisfies HostToRunner);
}

/** Drops from `require.cache` every module but the runner's own code and packages, so the next `require` evaluates it again. */
function forgetModules(): void {
  for (const file of Object.keys(require.cache)) {
    if (!isRunnerCode(file)) delete require.cache[file];
  }
}

/** The runner's compiled code (`runners/`, `src/`) and packages (`node_modules`, TypeScript): kept loaded across attempts. */
const RUNNER_ROOT = path.resolve(__dirname, "../..");
const RUNNER_DIRS = [path.join(RUNNER_ROOT, "runners"), path.join(RUNNER_ROOT, "src")];
function isRunnerCode(file: string): boolean {
  return RUNNER_DIRS.some((dir) => file.startsWith(dir + path.sep)) || file.split(path.sep).includes("node_modules");
}

/**
 * Whether what keeps the event loop alive comes back to what it was before the stage: a request
 * the stage's last awaited call left closing (a file handle's close) ends within a few turns of
 * the loop; anything still there after some 20 ms is left running.
 */
async function settles(before: Map<string, number>): Promise<boolean> {
  for (let turn = 0; turn < 20; turn++) {
    if ([...activeResources()].every(([type, n]) => n <= (before.get(type) ?? 0))) return true;
    await new Promise((resolve) => (turn < 5 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
  return false;
}

/** What keeps this process's event loop alive (timers, sockets, file operations…; unref'd timers not counted), by type. */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Processes in this sandbox's PID namespace other than its init (pid 1) and this host. */
function strayProcesses(): number {
  try {
    return readdirSync("/proc").filter((e) => /^\d+$/.test(e) && e !== "1" && e !== String(process.pid)).length;
  } catch {
    return 0;
  }
}
