/**
 * A warm pool of sandboxed module-stage hosts (`node sandbox-host.js --warm` under bubblewrap),
 * per project: an attempt of a project takes an idle host of that project instead of paying a
 * sandbox and Node start (60–130 ms). Hosts are never shared between projects, and a sandbox's
 * mounts are fixed at spawn, so a host is keyed by everything it shows:
 * - read-write, a folder of its own (`.warm-<random>`, next to the attempt's `workDir`, so in the
 *   engine's `<work root>/<projectId>/`), and nothing else of the work root: neither other
 *   projects' attempts nor other attempts of its own project. Each attempt runs in `<home>/work`
 *   (its `ctx.workDir`), which is renamed to the attempt's `workDir` once nothing of the stage
 *   runs any more, so the outputs are collected where no sandbox can reach them;
 * - read-only, the pipeline's code folders (its `baseDir` and the module's folder) exactly as a
 *   one-shot sandbox shows them, checked against `SLUICE_CODE_ROOTS` and the hidden server folders
 *   the same way;
 * - the network when the stage's labels ask for it.
 * Inputs live in the artifact store, which no sandbox shows: each attempt's inputs are copied
 * into `<home>/work/inputs/<name>/` first (a copy, not a hard link: a stage may write to what it
 * sees, and the store's file must stay as it is). Attempts whose inputs are larger than
 * `copyInputsMaxBytes` take a one-shot host instead, which binds them read-only.
 *
 * Each attempt loads the stage's modules afresh (module-level state does not carry over; what a
 * stage puts on `globalThis` or changes in Node's own modules does, within the project). A host is
 * reused only after an attempt that returned and left nothing running (no process; no timer,
 * socket or file operation in the host's event loop); a
 * canceled or timed-out attempt, a crash, or leftovers end the host with its whole sandbox
 * (process group kill; `--die-with-parent` and the PID namespace take the rest), and the next
 * attempt starts a fresh one.
 * @internal used by `index.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { ResourceLimits } from "node:worker_threads";
import type { StageOutcome, StageTask } from "../contract";
import { FailureType, failed } from "../failures";
import { LineSplitter } from "../process/lines";
import { trackProcessGroup } from "../process-groups";
import { limitedCommand, sandboxArgs, type StageIsolation, wantsNetwork } from "../sandbox";
import type { DoneMessage, HostMessage, HostToRunner, WorkerTask } from "./messages";
import { hostEnv, HOST_SCRIPT, nodeLimitArgs, runnerCode } from "./module-process";
import { ATTEMPT_END } from "./messages";
import type { AbortReason, JobResult } from "./pool";
import { transpiledModules } from "./transpiled";

export interface WarmPoolOptions {
  /** How long an idle host waits for an attempt of its project before it is ended, in ms. @default 60000 */
  idleMs?: number;
  /** Most idle hosts kept, all projects together; 0 turns the pool off. @default 8 */
  max?: number;
  /** Most idle hosts kept for one project. @default 2 */
  perProject?: number;
  /** Attempts whose inputs total more bytes than this run in a one-shot host (no copy). @default 64 MiB */
  copyInputsMaxBytes?: number;
}

/** How long a warm host may take to say whether its stage left a process behind, after `done`. */
const IDLE_REPORT_MS = 2000;
/**
 * Attempts one host runs before it is replaced: each attempt of an ES module stage leaves its
 * fresh module copy in the host's memory (ES modules cannot be unloaded).
 */
const MAX_ATTEMPTS_PER_HOST = 200;
/** A project id as the engine writes it into a path segment. */
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** An input name usable as a folder name. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface WarmRunOptions {
  isolation: Extract<StageIsolation, { mode: "sandbox" }>;
  cancelGraceMs: number;
  resourceLimits?: ResourceLimits;
  onLog(stream: "stdout" | "stderr", text: string): void;
  onMetric(key: string, value: number, step?: number): void;
}

interface Attempt {
  options: WarmRunOptions;
  resolve(result: JobResult): void;
  done?: DoneMessage;
  /** The host reported the attempt over (`idle`). */
  idle?: boolean;
  /** The output streams that reached the end-of-attempt mark. */
  drained: Set<string>;
  abortReason?: AbortReason;
  timers: NodeJS.Timeout[];
}

