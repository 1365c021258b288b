/**
 * Masking the values of a stage's secrets in what it reports, as GitHub Actions does: a line of
 * its log (or its failure message) that contains a value is stored with `***` in its place.
 * Applied where the server and the remote agent take in a stage's output, before anything is
 * stored or shipped.
 * @internal shared by the run engine and the remote agent.
 */
import type { StageFailure, StageOutcome, StageReporter } from "./contract";

/** What replaces a secret value. */
export const MASK = "***";

/**
 * Replaces every occurrence of the values in `text` with `***`. Values are tried longest first (a
 * value containing another is masked whole); a multi-line value is also masked line by line,
 * because log lines arrive one at a time.
 */
export type Masker = (text: string) => string;

/** The masker for these secret values; the identity when there are none. */
export function secretMasker(values: readonly string[]): Masker {
  const needles = new Set<string>();
  for (const value of values) {
    if (value.length === 0) continue;
    needles.add(value);
    for (const line of value.split(/\r?\n/)) if (line.trim().length > 0) needles.add(line);
  }
  if (needles.size === 0) return (text) => text;
  const ordered = [...needles].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const needle of ordered) if (out.includes(needle)) out = out.split(needle).join(MASK);
    return out;
  };
}

/** A reporter whose log lines go through `mask` first. */
export function maskingReporter(reporter: StageReporter, mask: Masker): StageReporter {
  return { log: (stream, text) => reporter.log(stream, mask(text)), metric: (key, value, step) => reporter.metric(key, value, step) };
}

/** The failure with its message masked (a stage's error may quote what it read). */
export function maskFailure(failure: StageFailure, mask: Masker): StageFailure {
  const masked: StageFailure = { ...failure, message: mask(failure.message) };
  if (failure.details !== undefined) masked.details = maskData(failure.details, mask) as Record<string, unknown>;
  return masked;
}

/** Every string in plain data, masked. */
function maskData(value: unknown, mask: Masker): unknown {
  if (typeof value === "string") return mask(value);
  if (Array.isArray(value)) return value.map((item) => maskData(item, mask));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [mask(key), maskData(item, mask)]));
  }
  return value;
}

/** The outcome with a failure's message and details masked. */
export function maskOutcome(outcome: StageOutcome, mask: Masker): StageOutcome {
  return outcome.status === "failed" ? { ...outcome, failure: maskFailure(outcome.failure, mask) } : outcome;
}
