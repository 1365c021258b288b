/**
 * What a process stage is given: its environment (passthrough, the stage's own `env`, then the
 * `SLUICE_*` variables) and the inputs and params JSON files. See `runners/PROTOCOL.md`
 * ("Environment").
 * @internal used by `index.ts`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { StageTask } from "../contract";
import { outputDir, outputPath } from "../outputs";
import type { InputTable } from "./datasets";

/**
 * Server variables a stage sees by default: what programs need to find themselves and their
 * tools, nothing that could carry a secret. A trailing `*` matches a prefix.
 */
export const DEFAULT_ENV_PASSTHROUGH: readonly string[] = Object.freeze([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_*",
  "TZ",
  "TMPDIR",
  "TERM",
  "PYTHONPATH",
  "VIRTUAL_ENV",
  "CONDA_PREFIX",
  "PYENV_ROOT",
  "PYENV_VERSION",
]);

/** `train-set` -> `TRAIN_SET`: upper-cased, anything outside A–Z and 0–9 replaced by `_`. */
export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** The variables of `source` named in `list` (exact names, `PREFIX*`, or `*` for all). */
export function passthrough(list: readonly string[], source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const exact = new Set(list.filter((entry) => !entry.endsWith("*")));
  const prefixes = list.filter((entry) => entry.endsWith("*")).map((entry) => entry.slice(0, -1));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (exact.has(key) || prefixes.some((prefix) => key.startsWith(prefix))) env[key] = value;
  }
  return env;
}

/** Where the task files go: `workDir/.sluice/`. */
export function taskFiles(workDir: string): { inputsFile: string; paramsFile: string } {
  const dir = path.join(workDir, ".sluice");
  return { inputsFile: path.join(dir, "inputs.json"), paramsFile: path.join(dir, "params.json") };
}

/** Writes `inputs.json` and `params.json` for the task; a Dataset input's entry carries its JSON-lines copy as `table`. */
export async function writeTaskFiles(
  task: StageTask,
  tables: Record<string, InputTable> = {},
): Promise<{ inputsFile: string; paramsFile: string }> {
  const files = taskFiles(task.workDir);
  await mkdir(path.dirname(files.inputsFile), { recursive: true });
  const inputs: Record<string, unknown> = {};
  for (const [name, input] of Object.entries(task.inputs)) {
    inputs[name] = {
      artifactId: input.artifactId,
      path: input.path,
      kind: input.kind,
      hash: input.hash,
      size: input.size,
      metadata: input.metadata ?? {},
      ...(tables[name] ? { table: tables[name] } : {}),
    };
  }
  await Promise.all([
    writeFile(files.inputsFile, JSON.stringify(inputs, null, 2)),
    writeFile(files.paramsFile, JSON.stringify(task.params ?? {}, null, 2)),
  ]);
  return files;
}

/**
 * The whole environment of the process: passthrough, `PYTHONUNBUFFERED=1`, the stage's `env`, the
 * secrets it was granted (validation keeps them off `SLUICE_*` and loader variables), then the
 * `SLUICE_*` variables.
 */
export function buildEnvironment(
  task: StageTask,
  stageEnv: Record<string, string> | undefined,
  passthroughList: readonly string[],
  files: { inputsFile: string; paramsFile: string },
  pythonHelper?: string,
): Record<string, string> {
  const env: Record<string, string> = { ...passthrough(passthroughList), PYTHONUNBUFFERED: "1", ...stageEnv, ...task.secrets };
  // Last on the path: a module of the stage's own named `sluice_stage` wins over Sluice's helper.
  if (pythonHelper) env.PYTHONPATH = env.PYTHONPATH ? `${env.PYTHONPATH}${path.delimiter}${pythonHelper}` : pythonHelper;
  Object.assign(env, {
    SLUICE_RUN_ID: task.runId,
    SLUICE_STAGE_RUN_ID: task.stageRunId,
    SLUICE_STAGE: task.stageName,
    SLUICE_ATTEMPT: String(task.attempt),
    SLUICE_WORK_DIR: task.workDir,
    SLUICE_OUTPUT_DIR: outputDir(task.workDir),
    SLUICE_INPUTS_FILE: files.inputsFile,
    SLUICE_PARAMS_FILE: files.paramsFile,
  });
  for (const [name, input] of Object.entries(task.inputs)) env[`SLUICE_INPUT_${envName(name)}`] = input.path;
  for (const name of Object.keys(task.outputs)) env[`SLUICE_OUTPUT_${envName(name)}`] = outputPath(task.workDir, name);
  return env;
}
