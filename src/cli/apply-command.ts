import type { Command } from "commander";
import type { SpecDiff } from "../pipelines/diff";
import type { LoadedSpec } from "../pipelines/load";
import {
  CliError,
  ERROR_FIELDS,
  connectionSettings,
  requireProject,
  unwrap,
  type ConnectionFlags,
  type ResultUnion,
  type SluiceClient,
} from "./client";
import { commandAction, findPipeline, resolveProject, withClient, withConnectionOptions } from "./common";
import { shortHash, styleFor, type Style } from "./format";

/**
 * `sluice apply FILE`: loads a pipeline file here (JSON, YAML or TypeScript, so module stages
 * get their code versions), then stores it on the server with `applyPipeline`, printing what
 * changed since the pipeline's latest version.
 */

export interface ApplyFlags extends ConnectionFlags {
  createProject?: boolean;
}

export function registerApplyCommand(program: Command): void {
  withConnectionOptions(
    program
      .command("apply")
      .description("store a pipeline file (.ts, .json, .yaml) as the pipeline's newest version, printing what changed")
      .argument("<file>", "the pipeline file"),
  )
    .option("--create-project", "create the project when it does not exist")
    .action(commandAction(applyCommand));
}

interface ApplyPayload {
  outcome: "CREATED" | "NEW_VERSION" | "UNCHANGED";
  pipeline: { id: string; name: string };
  version: { id: string; version: number; contentHash: string };
}

interface VersionDiff {
  equal: boolean;
  pipeline: SpecDiff["pipeline"];
  stagesAdded: string[];
  stagesRemoved: string[];
  stagesChanged: SpecDiff["stagesChanged"];
}

export async function applyCommand(file: string, flags: ApplyFlags): Promise<number> {
  requireProject(connectionSettings(flags));
  const style = styleFor(process.stdout);
  // Loaded on demand: the TypeScript compiler and the validator take a moment to load.
  const { loadSpecFile, SpecFileError, InvalidSpecFileError } = require("../pipelines/load") as typeof import("../pipelines/load");
  // Stages of built-in operators are checked against their contracts here as on the server.
  const { registerOperatorContracts } = require("../pipelines/operator-contracts") as typeof import("../pipelines/operator-contracts");
  const { OPERATOR_CONTRACTS } = require("../operators/catalog") as typeof import("../operators/catalog");
  registerOperatorContracts(OPERATOR_CONTRACTS);
  let loaded: LoadedSpec;
  try {
    loaded = await loadSpecFile(file);
  } catch (err) {
    if (err instanceof InvalidSpecFileError) {
      throw new CliError(
        `${file}: invalid pipeline spec, nothing was stored`,
        1,
        err.problems.map((p) => `${p.field}: ${p.message}`),
      );
    }
    if (err instanceof SpecFileError) throw new CliError(err.message);
    throw err;
  }
  const { spec, baseDir } = loaded;

  return withClient(flags, async (client) => {
    const project = await resolveProject(client, { create: flags.createProject, createHint: true });
    if (project.created) process.stdout.write(`created project ${project.name}\n`);
    const before = await findPipeline(client, project.id, spec.name);
    const res = await client.request<{ applyPipeline: ResultUnion & Partial<ApplyPayload> }>(
      `mutation Apply($input: ApplyPipelineInput!) { applyPipeline(input: $input) {
        ${ERROR_FIELDS}
        ... on ApplyPipelinePayload { outcome pipeline { id name } version { id version contentHash } } } }`,
      { input: { projectId: project.id, spec, baseDir } },
    );
    if (res.applyPipeline.__typename === "InvalidInputError") {
      throw new CliError(
        `${file}: the server refused the pipeline spec, nothing was stored`,
        1,
        (res.applyPipeline.problems ?? []).map((p) => `${p.field}: ${p.message}`),
      );
    }
    const applied = unwrap<ApplyPayload>(res.applyPipeline, "ApplyPipelinePayload", `applying ${file}`);
    const name = style.bold(applied.pipeline.name);
    const v = `v${applied.version.version}`;
    const hash = style.gray(`(${shortHash(applied.version.contentHash)})`);
    if (applied.outcome === "CREATED") {
      process.stdout.write(`${style.green("created")} ${name} ${v} ${hash}\n`);
      return 0;
    }
    const previous = before?.latestVersion;
    if (applied.outcome === "UNCHANGED") {
      if (previous && previous.id !== applied.version.id) {
        process.stdout.write(`${name} ${v} unchanged; it is the latest version again (was v${previous.version})\n`);
        await printDiff(client, previous.id, applied.version.id, style);
      } else process.stdout.write(`${name} ${v} ${style.gray("unchanged")}\n`);
      return 0;
    }
    process.stdout.write(`${name} ${v} ${style.yellow("(new version)")} ${hash}\n`);
    if (previous) await printDiff(client, previous.id, applied.version.id, style);
    return 0;
  });
}

async function printDiff(client: SluiceClient, from: string, to: string, style: Style): Promise<void> {
  const change = `path change before after`;
  const res = await client.request<{ pipelineVersionDiff: VersionDiff }>(
    `query Diff($from: ID!, $to: ID!) { pipelineVersionDiff(from: $from, to: $to) {
      equal stagesAdded stagesRemoved pipeline { ${change} } stagesChanged { name changes { ${change} } } } }`,
    { from, to },
  );
  const { formatSpecDiff } = require("../pipelines/diff") as typeof import("../pipelines/diff");
  // A JSON null stands for an absent side; formatSpecDiff reads `before` or `after` by the kind of change.
  for (const line of formatSpecDiff(res.pipelineVersionDiff)) {
    const trimmed = line.trimStart();
    const color = trimmed.startsWith("+")
      ? style.green
      : trimmed.startsWith("-")
        ? style.red
        : trimmed.startsWith("~")
          ? style.yellow
          : style.gray;
    process.stdout.write(`  ${color(line)}\n`);
  }
}
