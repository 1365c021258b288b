import type { Command } from "commander";
import { CliError, connectionSettings, type ConnectionFlags, type SluiceClient } from "./client";
import {
  EXIT_INTERRUPTED,
  commandAction,
  getRun,
  resolveRun,
  runLabel,
  withClient,
  withConnectionOptions,
  type StageRunSummary,
} from "./common";
import { colorStatus, padEnd, prefixColor, styleFor, type Style } from "./format";
import { RUN_EVENTS_SUBSCRIPTION, type RunEventMessage } from "./run-watch";

/**
 * `sluice logs RUN [STAGE]`: the stored output of a run's stages (every line prefixed with its
 * stage when showing all of them); with `--follow`, then the live output until the run ends.
 */

export interface LogsFlags extends ConnectionFlags {
  follow?: boolean;
}

export function registerLogsCommand(program: Command): void {
  withConnectionOptions(
    program
      .command("logs")
      .description("print a run's stage output (all stages, each line prefixed with its stage, or one stage)")
      .argument("<run>", "a run id, or pipeline#number (in the project given)")
      .argument("[stage]", "only this stage's output"),
  )
    .option("-f, --follow", "keep printing output as it is written, until the run ends")
    .action(commandAction(logsCommand));
}

interface Chunk {
  cursor: string;
  attempt: number;
  stream: string;
  text: string;
}

const CHUNK_FIELDS = "cursor attempt stream text";

const LOG_SUBSCRIPTION = `subscription StageLogs($stageRunId: ID!, $after: String) {
  stageLogStream(stageRunId: $stageRunId, after: $after) { ${CHUNK_FIELDS} } }`;

const FINISHED_RUN = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);

/** Writes chunks as lines, prefixed with the stage (when asked), skipping any already written. */
class LogPrinter {
  private readonly partial = new Map<string, string>();
  private readonly attempts = new Map<string, number>();
  private readonly cursors = new Map<string, bigint>();
  private readonly prefixes = new Map<string, string>();
  written = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly style: Style,
    stages: StageRunSummary[],
    prefixed: boolean,
  ) {
    const width = Math.max(...stages.map((s) => s.stageName.length));
    stages.forEach((s, i) =>
      this.prefixes.set(s.id, prefixed ? `${prefixColor(style, i)(padEnd(s.stageName, width))} ${style.gray("|")} ` : ""),
    );
  }

  /** The cursor of the last chunk written for a stage run. */
  lastCursor(stageRunId: string): bigint | undefined {
    return this.cursors.get(stageRunId);
  }

  chunk(stageRunId: string, chunk: Chunk): void {
    const cursor = BigInt(chunk.cursor);
    const last = this.cursors.get(stageRunId);
    if (last !== undefined && cursor <= last) return;
    this.cursors.set(stageRunId, cursor);
    this.written++;
    const previous = this.attempts.get(stageRunId);
    if (previous !== chunk.attempt && (previous !== undefined || chunk.attempt > 1)) {
      this.flush(stageRunId);
      this.line(stageRunId, this.style.gray(`--- attempt ${chunk.attempt} ---`));
    }
    this.attempts.set(stageRunId, chunk.attempt);
    const lines = ((this.partial.get(stageRunId) ?? "") + chunk.text).split("\n");
    this.partial.set(stageRunId, lines.pop()!);
    for (const l of lines) this.line(stageRunId, chunk.stream === "stderr" ? this.style.red(l) : l);
  }

  /** Ends a stage's unfinished last line. */
  flush(stageRunId: string): void {
    const rest = this.partial.get(stageRunId);
    if (rest) this.line(stageRunId, rest);
    this.partial.delete(stageRunId);
  }

  flushAll(): void {
    for (const id of [...this.partial.keys()]) this.flush(id);
  }

  private line(stageRunId: string, text: string): void {
    this.out.write(`${this.prefixes.get(stageRunId) ?? ""}${text}\n`);
  }
}