/** One warm sandboxed host process, running one attempt at a time. */
class WarmHost {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  alive = true;
  /** Attempts started on this host. */
  attempts = 0;
  private killed = false;
  idleTimer?: NodeJS.Timeout;
  private current?: Attempt;
  private spawnError?: Error;
  private readonly lastStderr: string[] = [];
  private readonly untrack: () => void;

  /** Set while the pool runs an attempt on this host (and hands its folder over): the pool then removes `home` itself. */
  inRun = false;

  /**
   * @param home the host's own folder, the only one it may write (and see) outside `/tmp`: each
   *   attempt runs in `home/work`, which becomes the attempt's `workDir` afterwards.
   */
  constructor(
    readonly key: string,
    readonly projectId: string,
    readonly home: string,
    file: string,
    args: string[],
    private readonly onGone: (host: WarmHost) => void,
  ) {
    this.child = spawn(file, args, { cwd: home, env: hostEnv(), stdio: ["ignore", "pipe", "pipe", "ipc"], detached: true });
    this.untrack = this.child.pid !== undefined ? trackProcessGroup(this.child.pid) : () => undefined;
    const stdout = new LineSplitter(this.streamLines("stdout"));
    const stderr = new LineSplitter(this.streamLines("stderr"));
    this.child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
    this.child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
    this.child.on("message", (message: HostToRunner) => this.onMessage(message));
    this.child.on("error", (err) => {
      if (this.child.pid === undefined) this.spawnError = err;
    });
    this.exited = new Promise((resolve) => {
      this.child.on("exit", () => {
        this.alive = false;
        this.kill();
        this.untrack();
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
        this.endAttempt();
        this.onGone(this);
        resolve();
      });
      // A spawn that failed emits `error` but no `exit`.
      this.child.on("error", () => {
        if (this.child.pid !== undefined) return;
        this.alive = false;
        this.endAttempt();
        this.onGone(this);
        resolve();
      });
    });
  }

