import { createTask, type ScheduledTask, validateDetailed } from "node-cron";
import { InvalidInputError } from "../kernel/errors";

/**
 * Cron expressions and time zones: checking them, and the times they name. Pure (no I/O); the
 * node-cron tasks made here are never started and are destroyed before returning.
 */

/**
 * The most instants `latestMissedFire` tests, walking back from now one step at a time (a
 * minute for 5-field expressions, a second for 6-field ones): 10,080 steps are 7 days of
 * minutes or 2 h 48 min of seconds, about 0.1 s of work. A fire missed further back than that
 * is not looked for.
 */
export const MAX_MISSED_STEPS = 10_080;

/** A checked expression, its fields separated by single spaces. */
export interface CheckedCron {
  expression: string;
  /** Six fields, seconds first: ticks at second resolution. */
  withSeconds: boolean;
}

/**
 * Checks a node-cron expression: 5 fields (`minute hour day-of-month month day-of-week`) or 6
 * with seconds first; names, ranges, lists and steps as node-cron reads them.
 *
 * @throws InvalidInputError naming `<field>.<cron field>` (e.g. `cron.minute`) with node-cron's
 *   message for each bad field, or `<field>` when the field count is wrong.
 */
export function checkCron(expression: string, field = "cron"): CheckedCron {
  const normalized = expression.trim().split(/\s+/).join(" ");
  if (normalized === "") throw new InvalidInputError([{ field, message: "must be a cron expression of 5 or 6 fields" }]);
  const result = validateDetailed(normalized);
  if (!result.valid) {
    throw new InvalidInputError(
      result.errors.map((e) =>
        e.field === "expression"
          ? { field, message: e.message }
          : { field: `${field}.${e.field}`, message: `${e.field} field: ${e.message}` },
      ),
    );
  }
  return { expression: normalized, withSeconds: normalized.split(" ").length === 6 };
}

/** Fires looked at to find a schedule's shortest interval: enough to span a burst (`0,1 9 * * *`). */
const INTERVAL_SAMPLE = 20;

/** The shortest gap, in seconds, between consecutive fires among the next `INTERVAL_SAMPLE` (Infinity if it fires once). */
export function shortestInterval(expression: string, timezone: string): number {
  const fires = nextFireTimes(expression, timezone, INTERVAL_SAMPLE).map((d) => d.getTime());
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 1; i < fires.length; i++) shortest = Math.min(shortest, (fires[i]! - fires[i - 1]!) / 1000);
  return shortest;
}

/**
 * Refuses a schedule that fires more often than every `minSeconds` (a `* * * * * *` schedule
 * would start a run every second, for ever).
 *
 * @throws InvalidInputError on `field` naming the interval found and `SLUICE_MIN_SCHEDULE_SECONDS`.
 */
export function checkMinimumInterval(expression: string, timezone: string, minSeconds: number, field = "cron"): void {
  const interval = shortestInterval(expression, timezone);
  if (interval >= minSeconds) return;
  throw new InvalidInputError([
    {
      field,
      message: `fires every ${interval} s at times; the shortest interval allowed is ${minSeconds} s (SLUICE_MIN_SCHEDULE_SECONDS)`,
    },
  ]);
}

/**
 * Checks an IANA time zone name (`Europe/Paris`, `UTC`) and returns its canonical spelling.
 *
 * @throws InvalidInputError on `field` for a zone this Node.js does not know.
 */
export function checkTimeZone(timeZone: string, field = "timezone"): string {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new InvalidInputError([
      { field, message: `${JSON.stringify(timeZone)} is not an IANA time zone such as "UTC" or "Europe/Paris"` },
    ]);
  }
}

function withTask<T>(expression: string, timezone: string, use: (task: ScheduledTask) => T): T {
  const task = createTask(expression, () => undefined, { timezone });
  try {
    return use(task);
  } finally {
    void task.destroy();
  }
}

/** The next `count` instants after now at which `expression` fires in `timezone`. */
export function nextFireTimes(expression: string, timezone: string, count = 1): Date[] {
  return withTask(expression, timezone, (task) => task.getNextRuns(count));
}

/**
 * The latest instant in `(after, now]` at which `expression` fires in `timezone`, or null when
 * there is none within `MAX_MISSED_STEPS` steps back from `now`. Walks back one step at a time
 * with node-cron's `match`, so the first hit is the answer.
 */
export function latestMissedFire(expression: string, timezone: string, after: Date, now: Date): Date | null {
  const step = expression.trim().split(/\s+/).length === 6 ? 1000 : 60_000;
  return withTask(expression, timezone, (task) => {
    let t = Math.floor(now.getTime() / step) * step;
    for (let i = 0; i < MAX_MISSED_STEPS && t > after.getTime(); i++, t -= step) {
      const at = new Date(t);
      if (task.match(at)) return at;
    }
    return null;
  });
}