/** A stage run's stored chunks, oldest first: all of them, or only those after `after`. */
async function storedChunks(client: SluiceClient, stageRunId: string, after?: bigint): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  let page: string | null = null;
  // Newest first when only the tail is wanted, stopping at what was already seen.
  const direction = after === undefined ? "ASC" : "DESC";
  for (;;) {
    const res: { stageLogs: { nodes: Chunk[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await client.request(
      `query StageLogs($id: ID!, $after: String, $direction: OrderDirection!) {
        stageLogs(stageRunId: $id, first: 500, after: $after, orderBy: { field: WRITTEN, direction: $direction }) {
          nodes { ${CHUNK_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
      { id: stageRunId, after: page, direction },
    );
    const nodes = after === undefined ? res.stageLogs.nodes : res.stageLogs.nodes.filter((c) => BigInt(c.cursor) > after);
    chunks.push(...nodes);
    if (!res.stageLogs.pageInfo.hasNextPage || nodes.length < res.stageLogs.nodes.length) break;
    page = res.stageLogs.pageInfo.endCursor;
  }
  return after === undefined ? chunks : chunks.reverse();
}

export async function logsCommand(ref: string, stageName: string | undefined, flags: LogsFlags): Promise<number> {
  connectionSettings(flags);
  const out = process.stdout;
  const style = styleFor(out);
  return withClient(flags, async (client) => {
    const run = await resolveRun(client, ref);
    let stages = run.stageRuns;
    if (stageName !== undefined) {
      stages = stages.filter((s) => s.stageName === stageName);
      if (stages.length === 0) {
        throw new CliError(`${runLabel(run)} has no stage "${stageName}"; its stages: ${run.stageRuns.map((s) => s.stageName).join(", ")}`);
      }
    }
    const printer = new LogPrinter(out, style, stages, stageName === undefined);

    if (!flags.follow || FINISHED_RUN.has(run.status)) {
      for (const sr of stages) {
        for (const chunk of await storedChunks(client, sr.id)) printer.chunk(sr.id, chunk);
        printer.flush(sr.id);
      }
      if (printer.written === 0)
        process.stderr.write(`no output stored for ${stageName ? `stage ${stageName} of ` : ""}${runLabel(run)} (${run.status})\n`);
      return 0;
    }

    const outcome = await follow(client, run.id, stages, printer);
    printer.flushAll();
    if (outcome === "interrupted") return EXIT_INTERRUPTED;
    // Whatever the subscriptions had not delivered when the run ended.
    for (const sr of stages) {
      for (const chunk of await storedChunks(client, sr.id, printer.lastCursor(sr.id))) printer.chunk(sr.id, chunk);
      printer.flush(sr.id);
    }
    const final = await getRun(client, run.id);
    const stderrStyle = styleFor(process.stderr);
    if (stageName !== undefined) {
      const status = final?.stageRuns.find((s) => s.stageName === stageName)?.status ?? "finished";
      process.stderr.write(`${runLabel(run)} stage ${stageName} ${colorStatus(stderrStyle, status)}\n`);
    } else process.stderr.write(`${runLabel(run)} ${colorStatus(stderrStyle, final?.status ?? "finished")}\n`);
    return 0;
  });
}

/** Events after which a stage writes no more output. */
const STAGE_FINAL_EVENTS = new Set(["stage.succeeded", "stage.failed", "stage.canceled", "stage.skipped", "stage.reused"]);

/**
 * Streams the stages' output: each stage's log stream is subscribed (from its start) once the
 * stage starts, as `runEvents` says; resolves when the run (or every stage followed) has
 * finished, or on SIGINT/SIGTERM.
 */
function follow(client: SluiceClient, runId: string, stages: StageRunSummary[], printer: LogPrinter): Promise<"finished" | "interrupted"> {
  const wanted = new Set(stages.map((s) => s.id));
  const subscriptions = new Map<string, () => void>();
  const ended = new Set<string>();
  return new Promise((resolve, reject) => {
    let done = false;
    let lastEvent = -1n;
    let unsubscribeEvents = () => undefined as void;
    const finish = (result: "finished" | "interrupted" | CliError) => {
      if (done) return;
      done = true;
      for (const stop of subscriptions.values()) stop();
      unsubscribeEvents();
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      if (result instanceof CliError) reject(result);
      else resolve(result);
    };
    const onSignal = () => finish("interrupted");
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const watchStage = (stageRunId: string) => {
      if (done || !wanted.has(stageRunId) || subscriptions.has(stageRunId)) return;
      subscriptions.set(
        stageRunId,
        client.subscribe<{ stageLogStream: Chunk }>(
          LOG_SUBSCRIPTION,
          { stageRunId, after: "0" },
          { next: ({ stageLogStream }) => printer.chunk(stageRunId, stageLogStream), error: (err) => finish(err) },
        ),
      );
    };
    for (const sr of stages) if (sr.status !== "PENDING" && sr.status !== "QUEUED" && sr.status !== "SKIPPED") watchStage(sr.id);
    unsubscribeEvents = client.subscribe<{ runEvents: RunEventMessage }>(
      RUN_EVENTS_SUBSCRIPTION,
      { runId, after: "0" },
      {
        next: ({ runEvents: e }) => {
          const cursor = BigInt(e.cursor);
          if (cursor <= lastEvent) return;
          lastEvent = cursor;
          if (e.type === "stage.started" && e.stageRunId) watchStage(e.stageRunId);
          if (e.stageRunId && STAGE_FINAL_EVENTS.has(e.type)) ended.add(e.stageRunId);
          const allEnded = [...wanted].every((id) => ended.has(id));
          if (allEnded || e.type === "run.succeeded" || e.type === "run.failed" || e.type === "run.canceled") finish("finished");
        },
        error: (err) => finish(err),
        complete: () => finish(new CliError("the server ended the run's event stream before the run finished")),
      },
    );
  });
}
