import fs from "node:fs";
import type { Command } from "commander";
import {
  CliError,
  ERROR_FIELDS,
  UsageError,
  connectionSettings,
  requireProject,
  unwrap,
  type ConnectionFlags,
  type ResultUnion,
} from "./client";
import {
  EXIT_INTERRUPTED,
  cliHint,
  commandAction,
  getRun,
  requirePipeline,
  resolveProject,
  runLabel,
  withClient,
  withConnectionOptions,
} from "./common";
import { styleFor } from "./format";
import { RunState, summaryLines, watchRun } from "./run-watch";

/**
 * `sluice run PIPELINE`: triggers a run of the pipeline's latest version (or `--pipeline-version`)
 * and prints its number and id; with `--watch`, follows it to the end and exits 0 only when it
 * succeeded.
 */

export interface RunFlags extends ConnectionFlags {
  param: string[];
  paramsFile?: string;
  tag: string[];
  pipelineVersion?: string;
  watch?: boolean;
  cancelOnExit?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRunCommand(program: Command): void {
  withConnectionOptions(
    program
      .command("run")
      .description("start a run of a pipeline; with --watch, follow its stages live until it ends")
      .argument("<pipeline>", "the pipeline's name"),
  )
    .option(
      "--param <stage.key=value>",
      "a parameter override (repeatable); the value is read as JSON when it parses, else as a string",
      collect,
      [],
    )
    .option("--params-file <file>", 'parameter overrides from a JSON file: { "stage": { "key": value } } (--param wins)')
    .option("--tag <key=value>", "a tag for the run (repeatable)", collect, [])
    .option("--pipeline-version <n>", "run this version rather than the latest")
    .option("-w, --watch", "follow the run live until it ends; the exit code is 0 only when it succeeded")
    .option("--cancel-on-exit", "with --watch: Ctrl-C cancels the run instead of leaving it running")
    .action(commandAction(runCommand));
}

type Params = Record<string, Record<string, unknown>>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(source)) {
    target[k] = isObject(v) && isObject(target[k]) ? deepMerge({ ...(target[k] as Record<string, unknown>) }, v) : v;
  }
  return target;
}

/**
 * The parameter overrides of `--params-file` and `--param stage.key=value` (a dotted key sets a
 * nested field: `train.optimizer.lr=0.1`), the latter winning.
 *
 * @throws UsageError for a malformed flag or an unreadable file.
 */
export function parseParams(flags: string[], file?: string): Params {
  let params: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new UsageError(`--params-file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--params-file ${file}: invalid JSON (${(err as Error).message})`);
    }
    if (!isObject(parsed) || !Object.values(parsed).every(isObject)) {
      throw new UsageError(`--params-file ${file}: must be an object of objects, { "stage": { "key": value } }`);
    }
    params = parsed;
  }
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    const path = eq < 0 ? [] : flag.slice(0, eq).split(".");
    if (eq < 0 || path.length < 2 || path.some((p) => p === "" || p === "__proto__")) {
      throw new UsageError(`--param ${flag}: expected stage.key=value (e.g. --param train.lr=0.01)`);
    }
    const raw = flag.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    const nested = path.reduceRight<unknown>((v, key) => ({ [key]: v }), value) as Record<string, unknown>;
    params = deepMerge(params, nested);
  }
  return params as Params;
}

function parseTags(flags: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    if (eq <= 0) throw new UsageError(`--tag ${flag}: expected key=value`);
    tags[flag.slice(0, eq)] = flag.slice(eq + 1);
  }
  return tags;
}

export async function runCommand(pipelineName: string, flags: RunFlags): Promise<number> {
  requireProject(connectionSettings(flags));
  const params = parseParams(flags.param ?? [], flags.paramsFile);
  const tags = parseTags(flags.tag ?? []);
  let version: number | undefined;
  if (flags.pipelineVersion !== undefined) {
    version = Number(flags.pipelineVersion);
    if (!Number.isInteger(version) || version < 1)
      throw new UsageError(`--pipeline-version ${flags.pipelineVersion}: expected a version number (1, 2, …)`);
  }
  const watch = flags.watch || flags.cancelOnExit;
  const out = process.stdout;
  const style = styleFor(out);

  return withClient(flags, async (client) => {
    const project = await resolveProject(client);
    const pipeline = await requirePipeline(client, project, pipelineName);
    const res = await client.request<{
      triggerRun: ResultUnion & { run?: { id: string; number: number; pipelineVersion: { version: number } } };
    }>(
      `mutation Trigger($input: TriggerRunInput!) { triggerRun(input: $input) {
        ${ERROR_FIELDS} ... on RunPayload { run { id number pipelineVersion { version } } } } }`,
      { input: { pipelineId: pipeline.id, params, tags, version } },
    );
    const { run: started } = unwrap<{ run: { id: string; number: number; pipelineVersion: { version: number } } }>(
      res.triggerRun,
      "RunPayload",
      `starting ${pipeline.name}`,
    );
    out.write(`${style.bold(`${pipeline.name} #${started.number}`)} queued (v${started.pipelineVersion.version}, run ${started.id})\n`);
    if (!watch) {
      out.write(style.gray(`  follow it: ${cliHint(["logs", started.id, "--follow"], flags)}\n`));
      return 0;
    }

    const run = await getRun(client, started.id);
    if (!run) throw new CliError(`run ${started.id} disappeared`);
    const state = new RunState(run);
    const outcome = await watchRun(client, run.id, state, { out, style, live: Boolean(out.isTTY) });
    if (outcome.kind === "interrupted") {
      if (flags.cancelOnExit) {
        const cancel = await client.request<{ cancelRun: ResultUnion & { run?: { status: string } } }>(
          `mutation Cancel($id: ID!) { cancelRun(input: { id: $id }) { ${ERROR_FIELDS} ... on RunPayload { run { status } } } }`,
          { id: run.id },
        );
        const status = cancel.cancelRun.run?.status;
        if (status === "CANCELED") out.write(`canceled ${runLabel(run)}\n`);
        else if (status) out.write(`cancel requested for ${runLabel(run)}: its running stages are being stopped\n`);
        else out.write(`${runLabel(run)} was not canceled: ${cancel.cancelRun.message}\n`);
      } else {
        out.write(`stopped watching; ${runLabel(run)} keeps running (run ${run.id})\n`);
        out.write(`  cancel it: ${cliHint(["cancel", run.id], flags)}\n`);
        out.write(`  watch its output: ${cliHint(["logs", run.id, "--follow"], flags)}\n`);
      }
      return EXIT_INTERRUPTED;
    }
    const final = outcome.run;
    for (const line of summaryLines(final, style, (stage) => cliHint(["logs", run.id, stage], flags))) out.write(`${line}\n`);
    return final.status === "SUCCEEDED" ? 0 : 1;
  });
}
