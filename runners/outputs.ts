/**
 * Where a stage's outputs go, `workDir/outputs/<name>`, and the check every runner makes after a
 * stage ends well: each declared output must exist there, as a file or a folder.
 * @internal shared by the runner plugins.
 */
import { mkdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { ProducedOutput, StageOutcome, StageReporter, StageTask } from "./contract";
import { FailureType, failed } from "./failures";
import { safeLog } from "./reporting";

/** The folder outputs are written into: `workDir/outputs`. */
export function outputDir(workDir: string): string {
  return path.join(workDir, "outputs");
}

/** Where output `name` is expected: `workDir/outputs/<name>`. */
export function outputPath(workDir: string, name: string): string {
  return path.join(outputDir(workDir), name);
}

/** Whether `name` can be an output's file or folder name: one path segment. */
export function isValidOutputName(name: string): boolean {
  return name.length > 0 && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

/**
 * Creates `workDir/outputs`. Resolves a failure outcome when an output name is not a single path
 * segment (the task is malformed), `undefined` when the stage may start.
 */
export async function prepareOutputDir(task: StageTask): Promise<StageOutcome | undefined> {
  const bad = Object.keys(task.outputs).filter((name) => !isValidOutputName(name));
  if (bad.length > 0) {
    return failed(FailureType.UNSUPPORTED_RUN, `output names must be single path segments: ${bad.join(", ")}`, true, { outputs: bad });
  }
  await mkdir(outputDir(task.workDir), { recursive: true });
  return undefined;
}

/** What a stage said about its outputs: an optional other path and metadata, by name. */
export type ProducedOutputs = Record<string, { path?: string; metadata?: Record<string, unknown> } | undefined>;

/**
 * The outcome of a stage that ended well: `succeeded` with every declared output, or
 * `MISSING_OUTPUT` (non-retryable) naming those absent. A produced `path` resolves against
 * `workDir/outputs`; produced names that are not declared are reported to `reporter` as a
 * `stderr` note and ignored.
 */
export async function collectOutputs(task: StageTask, produced: ProducedOutputs, reporter: StageReporter): Promise<StageOutcome> {
  const dir = outputDir(task.workDir);
  for (const name of Object.keys(produced)) {
    if (!(name in task.outputs)) safeLog(reporter, "stderr", `sluice: the stage produced undeclared output "${name}"; ignored`);
  }
  const outputs: Record<string, ProducedOutput> = {};
  const missing: string[] = [];
  const outside: string[] = [];
  // The engine stores (moves) what an output's path names: a stage may only name its own work
  // folder's files, never, by an absolute path, `..` or a symbolic link, another host file.
  const root = await realpath(task.workDir).catch(() => path.resolve(task.workDir));
  for (const name of Object.keys(task.outputs)) {
    const given = produced[name];
    const p = given?.path ? path.resolve(dir, given.path) : path.join(dir, name);
    if (!(await exists(p))) {
      missing.push(name);
      continue;
    }
    const real = await realpath(p).catch(() => undefined);
    if (!real || !isInside(real, root)) {
      outside.push(name);
      continue;
    }
    outputs[name] = given?.metadata ? { path: p, metadata: given.metadata } : { path: p };
  }
  if (outside.length > 0) {
    return failed(
      FailureType.MISSING_OUTPUT,
      `the stage pointed output${outside.length > 1 ? "s" : ""} ${outside.map((m) => `"${m}"`).join(", ")} outside its work folder; outputs must be written under it`,
      true,
      { outside },
    );
  }
  if (missing.length > 0) {
    return failed(
      FailureType.MISSING_OUTPUT,
      `the stage did not produce declared output${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} under ${dir}`,
      true,
      { missing, outputDir: dir },
    );
  }
  return { status: "succeeded", outputs };
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
