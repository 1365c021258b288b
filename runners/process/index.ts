/**
 * The process runner: runs `{ command, cwd?, env? }` stages as child processes — any program,
 * Python scripts included, with nothing Sluice-specific to import.
 *
 * ## The contract with the program
 *
 * (`runners/PROTOCOL.md`, "The process runner: files and environment", is the full text.)
 *
 * - **Start.** `command[0]` is executed with `command.slice(1)` as arguments, no shell; a bare
 *   name is looked up on the child's `PATH`. The working directory is
 *   `resolve(task.baseDir, run.cwd ?? ".")`; stdin is `/dev/null`; the program leads a new
 *   process group.
 * - **Environment.** The passthrough list (option `env`), then `PYTHONUNBUFFERED=1`, then the
 *   stage's `run.env`, then the project secrets it was granted (`task.secrets`), then (not
 *   overridable):
 *   `SLUICE_RUN_ID`, `SLUICE_STAGE_RUN_ID`, `SLUICE_STAGE`, `SLUICE_ATTEMPT`, `SLUICE_WORK_DIR`,
 *   `SLUICE_OUTPUT_DIR` (= `$SLUICE_WORK_DIR/outputs`; write output `<name>` there as a file or
 *   a folder), `SLUICE_INPUTS_FILE` (JSON: `{ "<input>": { artifactId, path, kind, hash, size,
 *   metadata } }`), `SLUICE_PARAMS_FILE` (JSON of the resolved params), `SLUICE_INPUT_<NAME>`
 *   (each input's path) and `SLUICE_OUTPUT_<NAME>` (each output's target path), `<NAME>` being
 *   the name upper-cased with non-alphanumerics replaced by `_`.
 * - **Output.** stdout and stderr are reported line by line as they arrive (a line is capped at
 *   64 KiB). On stdout, `::metric <key>=<value> [step=<n>]` (or `::metric {"key", "value",
 *   "step"}`) reports a metric and `::output <name> <json object>` attaches metadata to an
 *   output; neither is logged.
 * - **Tables.** A Dataset input is also given as JSON lines (`table` in the inputs file), and a
 *   Dataset output written as `<name>.jsonl` or `<name>.csv` becomes Parquet after exit 0
 *   (`datasets.ts`); `python/sluice_stage.py`, on `PYTHONPATH`, reads and writes both for Python.
 * - **Exit.** 0 succeeds once every declared output exists (else `MISSING_OUTPUT`); a non-zero
 *   code fails with `EXIT_CODE` (`details: { exitCode, signal }`), retryable except 2, 126 and
 *   127; death by a signal we did not send is `EXIT_SIGNAL` (retryable); a program that cannot be
 *   started is `SPAWN_FAILED` (non-retryable, `details.searched` lists the paths tried).
 * - **Stop.** Cancel and timeout send `SIGTERM` to the process group, then `SIGKILL` after
 *   `killGraceMs`, and resolve `canceled` or `TIMEOUT`. When the program exits, what is left of
 *   its process group is killed.
 */
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { runKindOf, type RunKind, type Runner, type StageOutcome, type StageReporter, type StageTask } from "../contract";
import { FailureType, failed, runnerClosed, runnerError, timedOut } from "../failures";
import { collectOutputs, prepareOutputDir, type ProducedOutputs } from "../outputs";
import { safeLog, safeMetric } from "../reporting";
import { Slots } from "../slots";
import { signalGroupExcept, trackProcessGroup } from "../process-groups";
import { limitedCommand, sandboxArgs, sandboxUnavailable, type StageIsolation, wantsNetwork } from "../sandbox";
import { convertOutputTables, DEFAULT_TABLE_JSONL_MAX_BYTES, materializeInputTables, pythonHelperDir } from "./datasets";
import { parseDirective } from "./directives";
import { buildEnvironment, DEFAULT_ENV_PASSTHROUGH, writeTaskFiles } from "./environment";
import { exitFailure } from "./exit-status";
import { LineSplitter } from "./lines";
import { DEFAULT_USAGE_SAMPLE_MS, ProcessTreeMeter } from "../usage/process-tree";

export { DEFAULT_ENV_PASSTHROUGH, envName } from "./environment";
export { NON_RETRYABLE_EXIT_CODES } from "./exit-status";

