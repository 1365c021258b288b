import type { Command } from "commander";
import { UsageError, connectionSettings, type ConnectionFlags } from "./client";
import { commandAction, requirePipeline, resolveProject, withClient, withConnectionOptions } from "./common";
import { durationBetween, formatAgo, formatStatus, styleFor, table } from "./format";
import { APPROVAL_WAIT_FIELDS, type ApprovalWaitSummary, decideCommand, waitingSummary } from "./approval-wait";

/**
 * `sluice runs`: a table of recent runs, newest first. A RUNNING run whose gate waits for an
 * approval (`Run.waitingGates`) shows as WAITING, with what it waits for and how to approve it.
 */

export interface RunsFlags extends ConnectionFlags {
  pipeline?: string;
  status: string[];
  limit: string;
}

/** The API's run statuses, plus WAITING: a RUNNING run held at a gate. */
const RUN_STATUSES = ["QUEUED", "RUNNING", "WAITING", "SUCCEEDED", "FAILED", "CANCELED"];

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRunsCommand(program: Command): void {
  withConnectionOptions(
    program.command("runs").description("list recent runs, newest first (of every project the token can read, unless a project is given)"),
  )
    .option("--pipeline <name>", "only this pipeline's runs (needs a project)")
    .option(
      "--status <status>",
      `only runs in this status (repeatable or comma-separated: ${RUN_STATUSES.join(", ").toLowerCase()})`,
      collect,
      [],
    )
    .option("--limit <n>", "how many runs to show (1-500)", "20")
    .action(commandAction(runsCommand));
}

interface RunRow {
  id: string;
  number: number;
  status: string;
  triggerKind: string;
  projectId: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  pipeline: { name: string };
  waitingGates: Array<{ stageName: string; approvalWait: ApprovalWaitSummary | null }>;
}

/** WAITING for a running run held at a gate, else the run's status. */
const shownStatus = (r: RunRow) => (r.status === "RUNNING" && r.waitingGates.length > 0 ? "WAITING" : r.status);

export async function runsCommand(flags: RunsFlags): Promise<number> {
  const settings = connectionSettings(flags);
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit ${flags.limit}: expected a number from 1 to 500`);
  const statuses = (flags.status ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const unknown = statuses.filter((s) => !RUN_STATUSES.includes(s));
  if (unknown.length > 0)
    throw new UsageError(`--status ${unknown.join(",").toLowerCase()}: expected ${RUN_STATUSES.join(", ").toLowerCase()}`);
  if (flags.pipeline && !settings.project) throw new UsageError("--pipeline needs a project: pass --project NAME or set SLUICE_PROJECT");
  const out = process.stdout;
  const style = styleFor(out);

  return withClient(flags, async (client) => {
    const filter: Record<string, unknown> = {};
    let projectNames: Map<string, string> | undefined;
    if (settings.project) {
      const project = await resolveProject(client);
      filter.projectId = project.id;
      if (flags.pipeline) filter.pipelineId = (await requirePipeline(client, project, flags.pipeline)).id;
    }
    // WAITING is RUNNING as the API filters; the runs held at a gate are picked out below.
    const asked = new Set(statuses.map((s) => (s === "WAITING" ? "RUNNING" : s)));
    if (asked.size > 0) filter.statuses = [...asked];
    const res = await client.request<{ runs: { totalCount: number; nodes: RunRow[] } }>(
      `query Runs($first: Int!, $filter: RunFilter) {
        runs(first: $first, filter: $filter, orderBy: { field: CREATED_AT, direction: DESC }) {
          totalCount nodes { id number status triggerKind projectId createdAt startedAt finishedAt pipeline { name }
            waitingGates { stageName ${APPROVAL_WAIT_FIELDS} } } } }`,
      { first: limit, filter },
    );
    const wanted = new Set(statuses);
    // `--status waiting` alone keeps only runs held at a gate; with `running` too, every running one.
    const nodes = res.runs.nodes.filter((r) => !wanted.has("WAITING") || wanted.has("RUNNING") || wanted.has(shownStatus(r)));
    const totalCount = nodes.length < res.runs.nodes.length ? nodes.length : res.runs.totalCount;
    if (nodes.length === 0) {
      out.write("no runs\n");
      return 0;
    }
    if (!settings.project) {
      const projects = await client.request<{ projects: { nodes: Array<{ id: string; name: string }> } }>(
        `{ projects(first: 500, filter: { includeArchived: true }) { nodes { id name } } }`,
      );
      projectNames = new Map(projects.projects.nodes.map((p) => [p.id, p.name]));
    }
    const now = Date.now();
    const rows = nodes.map((r) => [
      ...(projectNames ? [projectNames.get(r.projectId) ?? r.projectId] : []),
      `${r.pipeline.name}#${r.number}`,
      formatStatus(style, shownStatus(r)),
      r.triggerKind.toLowerCase(),
      r.startedAt ? formatAgo(r.startedAt, now) : style.gray("not yet"),
      durationBetween(r.startedAt, r.finishedAt, now),
      style.gray(r.id),
    ]);
    const header = [...(projectNames ? ["PROJECT"] : []), "RUN", "STATUS", "TRIGGER", "STARTED", "DURATION", "ID"];
    for (const line of table(rows, { header, style })) out.write(`${line}\n`);
    if (totalCount > nodes.length) out.write(style.gray(`showing ${nodes.length} of ${totalCount} runs (--limit to see more)\n`));
    const waits = nodes.flatMap((r) => r.waitingGates.map((g) => ({ run: r, gate: g })));
    for (const { run, gate } of waits) {
      const what = gate.approvalWait ? waitingSummary(gate.approvalWait) : "its version to be registered";
      out.write(`${run.pipeline.name}#${run.number} ${style.yellow("waits")} at ${gate.stageName} for ${what}\n`);
      if (gate.approvalWait) {
        const self = gate.approvalWait.onlyRequesterCanApprove ? " --self-approve" : "";
        out.write(style.gray(`  approve: ${decideCommand("approve", gate.approvalWait, flags.project)}${self}\n`));
      }
    }
    return 0;
  });
}
