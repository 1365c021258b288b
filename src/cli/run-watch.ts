import { APPROVAL_WAIT_FIELDS, type ApprovalWaitSummary, waitingLines, waitingSummary } from "./approval-wait";
import { CliError, type SluiceClient } from "./client";
import { getRun, runLabel, type RunSummary } from "./common";
import {
  colorStatus,
  durationBetween,
  formatClock,
  formatDuration,
  formatStatus,
  isFinished,
  padEnd,
  progressBar,
  table,
  truncate,
  type DisplayStatus,
  type Style,
} from "./format";

/**
 * Watching a run live from the `runEvents` subscription: {@link RunState} folds the events into
 * the state of the run and its stages, and {@link watchRun} shows it, as a table redrawn in place
 * on a terminal or as one line per event otherwise.
 */

/** A `RunEvent` as the subscription delivers it. */
export interface RunEventMessage {
  cursor: string;
  type: string;
  stage: string | null;
  stageRunId: string | null;
  payload: Record<string, any>;
  at: string;
}

export const RUN_EVENTS_SUBSCRIPTION = `subscription RunEvents($runId: ID!, $after: String) {
  runEvents(runId: $runId, after: $after) { cursor type stage stageRunId payload at } }`;

interface StageState {
  id: string;
  name: string;
  status: DisplayStatus;
  attempt: number;
  maxAttempts: number;
  /** Of the current attempt, epoch ms. */
  startedAt?: number;
  finishedAt?: number;
  /** Shown after the duration: why it was skipped, a failure, a retry, a cache hit, what a gate waits for. */
  note?: string;
  /** A WAITING gate's approval, once the server has registered its version. */
  wait?: ApprovalWaitSummary;
}

const WAITING_NOTE = "waiting for approval";

const time = (at: string | null | undefined) => (at ? new Date(at).getTime() : undefined);

/** `this stage always fails` or `took too long (TIMEOUT)`. */
export function describeFailure(failure: { type?: string; message?: string } | null | undefined): string {
  if (!failure) return "no failure recorded";
  const type = failure.type && failure.type !== "STAGE_ERROR" ? ` (${failure.type})` : "";
  return `${failure.message ?? "failed"}${type}`;
}

/** The state of one run and its stages, folded from its events. */
export class RunState {
  readonly label: string;
  status: string;
  startedAt?: number;
  finishedAt?: number;
  cancelRequested: boolean;
  readonly stages: StageState[] = [];
  private readonly byId = new Map<string, StageState>();
  private readonly byName = new Map<string, StageState>();

  constructor(run: RunSummary) {
    this.label = runLabel(run);
    this.status = run.status;
    this.cancelRequested = run.cancelRequestedAt !== null;
    this.sync(run);
  }

  /** Takes the run's stored state (its first view, and the exact times once it is over). */
  sync(run: RunSummary): void {
    this.status = run.status;
    this.startedAt = time(run.startedAt);
    this.finishedAt = time(run.finishedAt);
    for (const sr of run.stageRuns) {
      const s = this.stage(sr.id, sr.stageName);
      s.status = sr.status;
      s.attempt = sr.attempt;
      s.maxAttempts = sr.maxAttempts;
      s.startedAt = time(sr.startedAt);
      s.finishedAt = time(sr.finishedAt);
      s.wait = sr.status === "WAITING" ? (sr.approvalWait ?? undefined) : undefined;
      if (sr.reuseReason) s.note = sr.reuseReason === "CACHE" ? "cached" : "reused";
      else if (sr.status === "FAILED") s.note = describeFailure(sr.failure);
      else if (sr.status === "WAITING") s.note = s.wait ? waitingSummary(s.wait) : WAITING_NOTE;
    }
  }

  /**
   * The run's status as shown: WAITING while it is RUNNING and a gate waits for a decision (it is
   * held up by people, which the API says with `Run.waitingGates`), else the run's own status.
   */
  get displayStatus(): string {
    return this.status === "RUNNING" && this.waiting().length > 0 ? "WAITING" : this.status;
  }