  /**
   * Where a stream's lines go: to the attempt running, up to the host's end-of-attempt mark (see
   * `ATTEMPT_END`), so that output written just before `done` is never reported as the next
   * attempt's. The mark's leading newline ends a stage's unfinished line, or adds one empty line,
   * which is dropped.
   */
  private streamLines(stream: "stdout" | "stderr"): (line: string) => void {
    let heldEmpty = false;
    const report = (line: string) => {
      if (stream === "stderr") {
        this.lastStderr.push(line);
        if (this.lastStderr.length > 5) this.lastStderr.shift();
      }
      this.current?.options.onLog(stream, line);
    };
    return (line) => {
      if (line === ATTEMPT_END) {
        heldEmpty = false;
        const attempt = this.current;
        if (attempt) {
          attempt.drained.add(stream);
          this.settleIfIdle(attempt);
        }
        return;
      }
      if (heldEmpty) report("");
      heldEmpty = line === "";
      if (!heldEmpty) report(line);
    };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Whether the host may take another attempt: alive, and not being ended. */
  get reusable(): boolean {
    return this.alive && !this.killed && !this.busy && this.attempts < MAX_ATTEMPTS_PER_HOST;
  }

  /** Ends the host and everything in its sandbox (its process group). */
  kill(): void {
    this.killed = true;
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, "SIGKILL");
    } catch {
      // ESRCH: already gone.
    }
  }

  /** An idle host does not keep the runner's process alive. */
  park(): void {
    this.child.unref();
    (this.child.channel as { unref?(): void } | undefined)?.unref?.();
    (this.child.stdout as { unref?(): void } | null)?.unref?.();
    (this.child.stderr as { unref?(): void } | null)?.unref?.();
  }

  /** A host that runs an attempt, or is being ended and waited for, keeps the runner's process alive. */
  unpark(): void {
    this.child.ref();
    (this.child.channel as { ref?(): void } | undefined)?.ref?.();
    (this.child.stdout as { ref?(): void } | null)?.ref?.();
    (this.child.stderr as { ref?(): void } | null)?.ref?.();
  }

  /** Runs one attempt; resolves how it ended. `reusable` tells afterwards whether the host may take another. */
  run(task: WorkerTask, timeoutMs: number | undefined, signal: AbortSignal, options: WarmRunOptions): Promise<JobResult> {
    return new Promise<JobResult>((resolve) => {
      const attempt: Attempt = { options, resolve, timers: [], drained: new Set() };
      this.current = attempt;
      this.attempts++;
      this.lastStderr.length = 0;
      this.unpark();
      if (!this.alive) return this.endAttempt();
      const stop = (reason: AbortReason) => {
        if (attempt.abortReason || this.current !== attempt) return;
        attempt.abortReason = reason;
        // The host's own stage may not listen to its signal: after the grace period the host goes,
        // and an aborted attempt never leaves a reusable host (what it started might live on).
        if (attempt.done) return this.kill();
        if (this.child.connected) this.child.send({ type: "abort", reason } satisfies HostMessage, () => undefined);
        attempt.timers.push(setTimeout(() => this.kill(), options.cancelGraceMs));
      };
      const onAbort = () => stop("cancel");
      signal.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => signal.removeEventListener("abort", onAbort);
      const resolveOnce = attempt.resolve;
      attempt.resolve = (result) => {
        cleanup();
        resolveOnce(result);
      };
      if (timeoutMs !== undefined) attempt.timers.push(setTimeout(() => stop("timeout"), timeoutMs));
      let transpiled: Record<string, string> = {};
      try {
        transpiled = transpiledModules(task.entry.module);
      } catch {
        // The sandbox transpiles (and reports) what could not be transpiled here.
      }
      this.child.send({ type: "run", task, transpiled } satisfies HostMessage, (err) => {
        if (err) this.kill();
      });
    });
  }

  private onMessage(message: HostToRunner): void {
    const attempt = this.current;
    if (!attempt) return;
    if (message.type === "log") {
      if (!attempt.done) attempt.options.onLog(message.stream, message.text);
    } else if (message.type === "metric") {
      if (!attempt.done) attempt.options.onMetric(message.key, message.value, message.step);
    } else if (message.type === "done") {
      if (attempt.done) return;
      attempt.done = message;
      if (attempt.abortReason) return this.kill();
      attempt.timers.push(setTimeout(() => this.kill(), IDLE_REPORT_MS));
    } else if (message.type === "idle") {
      if (!attempt.done || attempt.abortReason) return;
      // A process the stage started outlives it: only ending the sandbox ends it.
      if (!message.clean) this.kill();
      attempt.idle = true;
      this.settleIfIdle(attempt);
    }
  }

  /** The attempt is over once the host said so and both its output streams reached the end-of-attempt mark. */
  private settleIfIdle(attempt: Attempt): void {
    if (attempt.idle && attempt.done && attempt.drained.size === 2) this.finish(attempt, { kind: "done", message: attempt.done });
  }

  /** The host is gone: the attempt on it, if any, ends with it. */
  private endAttempt(): void {
    const attempt = this.current;
    if (!attempt) return;
    if (attempt.abortReason) return this.finish(attempt, { kind: "aborted", reason: attempt.abortReason });
    if (attempt.done) return this.finish(attempt, { kind: "done", message: attempt.done });
    if (this.spawnError)
      return this.finish(attempt, {
        kind: "crashed",
        exitCode: -1,
        error: { message: `the stage's process could not start: ${this.spawnError.message}` },
      });
    const code = this.child.exitCode;
    const sig = this.child.signalCode;
    const why = sig ? `signal ${sig}` : `exit code ${code}`;
    const last = this.lastStderr.filter(Boolean).at(-1);
    this.finish(attempt, {
      kind: "crashed",
      exitCode: code ?? -1,
      error: { message: `the stage's process ended (${why}) before the stage returned${last ? `: ${last}` : ""}` },
    });
  }

  private finish(attempt: Attempt, result: JobResult): void {
    if (this.current !== attempt) return;
    this.current = undefined;
    for (const timer of attempt.timers) clearTimeout(timer);
    attempt.resolve(result);
  }
}

/** The per-project pool of warm hosts of one local runner. */
export class WarmHostPool {
  /** Idle hosts, least recently used first. */
  private readonly idle: WarmHost[] = [];
  private readonly live = new Set<WarmHost>();
  private closed = false;
  /** Host folders being removed; `close` waits for them. */
  private readonly removals = new Set<Promise<void>>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly perProject: number;
  private readonly copyInputsMaxBytes: number;