export interface ProcessRunnerOptions {
  /** The runner's name, as the engine and logs show it. @default "process" */
  name?: string;
  /** What the runner offers; a stage's selector labels must all be among them. @default ["local"] */
  labels?: string[];
  /** Processes run at once; further attempts wait for a slot. @default os.availableParallelism() */
  capacity?: number;
  /** After `SIGTERM` on cancel or timeout, how long until `SIGKILL`. @default 5000 */
  killGraceMs?: number;
  /**
   * Variables passed through from this process's environment: exact names, `PREFIX*`, or `"*"`
   * for everything. Nothing else reaches the stage (no database URLs or tokens).
   * @default DEFAULT_ENV_PASSTHROUGH (PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR, TERM, PYTHONPATH, VIRTUAL_ENV, CONDA_PREFIX, PYENV_ROOT, PYENV_VERSION)
   */
  env?: readonly string[];
  /**
   * Where commands run: in a bubblewrap sandbox (`{ mode: "sandbox", bwrap, hide }`), unsandboxed
   * (`trusted`), or not at all (`refuse`: every command fails `SANDBOX_UNAVAILABLE`). A server
   * chooses from `SLUICE_SANDBOX_BWRAP` and `SLUICE_TRUSTED_CODE`. @default { mode: "trusted" }
   */
  isolation?: StageIsolation;
  /**
   * Dataset inputs up to this many bytes (of Parquet) are also given to the program as JSON lines
   * (`inputs.json` → `<input>.table.jsonl`), for programs without a Parquet reader; `0` turns it off.
   * @default 268435456 (256 MiB)
   */
  tableJsonlMaxBytes?: number;
  /**
   * How often the command's process tree is sampled for its usage (CPU, memory, I/O; see
   * `runners/usage/process-tree.ts`). @default 100
   */
  usageSampleMs?: number;
}

/**
 * Creates a process runner.
 * @throws RangeError when `capacity` is not a positive integer or `killGraceMs` is negative.
 */
export function createProcessRunner(options: ProcessRunnerOptions = {}): Runner {
  const name = options.name ?? "process";
  const capacity = options.capacity ?? availableParallelism();
  const killGraceMs = options.killGraceMs ?? 5000;
  const envList = options.env ?? DEFAULT_ENV_PASSTHROUGH;
  const isolation = options.isolation ?? { mode: "trusted" };
  const tableJsonlMaxBytes = options.tableJsonlMaxBytes ?? DEFAULT_TABLE_JSONL_MAX_BYTES;
  const usageSampleMs = options.usageSampleMs ?? DEFAULT_USAGE_SAMPLE_MS;
  if (!(usageSampleMs >= 10)) throw new RangeError(`usageSampleMs must be 10 or more, got ${usageSampleMs}`);
  if (!(tableJsonlMaxBytes >= 0)) throw new RangeError(`tableJsonlMaxBytes must be 0 or more, got ${tableJsonlMaxBytes}`);
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  if (!(killGraceMs >= 0)) throw new RangeError(`killGraceMs must be 0 or more, got ${killGraceMs}`);
  const slots = new Slots(capacity);
  const active = new Set<Promise<StageOutcome>>();
  let closing: Promise<void> | undefined;

  async function execute(task: StageTask, reporter: StageReporter, signal: AbortSignal): Promise<StageOutcome> {
    if (runKindOf(task.run) !== "command") {
      return failed(FailureType.UNSUPPORTED_RUN, `the ${name} runner runs only commands`, true, { kind: runKindOf(task.run) });
    }
    if (isolation.mode === "refuse") return sandboxUnavailable(name);
    if (!(await slots.acquire(signal))) return { status: "canceled" };
    try {
      if (signal.aborted) return { status: "canceled" };
      return await runProcess(task, reporter, signal, { killGraceMs, envList, isolation, tableJsonlMaxBytes, usageSampleMs });
    } finally {
      slots.release();
    }
  }

  return {
    name,
    labels: Object.freeze([...(options.labels ?? ["local"])]),
    kinds: Object.freeze<RunKind[]>(["command"]),
    capacity,
    run(task, reporter, signal) {
      if (closing) return Promise.resolve(runnerClosed(name));
      if (signal.aborted) return Promise.resolve({ status: "canceled" });
      const attempt = execute(task, reporter, signal).catch((err: unknown) =>
        // Only the file system (writing into workDir) or our own bugs end up here; the contract says resolve.
        runnerError(name, err),
      );
      active.add(attempt);
      void attempt.finally(() => active.delete(attempt));
      return attempt;
    },
    close() {
      closing ??= (async () => {
        while (active.size > 0) await Promise.allSettled([...active]);
      })();
      return closing;
    },
  };
}

