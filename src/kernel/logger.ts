import pino, { type Logger } from "pino";

export type { Logger };

/**
 * The server's structured JSON logger. Secrets never reach it: the Authorization header and
 * token fields are redacted wherever they appear.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "sluice" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["req.headers.authorization", "*.token", "token", "*.password"], censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** How log lines are written: JSON (machines, production) or {@link prettyLine} (a person at a terminal). */
export type LogFormat = "json" | "pretty";

/**
 * `auto` resolved: pretty on a terminal outside production, JSON otherwise (a pipe, a file, a
 * container's log collector, production).
 */
export function logFormatFor(setting: LogFormat | "auto", stream: { isTTY?: boolean }, production: boolean): LogFormat {
  if (setting !== "auto") return setting;
  return stream.isTTY && !production ? "pretty" : "json";
}

/** A pino destination writing each line through {@link prettyLine} (no pino-pretty: a dependency for a dozen lines). */
export function prettyDestination(out: { write(text: string): unknown }): pino.DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line)) };
}

const HIDDEN = new Set(["time", "level", "msg", "service", "pid", "hostname", "err"]);

/**
 * One JSON log line as a person reads it: `14:03:07 WARN  message  key=value …`, with an error's
 * message and stack on the lines below. A line that is not JSON is passed through.
 */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const time = typeof o.time === "string" ? o.time.slice(11, 19) : "";
  const level = String(o.level ?? "").toUpperCase();
  const fields = Object.entries(o)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  let line = [time, level.padEnd(5), String(o.msg ?? ""), ...fields].filter((part) => part !== "").join(" ");
  const err = o.err as { message?: string; stack?: string } | undefined;
  if (err) line += `\n    ${(err.stack ?? err.message ?? JSON.stringify(err)).split("\n").join("\n    ")}`;
  return `${line}\n`;
}