  constructor(options: WarmPoolOptions = {}) {
    this.idleMs = options.idleMs ?? 60_000;
    this.max = options.max ?? 8;
    this.perProject = options.perProject ?? 2;
    this.copyInputsMaxBytes = options.copyInputsMaxBytes ?? 64 * 1024 ** 2;
    for (const [name, value] of Object.entries({ idleMs: this.idleMs, max: this.max, perProject: this.perProject })) {
      if (!Number.isInteger(value) || value < 0) throw new RangeError(`the warm pool's ${name} must be an integer >= 0, got ${value}`);
    }
  }

  /**
   * Whether `task` can run in a warm host: the pool is on, the task names its project, and its
   * inputs are small enough to copy.
   */
  accepts(task: StageTask): boolean {
    if (this.closed || this.max === 0 || !task.projectId || !PROJECT_ID.test(task.projectId)) return false;
    const bytes = Object.values(task.inputs).reduce((sum, input) => sum + (Number(input.size) || 0), 0);
    return bytes <= this.copyInputsMaxBytes;
  }

  /**
   * Runs one attempt in a warm host of its project (taken idle, or started): in the host's own
   * folder, its inputs copied in; afterwards that folder becomes the attempt's `workDir`.
   */
  async run(
    task: StageTask,
    workerTask: WorkerTask,
    signal: AbortSignal,
    options: WarmRunOptions,
  ): Promise<JobResult | { kind: "refused"; outcome: StageOutcome }> {
    const projectId = task.projectId!;
    // The host's folder sits next to the attempt's, so that it can be renamed into place.
    const parent = path.dirname(path.resolve(task.workDir));
    const code = [...new Set([path.resolve(task.baseDir), path.dirname(workerTask.entry.module)])].sort();
    const network = wantsNetwork(task);
    const check = sandboxArgs(options.isolation, { writable: [], readOnly: [], project: code, network, cwd: "/" });
    if ("failure" in check) return { kind: "refused", outcome: check.failure };
    const nodeArgs = nodeLimitArgs(options.resourceLimits);
    const key = JSON.stringify({ projectId, parent, code, network, nodeArgs });
    if (signal.aborted) return { kind: "aborted", reason: "cancel" };
    let host = this.take(key);
    if (!host) {
      const home = path.join(parent, `.warm-${randomBytes(8).toString("hex")}`);
      await fs.mkdir(home, { mode: 0o700 });
      const plan = sandboxArgs(options.isolation, { writable: [home], readOnly: runnerCode(), project: code, network, cwd: home });
      if ("failure" in plan) {
        await fs.rm(home, { recursive: true, force: true });
        return { kind: "refused", outcome: plan.failure };
      }
      const args = [...plan.args, "--", ...limitedCommand(options.isolation, [process.execPath, ...nodeArgs, HOST_SCRIPT, "--warm"])];
      host = this.add(new WarmHost(key, projectId, home, options.isolation.bwrap, args, (gone) => this.forget(gone)));
    }
    let result: JobResult;
    host.inRun = true;
    try {
      const { work, inputs } = await prepareHome(host.home, task);
      result = await host.run({ ...workerTask, workDir: work, inputs }, task.timeoutMs, signal, options);
      if (result.kind === "done") {
        // Nothing of the stage may run while its folder is handed over: a host that is being
        // ended (leftovers) is waited for.
        if (!host.reusable) {
          host.kill();
          await host.exited;
        }
        const refusal = await handOver(work, task.workDir, result.message);
        if (refusal) {
          host.kill();
          return { kind: "refused", outcome: refusal };
        }
      }
    } catch (err) {
      host.kill();
      throw err;
    } finally {
      host.inRun = false;
      if (!(result! && result.kind === "done" && host.reusable)) {
        host.kill();
        await this.removeHome(host);
      }
    }
    this.give(host);
    return result;
  }

  /** Live hosts (idle or busy), for tests and stats. */
  hosts(): Array<{ projectId: string; pid: number | undefined; busy: boolean }> {
    return [...this.live].map((h) => ({ projectId: h.projectId, pid: h.pid, busy: h.busy }));
  }