/** Runs one command to its end; the caller holds a slot. */
async function runProcess(
  task: StageTask,
  reporter: StageReporter,
  signal: AbortSignal,
  options: {
    killGraceMs: number;
    envList: readonly string[];
    isolation: StageIsolation;
    tableJsonlMaxBytes: number;
    usageSampleMs: number;
  },
): Promise<StageOutcome> {
  const run = task.run as { command: string[]; cwd?: string; env?: Record<string, string> };
  const command = run.command;
  const cwd = path.resolve(task.baseDir, run.cwd ?? ".");
  if (!Array.isArray(command) || command.length === 0 || !command[0]) {
    return failed(FailureType.SPAWN_FAILED, "the stage's command is empty", true, { command });
  }
  const cwdProblem = await directoryProblem(cwd);
  if (cwdProblem) return failed(FailureType.SPAWN_FAILED, `the working directory ${cwd} ${cwdProblem}`, true, { cwd });
  const invalid = await prepareOutputDir(task);
  if (invalid) return invalid;
  const tables = options.tableJsonlMaxBytes > 0 ? await materializeInputTables(task, options.tableJsonlMaxBytes) : {};
  if (signal.aborted) return { status: "canceled" };
  const files = await writeTaskFiles(task, tables);
  const pythonHelper = pythonHelperDir();
  const env = buildEnvironment(task, run.env, options.envList, files, pythonHelper);
  if (options.isolation.mode === "sandbox") {
    for (const [key, value] of Object.entries(SANDBOX_HOME))
      if (run.env?.[key] === undefined && task.secrets?.[key] === undefined) env[key] = value;
  }
  if (signal.aborted) return { status: "canceled" };

  let file = command[0];
  let args = command.slice(1);
  const isolation = options.isolation;
  if (isolation.mode === "sandbox") {
    const plan = sandboxArgs(isolation, {
      writable: [task.workDir],
      readOnly: [...Object.values(task.inputs).map((input) => input.path), ...(pythonHelper ? [pythonHelper] : [])],
      project: [task.baseDir, cwd],
      network: wantsNetwork(task),
      cwd,
    });
    if ("failure" in plan) return plan.failure;
    file = isolation.bwrap;
    args = [...plan.args, "--", ...limitedCommand(isolation, command)];
  }

  const posix = process.platform !== "win32";
  const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: posix });
  const produced: ProducedOutputs = {};
  const untrack = posix && child.pid !== undefined ? trackProcessGroup(child.pid) : () => undefined;
  // What the command and everything it starts consume, sampled from /proc while it runs.
  const meter = child.pid !== undefined ? new ProcessTreeMeter(child.pid, options.usageSampleMs) : undefined;

  const stdout = new LineSplitter((line) => {
    const directive = parseDirective(line);
    if (!directive) return safeLog(reporter, "stdout", line);
    switch (directive.type) {
      case "metric":
        return safeMetric(reporter, directive.key, directive.value, directive.step);
      case "output":
        if (!(directive.name in task.outputs)) {
          return safeLog(reporter, "stderr", `sluice: ::output names undeclared output "${directive.name}"; ignored`);
        }
        produced[directive.name] = { metadata: { ...produced[directive.name]?.metadata, ...directive.metadata } };
        return;
      case "malformed":
        return safeLog(reporter, "stderr", `sluice: ignored a malformed directive (${directive.reason}): ${line.slice(0, 200)}`);
    }
  });
  /** bwrap's own report that it could not execute the program in the sandbox (`bwrap: execvp <file>: <why>`). */
  let sandboxExecError: string | undefined;
  const stderr = new LineSplitter((line) => {
    if (isolation.mode === "sandbox" && sandboxExecError === undefined) {
      const m = /^bwrap: execvp [^:]*: (.*)$/.exec(line);
      if (m) sandboxExecError = m[1];
    }
    safeLog(reporter, "stderr", line);
  });
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdout.on("end", () => stdout.end());
  child.stderr.on("end", () => stderr.end());

  /** Signals the whole process group (the child leads it); falls back to the child alone off POSIX. */
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      // In a sandbox the stage, not bubblewrap, gets the SIGTERM: bwrap dying would kill it at once.
      if (sig === "SIGTERM" && isolation.mode === "sandbox" && child.pid !== undefined) signalGroupExcept(child.pid, child.pid, sig);
      else if (posix && child.pid !== undefined) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // ESRCH: the group is already gone.
    }
  };

  return new Promise<StageOutcome>((settle) => {
    let usage: StageOutcome["usage"];
    /** Settles with the outcome and the command's usage. */
    const resolve = (outcome: StageOutcome | Promise<StageOutcome>) =>
      settle(Promise.resolve(outcome).then((o) => (usage ? { ...o, usage } : o)));
    let stopReason: "cancel" | "timeout" | undefined;
    let spawnError: NodeJS.ErrnoException | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const stop = (reason: "cancel" | "timeout") => {
      if (stopReason || exit || spawnError) return;
      stopReason = reason;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), options.killGraceMs);
    };
    const onAbort = () => stop("cancel");
    signal.addEventListener("abort", onAbort, { once: true });
    const timeoutTimer = task.timeoutMs !== undefined ? setTimeout(() => stop("timeout"), task.timeoutMs) : undefined;

    child.on("error", (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) spawnError = err; // failed to start; "close" follows
    });
    child.on("exit", (code, sig) => {
      exit = { code, signal: sig };
      clearTimeout(killTimer);
      // The last look at what the program left running before it goes.
      meter?.exited();
      meter?.sample();
      // Whatever the program left running in its group (background children) goes with it.
      killGroup("SIGKILL");
      // A grandchild that escaped the group could hold our pipes open; do not wait on it forever.
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 2000);
    });
    child.on("close", () => {
      untrack();
      usage = meter?.stop();
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      signal.removeEventListener("abort", onAbort);
      if (spawnError) return resolve(spawnFailure(spawnError, file, cwd, env.PATH));
      if (sandboxExecError !== undefined && exit?.code === 1 && !stopReason) {
        return resolve(
          failed(FailureType.SPAWN_FAILED, `cannot start "${command[0]}" in the sandbox: ${sandboxExecError}`, true, {
            command: command[0],
            cwd,
            sandboxed: true,
          }),
        );
      }
      if (stopReason === "cancel") return resolve({ status: "canceled" });
      if (stopReason === "timeout") return resolve(timedOut(task.timeoutMs));
      if (exit?.code === 0) return resolve(finishOutputs(task, produced, reporter));
      resolve(exitFailure(exit?.code ?? null, exit?.signal ?? null));
    });
  });
}

