/**
 * Runs a project module stage (`{ module }`) in a process of its own instead of a worker thread
 * of the server: `node sandbox-host.js` under bubblewrap, one process per attempt, speaking the worker's messages over Node's IPC channel.
 * The process leads its own process group; stopping the attempt kills the group, and in the
 * sandbox `--die-with-parent` and the PID namespace take everything down with the server.
 * @internal used by `index.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { ResourceLimits } from "node:worker_threads";
import type { StageOutcome, StageTask } from "../contract";
import { DEFAULT_ENV_PASSTHROUGH, passthrough } from "../process/environment";
import { LineSplitter } from "../process/lines";
import { trackProcessGroup } from "../process-groups";
import { limitedCommand, sandboxArgs, type StageIsolation, wantsNetwork } from "../sandbox";
import type { HostMessage, WorkerTask, WorkerToMain } from "./messages";
import type { AbortReason, JobResult } from "./pool";
import { transpiledModules } from "./transpiled";

export interface ModuleProcessOptions {
  isolation: Extract<StageIsolation, { mode: "sandbox" }>;
  cancelGraceMs: number;
  resourceLimits?: ResourceLimits;
  onLog(stream: "stdout" | "stderr", text: string): void;
  onMetric(key: string, value: number, step?: number): void;
}

/** The compiled host program, next to this file. */
export const HOST_SCRIPT = path.join(__dirname, "sandbox-host.js");

/**
 * What a sandboxed module process must see of Sluice itself, read-only: the runner's compiled
 * code (`dist/runners`, and `runners/` in source, which stage code imports `NonRetryableError`
 * from), the TypeScript loader, and the installed packages (TypeScript, and what stage modules
 * import). Never the repository root: a data dir may sit there.
 */
export function runnerCode(): string[] {
  const distRoot = path.resolve(__dirname, "../..");
  const paths = [path.join(distRoot, "runners"), path.join(distRoot, "src", "pipelines", "typescript.js"), process.execPath];
  // Stage code may import the runner's stage-facing modules from source (`runners/local/errors`).
  if (path.basename(distRoot) === "dist") paths.push(path.join(distRoot, "..", "runners"));
  try {
    paths.push(path.dirname(path.dirname(require.resolve("typescript/package.json"))));
  } catch {
    // No TypeScript installed: .ts stages fail to load, as they would in a worker.
  }
  return paths;
}

/** Node's flags for the runner's worker heap limits, so a stage out of memory ends its own process. */
export function nodeLimitArgs(limits: ResourceLimits | undefined): string[] {
  const nodeArgs: string[] = [];
  if (limits?.maxOldGenerationSizeMb) nodeArgs.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
  if (limits?.maxYoungGenerationSizeMb)
    nodeArgs.push(`--max-semi-space-size=${Math.max(1, Math.round(limits.maxYoungGenerationSizeMb / 3))}`);
  if (limits?.stackSizeMb) nodeArgs.push(`--stack-size=${Math.round(limits.stackSizeMb * 1024)}`);
  return nodeArgs;
}

/** The environment of a sandboxed host: the documented passthrough only, as user nobody with /tmp as home. */
export function hostEnv(): Record<string, string> {
  return { ...passthrough(DEFAULT_ENV_PASSTHROUGH), HOME: "/tmp", TMPDIR: "/tmp", USER: "nobody", LOGNAME: "nobody" };
}

/** Runs one attempt; resolves how it ended, in the worker pool's terms, or the sandbox's refusal to show the stage's folders. */
export function runModuleProcess(
  task: StageTask,
  workerTask: WorkerTask,
  signal: AbortSignal,
  options: ModuleProcessOptions,
): Promise<JobResult | { kind: "refused"; outcome: StageOutcome }> {
  const nodeArgs = nodeLimitArgs(options.resourceLimits);
  const env = hostEnv();
  const plan = sandboxArgs(options.isolation, {
    writable: [task.workDir],
    readOnly: [...Object.values(task.inputs).map((input) => input.path), ...runnerCode()],
    project: [task.baseDir, path.dirname(workerTask.entry.module)],
    network: wantsNetwork(task),
    cwd: task.workDir,
  });
  if ("failure" in plan) return Promise.resolve({ kind: "refused", outcome: plan.failure });
  const file = options.isolation.bwrap;
  const args = [...plan.args, "--", ...limitedCommand(options.isolation, [process.execPath, ...nodeArgs, HOST_SCRIPT])];
  return new Promise<JobResult>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd: task.workDir, env, stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true });
    } catch (err) {
      resolve({ kind: "crashed", exitCode: -1, error: { message: (err as Error).message } });
      return;
    }
    const untrack = child.pid !== undefined ? trackProcessGroup(child.pid) : () => undefined;
    let done: Extract<WorkerToMain, { type: "done" }> | undefined;
    let abortReason: AbortReason | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const lastStderr: string[] = [];

    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // ESRCH: already gone.
      }
    };
    const stop = (reason: AbortReason) => {
      if (abortReason || done || exit) return;
      abortReason = reason;
      if (child.connected) child.send({ type: "abort", reason } satisfies HostMessage, () => undefined);
      graceTimer = setTimeout(killGroup, options.cancelGraceMs);
    };
    const onAbort = () => stop("cancel");
    signal.addEventListener("abort", onAbort, { once: true });
    const timeoutTimer = task.timeoutMs !== undefined ? setTimeout(() => stop("timeout"), task.timeoutMs) : undefined;

    const stdout = new LineSplitter((line) => options.onLog("stdout", line));
    const stderr = new LineSplitter((line) => {
      lastStderr.push(line);
      if (lastStderr.length > 5) lastStderr.shift();
      options.onLog("stderr", line);
    });
    child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stdout!.on("end", () => stdout.end());
    child.stderr!.on("end", () => stderr.end());

    child.on("message", (message: WorkerToMain) => {
      if (done) return;
      if (message.type === "log") options.onLog(message.stream, message.text);
      else if (message.type === "metric") options.onMetric(message.key, message.value, message.step);
      else if (message.type === "done") {
        done = message;
        // The stage is over: whatever it left running (timers, children) goes with its group.
        setTimeout(killGroup, 200).unref();
      }
    });
    child.on("error", (err) => {
      if (child.pid === undefined) spawnError = err;
    });
    child.on("exit", (code, sig) => {
      exit = { code, signal: sig };
      killGroup();
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 2000);
    });
    child.on("close", () => {
      untrack();
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      clearTimeout(drainTimer);
      signal.removeEventListener("abort", onAbort);
      if (abortReason) return resolve({ kind: "aborted", reason: abortReason });
      if (done) return resolve({ kind: "done", message: done });
      if (spawnError)
        return resolve({ kind: "crashed", exitCode: -1, error: { message: `the stage's process could not start: ${spawnError.message}` } });
      const why = exit?.signal ? `signal ${exit.signal}` : `exit code ${exit?.code}`;
      const last = lastStderr.filter(Boolean).at(-1);
      resolve({
        kind: "crashed",
        exitCode: exit?.code ?? -1,
        error: { message: `the stage's process ended (${why}) before the stage returned${last ? `: ${last}` : ""}` },
      });
    });
    let transpiled: Record<string, string> = {};
    try {
      transpiled = transpiledModules(workerTask.entry.module);
    } catch {
      // The sandbox transpiles (and reports) what could not be transpiled here.
    }
    child.send({ type: "run", task: workerTask, transpiled } satisfies HostMessage, (err) => {
      if (err) killGroup();
    });
  });
}