  /** Gate stages waiting for a decision. */
  waiting(): StageState[] {
    return this.stages.filter((s) => s.status === "WAITING");
  }

  /** Records what the gate `stageRunId` waits for; false when it no longer waits. */
  setWait(stageRunId: string, wait: ApprovalWaitSummary): boolean {
    const s = this.byId.get(stageRunId);
    if (!s || s.status !== "WAITING") return false;
    s.wait = wait;
    s.note = waitingSummary(wait);
    return true;
  }

  get finished(): boolean {
    return this.status === "SUCCEEDED" || this.status === "FAILED" || this.status === "CANCELED";
  }

  /** Stages done (in a final state) and in all. */
  progress(): { done: number; total: number; failed: boolean } {
    return {
      done: this.stages.filter((s) => isFinished(s.status)).length,
      total: this.stages.length,
      failed: this.stages.some((s) => s.status === "FAILED"),
    };
  }

  /** Applies one event; returns what happened as words (`succeeded in 1.2s`), or undefined for nothing to say. */
  apply(e: RunEventMessage): string | undefined {
    const at = new Date(e.at).getTime();
    const p = e.payload ?? {};
    if (!e.type.startsWith("stage.")) {
      switch (e.type) {
        case "run.queued":
          this.status = "QUEUED";
          return "queued";
        case "run.started":
          if (!this.finished) this.status = "RUNNING";
          this.startedAt ??= at;
          return "running";
        case "run.cancel_requested":
          this.cancelRequested = true;
          return "cancel requested";
        case "run.succeeded":
        case "run.failed":
        case "run.canceled": {
          this.status = String(p.status ?? e.type.slice(4).toUpperCase());
          this.finishedAt = at;
          const took =
            this.startedAt !== undefined ? ` ${this.status === "SUCCEEDED" ? "in" : "after"} ${formatDuration(at - this.startedAt)}` : "";
          return `${this.status.toLowerCase()}${took}`;
        }
        default:
          return e.type;
      }
    }
    const s = this.stage(e.stageRunId ?? String(p.stageRunId ?? e.stage), e.stage ?? String(p.stage));
    if (typeof p.attempt === "number" && p.attempt > 0) s.attempt = p.attempt;
    const took = () => (s.startedAt !== undefined ? formatDuration(at - s.startedAt) : "");
    switch (e.type) {
      case "stage.queued":
        s.status = "QUEUED";
        return "queued";
      case "stage.started":
        s.status = "RUNNING";
        s.startedAt = at;
        s.finishedAt = undefined;
        s.note = undefined;
        return s.attempt > 1 ? `running (attempt ${s.attempt}${s.maxAttempts > 1 ? ` of ${s.maxAttempts}` : ""})` : "running";
      case "stage.waiting":
        s.status = "WAITING";
        s.startedAt ??= at;
        s.note = WAITING_NOTE;
        return WAITING_NOTE;
      case "stage.succeeded": {
        const gate = s.wait;
        s.status = "SUCCEEDED";
        s.finishedAt = at;
        if (s.note === WAITING_NOTE || gate) s.note = undefined;
        s.wait = undefined;
        return gate ? `approved: ${gate.modelName} v${gate.version} goes on` : `succeeded in ${took()}`;
      }
      case "stage.failed":
        s.status = "FAILED";
        s.finishedAt = at;
        s.wait = undefined;
        s.note = describeFailure(p.failure);
        return `failed after ${took()}: ${s.note}`;
      case "stage.retrying": {
        s.status = "RETRYING";
        s.finishedAt = at;
        const wait = p.notBefore ? Math.max(0, new Date(p.notBefore).getTime() - at) : 0;
        s.note = `attempt ${s.attempt} failed: ${describeFailure(p.failure)}`;
        return `${s.note}; retrying in ${formatDuration(wait)} (attempt ${p.nextAttempt ?? s.attempt + 1}${s.maxAttempts > 1 ? ` of ${s.maxAttempts}` : ""})`;
      }
      case "stage.canceled":
        s.status = "CANCELED";
        s.finishedAt = at;
        if (s.wait || s.note === WAITING_NOTE) s.note = undefined;
        s.wait = undefined;
        return "canceled";
      case "stage.skipped":
        s.status = "SKIPPED";
        s.note = p.because ? `below ${p.because}` : undefined;
        return `skipped${p.because ? ` (${p.because} did not succeed)` : ""}`;
      case "stage.reused":
        s.status = "SUCCEEDED";
        s.startedAt = s.finishedAt = at;
        s.note = "cached";
        return "reused cached outputs";
      default:
        return e.type;
    }
  }