/**
 * The outputs of a program that exited 0: Dataset outputs it wrote as JSON lines or CSV become
 * Parquet first (`OUTPUT_UNREADABLE` when one cannot), then every declared output is collected.
 */
async function finishOutputs(task: StageTask, produced: ProducedOutputs, reporter: StageReporter): Promise<StageOutcome> {
  const converted = await convertOutputTables(task);
  const unreadable = converted.filter((c) => "error" in c);
  if (unreadable.length > 0) {
    return failed(FailureType.OUTPUT_UNREADABLE, unreadable.map((c) => (c as { error: string }).error).join("; "), true, {
      outputs: unreadable.map((c) => c.name),
    });
  }
  for (const c of converted) {
    if ("error" in c) continue;
    // The program's own `::output` metadata wins; what the runner knows of the table goes under it.
    produced[c.name] = { ...produced[c.name], metadata: { format: "parquet", rowCount: c.rowCount, ...produced[c.name]?.metadata } };
  }
  return collectOutputs(task, produced, reporter);
}

/** In a sandbox the server's home is not there: home and temp are the sandbox's own `/tmp` (a fresh tmpfs), the user `nobody`. */
const SANDBOX_HOME = { HOME: "/tmp", TMPDIR: "/tmp", USER: "nobody", LOGNAME: "nobody" } as const;

/** Why `dir` cannot be a working directory, or `undefined` when it can. */
async function directoryProblem(dir: string): Promise<string | undefined> {
  try {
    return (await stat(dir)).isDirectory() ? undefined : "is not a directory";
  } catch {
    return "does not exist";
  }
}

function spawnFailure(err: NodeJS.ErrnoException, file: string, cwd: string, searchPath: string | undefined): StageOutcome {
  const searched = file.includes("/")
    ? [path.resolve(cwd, file)]
    : (searchPath ?? "")
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(path.resolve(cwd, dir), file));
  const why =
    err.code === "ENOENT"
      ? "not found (or its interpreter, named on its #! line, is missing)"
      : err.code === "EACCES"
        ? "permission denied (is it executable?)"
        : err.message;
  return failed(
    FailureType.SPAWN_FAILED,
    `cannot start "${file}": ${why}; searched ${searched.join(", ") || "nothing (PATH is empty)"}`,
    true,
    {
      command: file,
      code: err.code,
      cwd,
      searched,
    },
  );
}
