import { type InputProblem, InvalidInputError } from "../kernel/errors";

/**
 * Event type patterns of a channel. Pure: no I/O.
 *
 * A pattern is dotted segments like an event type (`approval.decided`); a segment `*` matches
 * exactly one segment, except as the last segment, where it matches one or more
 * (`approval.*` hears `approval.requested` and `approval.decided`; `dataset.*` also hears
 * `dataset.version.created`). `*` alone hears every event of the project. Patterns are matched
 * against the types the stream holds, so they work for types that do not exist yet (`alert.*`).
 */

/** Most patterns in one channel. */
export const MAX_PATTERNS = 50;
const MAX_PATTERN_LENGTH = 128;
const SEGMENT = /^([A-Za-z0-9_-]+|\*)$/;

/** Why `pattern` is malformed, or undefined when it is good. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return "must not be empty";
  if (pattern.length > MAX_PATTERN_LENGTH) return `must be at most ${MAX_PATTERN_LENGTH} characters`;
  if (pattern.split(".").some((s) => !SEGMENT.test(s))) {
    return "must be dotted names (letters, digits, '_', '-') where a whole segment may be '*', e.g. approval.decided, approval.* or *";
  }
  return undefined;
}

/**
 * Checks and normalizes a channel's patterns (trimmed, duplicates dropped, order kept).
 * @throws InvalidInputError naming `eventTypes.<i>` for each bad pattern.
 */
export function checkPatterns(patterns: readonly string[], field = "eventTypes"): string[] {
  const problems: InputProblem[] = [];
  if (patterns.length === 0) problems.push({ field, message: "must list at least one event type pattern (use * for all)" });
  if (patterns.length > MAX_PATTERNS) problems.push({ field, message: `must list at most ${MAX_PATTERNS} patterns` });
  const out: string[] = [];
  patterns.forEach((raw, i) => {
    const p = raw.trim();
    const problem = patternProblem(p);
    if (problem) problems.push({ field: `${field}.${i}`, message: problem });
    else if (!out.includes(p)) out.push(p);
  });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return out;
}

/** Whether `type` matches `pattern` (see the module doc). */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  const want = pattern.split(".");
  const have = type.split(".");
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const last = i === want.length - 1;
    if (w === "*" && last) return have.length >= want.length;
    if (i >= have.length) return false;
    if (w !== "*" && w !== have[i]) return false;
  }
  return have.length === want.length;
}

/** Whether any of `patterns` matches `type`. */
export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => matchesPattern(p, type));
}