  /** Ends every host and waits until each is gone. Call once no attempt runs. */
  async close(): Promise<void> {
    this.closed = true;
    const hosts = [...this.live];
    for (const host of hosts) {
      host.unpark();
      host.kill();
    }
    await Promise.all(hosts.map((h) => h.exited));
    await Promise.all([...this.removals]);
  }

  private take(key: string): WarmHost | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const host = this.idle[i]!;
      if (host.key !== key || !host.reusable) continue;
      this.idle.splice(i, 1);
      clearTimeout(host.idleTimer);
      return host;
    }
    return undefined;
  }

  private add(host: WarmHost): WarmHost {
    this.live.add(host);
    return host;
  }

  /** Keeps a host that ended an attempt cleanly, within the caps (the least recently used goes first). */
  private give(host: WarmHost): void {
    if (this.closed) return host.kill();
    const sameProject = this.idle.filter((h) => h.projectId === host.projectId);
    if (sameProject.length >= this.perProject) this.evict(sameProject[0]!);
    if (this.idle.length >= this.max) this.evict(this.idle[0]!);
    this.idle.push(host);
    host.idleTimer = setTimeout(() => this.evict(host), this.idleMs);
    host.idleTimer.unref();
    host.park();
  }

  private evict(host: WarmHost): void {
    const i = this.idle.indexOf(host);
    if (i >= 0) this.idle.splice(i, 1);
    clearTimeout(host.idleTimer);
    host.kill();
  }

  private forget(host: WarmHost): void {
    this.live.delete(host);
    const i = this.idle.indexOf(host);
    if (i >= 0) this.idle.splice(i, 1);
    clearTimeout(host.idleTimer);
    if (!host.inRun) void this.removeHome(host);
  }

  /** Removes a gone host's folder (what its last attempt left there). */
  private removeHome(host: WarmHost): Promise<void> {
    const removal = fs.rm(host.home, { recursive: true, force: true }).catch(() => undefined);
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
    return removal;
  }
}

/**
 * Empties a host's folder for the next attempt and lays it out as a `workDir`: `work/outputs/`,
 * and the task's inputs copied into `work/inputs/<name>/` (a reflink where the file system has
 * them; a copy, not a hard link, since a stage may write to what it sees).
 */
async function prepareHome(home: string, task: StageTask): Promise<{ work: string; inputs: StageTask["inputs"] }> {
  for (const entry of await fs.readdir(home)) await fs.rm(path.join(home, entry), { recursive: true, force: true });
  const work = path.join(home, "work");
  await fs.mkdir(path.join(work, "outputs"), { recursive: true });
  const inputs: StageTask["inputs"] = {};
  let i = 0;
  for (const [name, input] of Object.entries(task.inputs)) {
    const folder = path.join(work, "inputs", SAFE_NAME.test(name) ? name : `input-${i}`);
    i++;
    const target = path.join(folder, path.basename(input.path) || "input");
    await fs.mkdir(folder, { recursive: true });
    await fs.cp(input.path, target, { recursive: true, mode: constants.COPYFILE_FICLONE, dereference: true });
    inputs[name] = { ...input, path: target };
  }
  return { work, inputs };
}

/**
 * Moves the attempt's folder out of the host's reach, to the attempt's `workDir` (a rename: no
 * sandbox shows that path), and rewrites output paths the stage gave inside it. Resolves the
 * failure when the stage replaced its folder with something else than a folder.
 */
async function handOver(work: string, workDir: string, done: DoneMessage): Promise<StageOutcome | undefined> {
  const st = await fs.lstat(work).catch(() => undefined);
  if (!st?.isDirectory()) {
    return failed(FailureType.MISSING_OUTPUT, "the stage removed or replaced its work folder, so its outputs cannot be collected", true);
  }
  await fs.rm(workDir, { recursive: true, force: true });
  await fs.rename(work, workDir);
  if (done.status === "returned") {
    for (const output of Object.values(done.outputs)) {
      if (output.path && path.isAbsolute(output.path)) {
        const rel = path.relative(work, output.path);
        if (rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel))) output.path = path.join(workDir, rel);
      }
    }
  }
  return undefined;
}
