/**
 * The stdout line protocol of the process runner: `::metric` and `::output` lines, parsed into
 * data. See `runners/PROTOCOL.md` ("Output: logs, metrics, output metadata").
 * @internal used by `index.ts`.
 */

export type Directive =
  | { type: "metric"; key: string; value: number; step?: number }
  | { type: "output"; name: string; metadata: Record<string, unknown> }
  /** A line that starts like a directive but is not a valid one; `reason` says why. */
  | { type: "malformed"; reason: string };

const TEXT_METRIC = /^([^\s=]+)=(\S+)(?:\s+step=(\S+))?\s*$/;
const OUTPUT = /^(\S+)\s+(\{.*\})\s*$/;

/** The directive on `line`, or `undefined` when the line is ordinary output. */
export function parseDirective(line: string): Directive | undefined {
  const head = /^::(metric|output)(?:\s+|$)/.exec(line);
  if (!head) return undefined;
  const rest = line.slice(head[0].length);
  return head[1] === "metric" ? parseMetric(rest) : parseOutput(rest);
}

function parseMetric(rest: string): Directive {
  if (rest.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(rest);
    } catch {
      return { type: "malformed", reason: "::metric: the JSON form is not valid JSON" };
    }
    const m = value as { key?: unknown; value?: unknown; step?: unknown };
    if (typeof m.key !== "string" || m.key.length === 0) return { type: "malformed", reason: "::metric: key must be a non-empty string" };
    return metric(m.key, m.value, m.step ?? undefined);
  }
  const match = TEXT_METRIC.exec(rest);
  if (!match) return { type: "malformed", reason: "::metric: expected `::metric <key>=<value> [step=<n>]`" };
  return metric(match[1], match[2] === "" ? NaN : Number(match[2]), match[3] === undefined ? undefined : Number(match[3]));
}

function metric(key: string, value: unknown, step: unknown): Directive {
  if (typeof value !== "number" || !Number.isFinite(value))
    return { type: "malformed", reason: `::metric ${key}: value must be a finite number` };
  if (step === undefined) return { type: "metric", key, value };
  if (typeof step !== "number" || !Number.isInteger(step) || step < 0) {
    return { type: "malformed", reason: `::metric ${key}: step must be a non-negative integer` };
  }
  return { type: "metric", key, value, step };
}

function parseOutput(rest: string): Directive {
  const match = OUTPUT.exec(rest);
  if (!match) return { type: "malformed", reason: "::output: expected `::output <name> <json object>`" };
  let metadata: unknown;
  try {
    metadata = JSON.parse(match[2]);
  } catch {
    return { type: "malformed", reason: `::output ${match[1]}: the metadata is not valid JSON` };
  }
  if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) {
    return { type: "malformed", reason: `::output ${match[1]}: the metadata must be a JSON object` };
  }
  return { type: "output", name: match[1], metadata: metadata as Record<string, unknown> };
}