  private stage(id: string, name: string): StageState {
    let s = this.byId.get(id) ?? this.byName.get(name);
    if (!s) {
      s = { id, name, status: "PENDING", attempt: 0, maxAttempts: 1 };
      this.stages.push(s);
      this.byName.set(name, s);
    }
    this.byId.set(id, s);
    return s;
  }
}

/** The lines of one frame of the live table, each at most `columns` wide and at most `rows` of them. */
export function renderFrame(
  state: RunState,
  style: Style,
  options: { frame: number; columns: number; rows: number; now?: number; project?: string },
): string[] {
  const now = options.now ?? Date.now();
  const { done, total, failed } = state.progress();
  const status = state.displayStatus as DisplayStatus;
  const elapsed = state.startedAt !== undefined ? formatDuration((state.finishedAt ?? now) - state.startedAt) : "";
  const cancel = state.cancelRequested && !state.finished ? style.yellow("  cancel requested") : "";
  const header = `${style.bold(state.label)}  ${formatStatus(style, status, state.finished ? undefined : options.frame)}  ${progressBar(style, done, total, 20, failed)}  ${elapsed}${cancel}`;

  // Under the table, what each waiting gate needs and the commands that decide it.
  const waits = state
    .waiting()
    .flatMap((s) => (s.wait ? waitingLines(s.wait, options.project).map((l, i) => (i === 0 ? `${s.name} ${l}` : l)) : []));
  let shown = state.stages;
  const room = Math.max(3, options.rows - 3 - waits.length);
  let hidden = "";
  if (shown.length > room) {
    // Too many to show: the busiest and most eventful stages, kept in DAG order.
    const rank = (s: StageState) =>
      s.status === "RUNNING" || s.status === "RETRYING"
        ? 0
        : s.status === "FAILED"
          ? 1
          : s.status === "QUEUED" || s.status === "WAITING"
            ? 2
            : 3;
    const keep = new Set(
      [...shown]
        .sort((a, b) => rank(a) - rank(b) || (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
        .slice(0, room - 1)
        .map((s) => s.name),
    );
    const rest = shown.filter((s) => !keep.has(s.name));
    const counts = new Map<string, number>();
    for (const s of rest) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
    hidden = `… ${rest.length} more: ${[...counts].map(([k, n]) => `${n} ${k.toLowerCase()}`).join(", ")}`;
    shown = shown.filter((s) => keep.has(s.name));
  }
  const rows = shown.map((s) => {
    const attempt = s.attempt === 0 ? "" : s.maxAttempts > 1 ? `${s.attempt}/${s.maxAttempts}` : String(s.attempt);
    const duration =
      s.startedAt === undefined || s.status === "PENDING" || s.status === "QUEUED"
        ? ""
        : formatDuration((s.finishedAt ?? (s.status === "RUNNING" || s.status === "WAITING" ? now : s.startedAt)) - s.startedAt);
    const note = s.note
      ? s.status === "FAILED"
        ? style.red(s.note)
        : s.status === "WAITING"
          ? style.yellow(s.note)
          : style.gray(s.note)
      : "";
    return [s.name, formatStatus(style, s.status, s.status === "RUNNING" ? options.frame : undefined), attempt, duration, note];
  });
  const lines = [header, ...table(rows, { header: ["STAGE", "STATUS", "ATTEMPT", "DURATION", ""], style, indent: "  " })];
  if (hidden) lines.push(style.gray(`  ${hidden}`));
  for (const w of waits) lines.push(style.yellow(`  ${w}`));
  return lines.map((l) => truncate(l, options.columns - 1));
}

/** Redraws the frame in place on a terminal. */
class LiveTable {
  private drawn = 0;
  private frame = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly showCursor = () => this.out.write("\x1b[?25h");

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly style: Style,
    private readonly state: RunState,
    private readonly project?: string,
  ) {
    out.write("\x1b[?25l");
    process.once("exit", this.showCursor);
    this.timer = setInterval(() => this.render(), 100);
    this.render();
  }

  render(): void {
    this.frame++;
    const lines = renderFrame(this.state, this.style, {
      frame: this.frame,
      columns: this.out.columns || 100,
      rows: this.out.rows || 40,
      project: this.project,
    });
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A\r` : "";
    this.out.write(`${up}${lines.map((l) => `\x1b[2K${l}\n`).join("")}\x1b[J`);
    this.drawn = lines.length;
  }

  stop(): void {
    clearInterval(this.timer);
    this.render();
    this.showCursor();
    process.removeListener("exit", this.showCursor);
  }
}

export type WatchOutcome = { kind: "finished"; run: RunSummary } | { kind: "interrupted"; signal: NodeJS.Signals };

export interface WatchOptions {
  out: NodeJS.WriteStream;
  style: Style;
  /** Redraw a table in place (a terminal) rather than print a line per event. */
  live: boolean;
  /** The project as given with --project, repeated in the approve commands shown. */
  project?: string;
  /** How often to ask what a waiting gate waits for, until the server knows (ms). */
  waitPollMs?: number;
}

const STAGE_WAIT_QUERY = `query StageWait($id: ID!) { stageRun(id: $id) { status ${APPROVAL_WAIT_FIELDS} } }`;

/**
 * Follows `state`'s run through `runEvents` (from its first event, so nothing is missed between
 * reading the run and subscribing) until it finishes, or until SIGINT or SIGTERM stops watching.
 * A finished run is read once more, so the last frame and the caller see its stored times.
 */
export function watchRun(client: SluiceClient, runId: string, state: RunState, options: WatchOptions): Promise<WatchOutcome> {
  const { out, style } = options;
  const width = Math.max(state.label.length, ...state.stages.map((s) => s.name.length));
  const live = options.live ? new LiveTable(out, style, state, options.project) : undefined;
  const asked = new Set<string>();
  return new Promise<WatchOutcome>((resolve, reject) => {
    let lastCursor = -1n;
    let done = false;
    let unsubscribe = () => undefined as void;
    const finish = (result: Promise<WatchOutcome> | WatchOutcome | CliError) => {
      if (done) return;
      done = true;
      unsubscribe();
      process.removeListener("SIGINT", onSigint);
      process.removeListener("SIGTERM", onSigterm);
      Promise.resolve(result)
        .then((outcome) => {
          live?.stop();
          if (outcome instanceof CliError) reject(outcome);
          else resolve(outcome);
        })
        .catch((err: unknown) => {
          live?.stop();
          reject(err);
        });
    };
    const finished = async (): Promise<WatchOutcome> => {
      const run = await getRun(client, runId);
      if (!run) throw new CliError(`run ${runId} disappeared`);
      state.sync(run);
      return { kind: "finished", run };
    };
    const print = (at: string, name: string, text: string, status?: DisplayStatus) =>
      out.write(`${style.gray(formatClock(at))}  ${padEnd(name, width)}  ${status ? colorStatus(style, status, text) : text}\n`);
    // A gate goes WAITING before the server has registered its version: ask until it has, then
    // say what it waits for and how to decide it (once per gate).
    const learnWait = async (stageRunId: string, name: string): Promise<void> => {
      if (asked.has(stageRunId)) return;
      asked.add(stageRunId);
      const pause = options.waitPollMs ?? 300;
      while (!done) {
        const res = await client.request<{ stageRun: { status: string; approvalWait: ApprovalWaitSummary | null } | null }>(
          STAGE_WAIT_QUERY,
          {
            id: stageRunId,
          },
        );
        const sr = res.stageRun;
        if (!sr || sr.status !== "WAITING" || done) return;
        if (sr.approvalWait) {
          if (!state.setWait(stageRunId, sr.approvalWait)) return;
          if (!live) {
            const [first, ...rest] = waitingLines(sr.approvalWait, options.project);
            print(new Date().toISOString(), name, first!, "WAITING");
            for (const line of rest) out.write(`${" ".repeat(10 + width)}${line}\n`);
          }
          return;
        }
        await new Promise((r) => setTimeout(r, pause));
      }
    };
    const followWait = (stageRunId: string, name: string) =>
      void learnWait(stageRunId, name).catch((err: unknown) => {
        if (!live)
          out.write(style.gray(`  (could not read what ${name} waits for: ${err instanceof Error ? err.message : String(err)})\n`));
      });
    for (const s of state.waiting()) if (!s.wait) followWait(s.id, s.name);
    const onSigint = () => finish({ kind: "interrupted", signal: "SIGINT" });
    const onSigterm = () => finish({ kind: "interrupted", signal: "SIGTERM" });
    process.once("SIGINT", onSigint);
    process.once("SIGTERM", onSigterm);
    unsubscribe = client.subscribe<{ runEvents: RunEventMessage }>(
      RUN_EVENTS_SUBSCRIPTION,
      { runId, after: "0" },
      {
        next: ({ runEvents: e }) => {
          const cursor = BigInt(e.cursor);
          if (cursor <= lastCursor) return; // replayed again after a reconnect
          lastCursor = cursor;
          const what = state.apply(e);
          if (!live && what !== undefined) print(e.at, e.stage ?? state.label, what, eventStatus(e.type));
          if (e.type === "stage.waiting" && e.stageRunId) followWait(e.stageRunId, e.stage ?? String(e.payload?.stage));
          if (state.finished) finish(finished());
        },
        error: (err) => finish(err),
        complete: () => finish(new CliError("the server ended the run's event stream before the run finished")),
      },
    );
  });
}

function eventStatus(type: string): DisplayStatus | undefined {
  const verb = type.slice(type.indexOf(".") + 1);
  const map: Record<string, DisplayStatus> = {
    succeeded: "SUCCEEDED",
    failed: "FAILED",
    canceled: "CANCELED",
    skipped: "SKIPPED",
    retrying: "RETRYING",
    reused: "SUCCEEDED",
    cancel_requested: "CANCELED",
    waiting: "WAITING",
  };
  return map[verb];
}

/**
 * The closing lines of a watch: `churn #3 SUCCEEDED in 2.3s`, and for a failed run the failed
 * stage, its failure and how to read its output.
 */
export function summaryLines(run: RunSummary, style: Style, logsHint: (stage: string) => string): string[] {
  const took = run.startedAt ? ` ${run.status === "SUCCEEDED" ? "in" : "after"} ${durationBetween(run.startedAt, run.finishedAt)}` : "";
  const lines = [`${style.bold(runLabel(run))} ${colorStatus(style, run.status, run.status)}${took}`];
  if (run.status === "FAILED") {
    const stageName = run.error?.stage ?? run.stageRuns.find((s) => s.status === "FAILED")?.stageName;
    const failure = run.error?.failure ?? run.stageRuns.find((s) => s.stageName === stageName)?.failure;
    if (stageName) {
      lines.push(`  stage ${style.bold(stageName)} failed: ${style.red(describeFailure(failure))}`);
      lines.push(style.gray(`  its output: ${logsHint(stageName)}`));
    }
  }
  return lines;
}
