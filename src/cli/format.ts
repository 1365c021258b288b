/**
 * Terminal formatting shared by the client commands: colours (plain ANSI, off for NO_COLOR and
 * non-TTY output), status symbols, durations, times, tables and a progress bar. Pure apart from
 * reading the stream's TTY flag and the environment in {@link styleFor}.
 */

const ESC = "\x1b[";

/** Colours for one output stream; every method returns its text unchanged when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  magenta(text: string): string;
  cyan(text: string): string;
  gray(text: string): string;
}

function makeStyle(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (text: string) => (enabled && text !== "" ? `${ESC}${open}m${text}${ESC}${close}m` : text);
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    blue: wrap(34, 39),
    magenta: wrap(35, 39),
    cyan: wrap(36, 39),
    gray: wrap(90, 39),
  };
}

/** No colour. */
export const PLAIN: Style = makeStyle(false);

/**
 * Colour for `stream`: on for a TTY unless `NO_COLOR` is set (to anything non-empty) or
 * `TERM=dumb`; `FORCE_COLOR` (other than `0`) turns it on for any stream.
 */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (env.NO_COLOR) return PLAIN;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return makeStyle(true);
  return makeStyle(Boolean(stream.isTTY) && env.TERM !== "dumb");
}

// eslint-disable-next-line no-control-regex -- ESC starts the ANSI sequences this matches
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
/** One escape sequence exactly at `lastIndex`. */
// eslint-disable-next-line no-control-regex -- as above
const ANSI_AT = /\x1b\[[0-9;?]*[A-Za-z]/y;

/** `text` without ANSI escape sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

/** Columns `text` takes in a terminal (escape sequences take none; every code point one). */
export function visibleWidth(text: string): number {
  let n = 0;
  for (const _ of stripAnsi(text)) n++;
  return n;
}

/** Pads `text` with spaces on the right to `width` visible columns. */
export function padEnd(text: string, width: number): string {
  const w = visibleWidth(text);
  return w >= width ? text : text + " ".repeat(width - w);
}

/** Cuts `text` to `width` visible columns, keeping escape sequences intact (ending with `…`). */
export function truncate(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  if (width <= 0) return "";
  let out = "";
  let used = 0;
  let styled = false;
  for (let i = 0; i < text.length;) {
    ANSI_AT.lastIndex = i;
    const m = text[i] === "\x1b" ? ANSI_AT.exec(text) : null;
    if (m) {
      out += m[0];
      styled = true;
      i += m[0].length;
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (used === width - 1) {
      out += "…";
      break;
    }
    out += ch;
    used++;
    i += ch.length;
  }
  return styled ? `${out}${ESC}0m` : out;
}

/**
 * Rows as aligned lines: each column as wide as its widest cell, two spaces between columns,
 * the last column not padded. `header` is shown in bold (when the style has colour) above.
 */
export function table(rows: string[][], options: { header?: string[]; style?: Style; indent?: string } = {}): string[] {
  const style = options.style ?? PLAIN;
  const all = options.header ? [options.header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(0, ...all.map((r) => visibleWidth(r[c] ?? ""))));
  const line = (r: string[]) =>
    (options.indent ?? "") +
    r
      .map((cell, c) => (c === r.length - 1 ? cell : padEnd(cell, widths[c]!)))
      .join("  ")
      .trimEnd();
  const out = rows.map(line);
  if (options.header) out.unshift(style.bold(line(options.header)));
  return out;
}

/** Run and stage statuses, plus `RETRYING` (a stage queued again after a failed attempt). */
export type DisplayStatus =
  "PENDING" | "QUEUED" | "WAITING" | "RUNNING" | "RETRYING" | "SUCCEEDED" | "FAILED" | "CANCELED" | "SKIPPED" | (string & {});

const SYMBOLS: Record<string, string> = {
  PENDING: "·",
  QUEUED: "○",
  WAITING: "‖",
  RUNNING: "●",
  RETRYING: "↻",
  SUCCEEDED: "✓",
  FAILED: "✗",
  CANCELED: "⊘",
  SKIPPED: "↷",
};

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Whether a run or stage status is final. */
export function isFinished(status: string): boolean {
  return status === "SUCCEEDED" || status === "FAILED" || status === "CANCELED" || status === "SKIPPED";
}

/** The colour of a status. */
export function colorStatus(style: Style, status: DisplayStatus, text: string = status): string {
  switch (status) {
    case "SUCCEEDED":
      return style.green(text);
    case "FAILED":
      return style.red(text);
    case "RUNNING":
      return style.cyan(text);
    case "QUEUED":
    case "WAITING":
    case "RETRYING":
      return style.yellow(text);
    case "CANCELED":
      return style.magenta(text);
    default:
      return style.gray(text);
  }
}

/** The symbol of a status; a running one spins through `frame` when given. */
export function statusSymbol(status: DisplayStatus, frame?: number): string {
  if (status === "RUNNING" && frame !== undefined) return SPINNER[frame % SPINNER.length]!;
  return SYMBOLS[status] ?? "?";
}

/** `✓ SUCCEEDED`, coloured. */
export function formatStatus(style: Style, status: DisplayStatus, frame?: number): string {
  return colorStatus(style, status, `${statusSymbol(status, frame)} ${status}`);
}

/** `850ms`, `12.3s`, `4m 05s`, `2h 03m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The time between two instants (`end` defaulting to `now`), or `""` without a start. */
export function durationBetween(start: Date | string | null | undefined, end: Date | string | null | undefined, now = Date.now()): string {
  if (!start) return "";
  const from = new Date(start).getTime();
  const to = end ? new Date(end).getTime() : now;
  return formatDuration(to - from);
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `14:03:07`, local time. */
export function formatClock(at: Date | string): string {
  const d = new Date(at);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `12s ago`, `5m ago`, `3h ago` within a day, then `2026-01-31 14:03` (local time). */
export function formatAgo(at: Date | string, now = Date.now()): string {
  const d = new Date(at);
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `sha256:0123456789ab…` */
export function shortHash(hash: string): string {
  const m = /^([a-z0-9]+:)?([0-9a-f]+)$/i.exec(hash);
  if (!m || m[2]!.length <= 12) return hash;
  return `${m[1] ?? ""}${m[2]!.slice(0, 12)}…`;
}

/**
 * `[██████░░░░░░] 3/6`: `done` of `total`, the filled part green (red when `failed`).
 */
export function progressBar(style: Style, done: number, total: number, width = 24, failed = false): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const bar = (failed ? style.red : style.green)("█".repeat(filled)) + style.gray("░".repeat(width - filled));
  return `${bar} ${done}/${total}`;
}

/** The colour a stage's log prefix gets (stable per stage, cycling through six). */
export function prefixColor(style: Style, index: number): (text: string) => string {
  const colors = [style.cyan, style.magenta, style.blue, style.yellow, style.green, style.red];
  return colors[index % colors.length]!;
}
