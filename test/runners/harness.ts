/**
 * Helpers for runner tests: tasks in fresh work folders, a reporter that records what it is told,
 * and where the fixtures live. Not a test file itself.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { StageReporter, StageTask } from "../../runners/contract";
import type { StageRun } from "../../src/pipelines/spec";

/**
 * The repository root: the nearest folder above this file holding a package.json. Fixtures are
 * read from source there (they are not compiled into dist/).
 */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** `test/runners/fixtures/<parts>` in the source tree. */
export function fixturePath(...parts: string[]): string {
  return path.join(repoRoot(), "test", "runners", "fixtures", ...parts);
}

/** Temporary folders, removed together by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = "sluice-runner-"): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

let counter = 0;

/** A task with a fresh, empty `workDir`; fields not given get harmless defaults. */
export function makeTask(temp: TempDirs, fields: Partial<StageTask> & { run: StageRun; baseDir: string }): StageTask {
  counter++;
  return {
    stageRunId: `sr-${counter}`,
    runId: `run-${counter}`,
    attempt: 1,
    stageName: `stage-${counter}`,
    params: {},
    inputs: {},
    outputs: {},
    workDir: temp.make("sluice-work-"),
    ...fields,
  };
}

export interface LoggedLine {
  stream: "stdout" | "stderr";
  text: string;
  at: number;
}

/** A reporter that records every call, and can wait for a line. */
export class RecordingReporter implements StageReporter {
  readonly logs: LoggedLine[] = [];
  readonly metrics: Array<{ key: string; value: number; step?: number }> = [];
  private readonly waiters = new Set<() => void>();

  log(stream: "stdout" | "stderr", text: string): void {
    this.logs.push({ stream, text, at: Date.now() });
    for (const wake of this.waiters) wake();
  }

  metric(key: string, value: number, step?: number): void {
    this.metrics.push(step === undefined ? { key, value } : { key, value, step });
  }

  /** The text of the lines on `stream` (both when not given), in order. */
  lines(stream?: "stdout" | "stderr"): string[] {
    return this.logs.filter((l) => !stream || l.stream === stream).map((l) => l.text);
  }

  /** Resolves when a line equal to `text` (or matching it) has been logged; rejects after `timeoutMs`. */
  waitForLine(text: string | RegExp, timeoutMs = 5000): Promise<LoggedLine> {
    const find = () => this.logs.find((l) => (typeof text === "string" ? l.text === text : text.test(l.text)));
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = find();
        if (!line) return false;
        cleanup();
        resolve(line);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no log line ${text} within ${timeoutMs} ms; got ${JSON.stringify(this.lines())}`));
      }, timeoutMs);
      const wake = () => void check();
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
      check();
    });
  }
}

/** A signal nobody aborts. */
export function neverAborted(): AbortSignal {
  return new AbortController().signal;
}

/** An outcome without the usage the runner measured (runners/usage/), for comparing outcomes whole. */
export function withoutUsage<T extends { usage?: unknown }>(outcome: T): Omit<T, "usage"> {
  const { usage: _usage, ...rest } = outcome;
  return rest;
}
