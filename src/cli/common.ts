import type { Command } from "commander";
import { APPROVAL_WAIT_FIELDS, type ApprovalWaitSummary } from "./approval-wait";
import {
  CliError,
  ERROR_FIELDS,
  SluiceClient,
  UsageError,
  connectionSettings,
  requireProject,
  unwrap,
  type ConnectionFlags,
  type ResultUnion,
} from "./client";

/**
 * What the client commands (`apply`, `run`, `runs`, `logs`, `cancel`, `approve`, `reject`) share: the connection
 * options, the action wrapper that turns errors into exit codes, and lookups by name.
 */

/** Adds `--server`, `--token` and `--project` to a command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option("--server <url>", "the Sluice server (env SLUICE_URL, default http://localhost:4000)")
    .option("--token <token>", "API token (env SLUICE_TOKEN)")
    .option("--project <name>", "project name (env SLUICE_PROJECT)");
}

/** Exit code for a watch or follow stopped with Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/**
 * Wraps a command's action: the action returns its exit code (0 when it returns nothing); a
 * thrown CliError prints `sluice: <message>` and its details on stderr and exits with its code
 * (1 for any other error). The process then ends on its own, or after a short grace period if
 * something still holds it open.
 */
export function commandAction<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    });
    let code: number;
    try {
      code = (await fn(...args)) ?? 0;
    } catch (err) {
      code = reportError(err);
    }
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  };
}

/** Prints an error as the commands do and returns its exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`sluice: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join("")}`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`sluice: ${message}\n`);
  if (process.env.SLUICE_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}

/** Runs `fn` with a client built from the command's connection flags, and closes it after. */
export async function withClient<T>(flags: ConnectionFlags, fn: (client: SluiceClient) => Promise<T>): Promise<T> {
  const client = new SluiceClient(connectionSettings(flags));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export interface ProjectRef {
  id: string;
  name: string;
}

/**
 * The project the flags name (required). With `create`, a missing project is created;
 * otherwise it is an error.
 */
export async function resolveProject(
  client: SluiceClient,
  options: { create?: boolean; createHint?: boolean } = {},
): Promise<ProjectRef & { created: boolean }> {
  const name = requireProject(client.settings);
  const found = await client.request<{ project: { id: string; name: string; archived: boolean } | null }>(
    `query Project($name: String!) { project(name: $name) { id name archived } }`,
    { name },
  );
  if (found.project) return { ...found.project, created: false };
  if (!options.create) {
    const hint = options.createHint ? " (pass --create-project to create it)" : "";
    throw new CliError(`no project "${name}" on ${client.server}${hint}; check --project / SLUICE_PROJECT`);
  }
  const res = await client.request<{ createProject: ResultUnion & { project?: ProjectRef } }>(
    `mutation CreateProject($input: CreateProjectInput!) { createProject(input: $input) { ${ERROR_FIELDS} ... on ProjectPayload { project { id name } } } }`,
    { input: { name } },
  );
  const payload = unwrap<{ project: ProjectRef }>(res.createProject, "ProjectPayload", `creating project "${name}"`);
  return { ...payload.project, created: true };
}

export interface PipelineRef {
  id: string;
  name: string;
  latestVersion: { id: string; version: number } | null;
}

/** A pipeline of the project by name, or null. */
export async function findPipeline(client: SluiceClient, projectId: string, name: string): Promise<PipelineRef | null> {
  const res = await client.request<{ pipeline: PipelineRef | null }>(
    `query Pipeline($projectId: ID!, $name: String!) { pipeline(projectId: $projectId, name: $name) { id name latestVersion { id version } } }`,
    { projectId, name },
  );
  return res.pipeline;
}

/** A pipeline of the project by name, or a CliError naming both. */
export async function requirePipeline(client: SluiceClient, project: ProjectRef, name: string): Promise<PipelineRef> {
  const pipeline = await findPipeline(client, project.id, name);
  if (!pipeline) throw new CliError(`no pipeline "${name}" in project "${project.name}"`);
  return pipeline;
}

/** A stage run as the commands read it. */
export interface StageRunSummary {
  id: string;
  stageName: string;
  status: string;
  attempt: number;
  maxAttempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  failure: { type?: string; message?: string } | null;
  reuseReason: string | null;
  /** For a gate stage: the approval it waits (or waited) for; null for other stages. */
  approvalWait: ApprovalWaitSummary | null;
}

/** A run as the commands read it. */
export interface RunSummary {
  id: string;
  number: number;
  status: string;
  projectId: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
  error: { stage?: string; stageRunId?: string; failure?: { type?: string; message?: string } | null } | null;
  pipeline: { id: string; name: string };
  pipelineVersion: { version: number };
  stageRuns: StageRunSummary[];
}

export const RUN_SUMMARY_FIELDS = `id number status projectId createdAt startedAt finishedAt cancelRequestedAt error
  pipeline { id name } pipelineVersion { version }
  stageRuns { id stageName status attempt maxAttempts startedAt finishedAt failure reuseReason ${APPROVAL_WAIT_FIELDS} }`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A run by id. */
export async function getRun(client: SluiceClient, id: string): Promise<RunSummary | null> {
  const res = await client.request<{ run: RunSummary | null }>(`query Run($id: ID!) { run(id: $id) { ${RUN_SUMMARY_FIELDS} } }`, { id });
  return res.run;
}

/** The run `ref` names: a run id, or `pipeline#number` in the project the flags name. */
export async function resolveRun(client: SluiceClient, ref: string): Promise<RunSummary> {
  if (UUID.test(ref)) {
    const run = await getRun(client, ref);
    if (!run) throw new CliError(`no run ${ref} (or not visible to this token)`);
    return run;
  }
  const m = /^([a-z0-9][a-z0-9_-]*)#(\d+)$/.exec(ref);
  if (!m) throw new UsageError(`"${ref}" names no run: give a run id or pipeline#number (e.g. churn#3)`);
  const [, name, numberText] = m;
  const number = Number(numberText);
  const project = await resolveProject(client);
  const pipeline = await requirePipeline(client, project, name!);
  const found: { run: { id: string } | null } = await client.request(
    `query RunByNumber($p: ID!, $n: Int!) { run(pipelineId: $p, number: $n) { id } }`,
    {
      p: pipeline.id,
      n: number,
    },
  );
  if (!found.run) throw new CliError(`pipeline "${name}" in project "${project.name}" has no run #${number}`);
  return (await getRun(client, found.run.id))!;
}

/** `churn #3` */
export function runLabel(run: { number: number; pipeline: { name: string } }): string {
  return `${run.pipeline.name} #${run.number}`;
}

/** A command line that repeats the connection flags the user gave on the command line (not the token). */
export function cliHint(args: string[], flags: ConnectionFlags): string {
  const parts = ["sluice", ...args];
  if (flags.server) parts.push("--server", flags.server);
  return parts.join(" ");
}
