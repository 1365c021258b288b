import type { InputProblem } from "../kernel/errors";
import { SLA_KINDS, type SlaKind, type SlaSpec } from "./spec";

/**
 * What each SLA kind promises, in which unit, and the checks every SLA definition passes — the
 * same rules for an SLA declared in a pipeline spec (checked at apply by validate.ts) and one made
 * through the API (src/slas, which owns SLAs as data and judges them). It lives here because the
 * spec declares SLAs and spec validation must not depend on the SLA capability. Pure: no I/O, no
 * database; a pure entry other folders import directly.
 */

export { SLA_KINDS, type SlaKind };

/** What an SLA is about. */
export type SlaSubjectKind = "PIPELINE" | "DATASET" | "ENDPOINT";

/** How the objective is read. */
export type ObjectiveUnit = "SECONDS" | "MILLISECONDS" | "SHARE" | "ROWS" | "METRIC";

/** Which side of the objective breaches: observed above a ceiling, or below a floor. */
export type Bound = "CEILING" | "FLOOR";

export interface SlaKindInfo {
  subject: SlaSubjectKind;
  unit: ObjectiveUnit;
  /** CEILING: the observed value may not exceed the objective; FLOOR: may not fall below it. */
  bound: Bound;
  /** Whether the kind looks back over a window (required), or has none (refused). */
  windowed: boolean;
}

export const SLA_KIND_INFO: Readonly<Record<SlaKind, SlaKindInfo>> = {
  PIPELINE_FRESHNESS: { subject: "PIPELINE", unit: "SECONDS", bound: "CEILING", windowed: false },
  PIPELINE_DEADLINE: { subject: "PIPELINE", unit: "SECONDS", bound: "CEILING", windowed: false },
  PIPELINE_MAX_DURATION: { subject: "PIPELINE", unit: "SECONDS", bound: "CEILING", windowed: false },
  PIPELINE_FAILURE_RATE: { subject: "PIPELINE", unit: "SHARE", bound: "CEILING", windowed: true },
  DATASET_FRESHNESS: { subject: "DATASET", unit: "SECONDS", bound: "CEILING", windowed: false },
  DATASET_MIN_ROWS: { subject: "DATASET", unit: "ROWS", bound: "FLOOR", windowed: false },
  DATASET_VALIDATION_PASS_RATE: { subject: "DATASET", unit: "SHARE", bound: "FLOOR", windowed: true },
  ENDPOINT_LATENCY_P50: { subject: "ENDPOINT", unit: "MILLISECONDS", bound: "CEILING", windowed: true },
  ENDPOINT_LATENCY_P99: { subject: "ENDPOINT", unit: "MILLISECONDS", bound: "CEILING", windowed: true },
  ENDPOINT_ERROR_RATE: { subject: "ENDPOINT", unit: "SHARE", bound: "CEILING", windowed: true },
  ENDPOINT_AVAILABILITY: { subject: "ENDPOINT", unit: "SHARE", bound: "FLOOR", windowed: true },
  ENDPOINT_LIVE_PERFORMANCE: { subject: "ENDPOINT", unit: "METRIC", bound: "FLOOR", windowed: true },
};

/**
 * The live metrics monitoring's windows store (src/monitoring/windows/performance.ts) that an
 * `ENDPOINT_LIVE_PERFORMANCE` SLA can watch, with the side that is good: higher for accuracy and
 * roc_auc, lower for the losses and errors.
 */
export const LIVE_METRICS: Readonly<Record<string, "HIGHER_IS_BETTER" | "LOWER_IS_BETTER">> = {
  accuracy: "HIGHER_IS_BETTER",
  roc_auc: "HIGHER_IS_BETTER",
  log_loss: "LOWER_IS_BETTER",
  rmse: "LOWER_IS_BETTER",
  mae: "LOWER_IS_BETTER",
};

export const SLA_SEVERITIES = ["INFO", "WARNING", "CRITICAL"] as const;
export type SlaSeverity = (typeof SLA_SEVERITIES)[number];

/** SLA names, like pipeline names. */
export const SLA_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Dataset, endpoint, pipeline and schedule names an SLA refers to. */
const SUBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Longest window or duration objective: one year. */
export const MAX_SECONDS = 366 * 24 * 3600;

/** Which side breaches for an SLA: its kind's bound, or for live performance its metric's direction. */
export function boundOf(kind: SlaKind, metric: string | null): Bound {
  if (kind === "ENDPOINT_LIVE_PERFORMANCE" && metric && LIVE_METRICS[metric] === "LOWER_IS_BETTER") return "CEILING";
  return SLA_KIND_INFO[kind].bound;
}

/** Whether `observed` breaks the objective (never for a value that could not be observed). */
export function breaches(kind: SlaKind, metric: string | null, observed: number | null, objective: number): boolean {
  if (observed === null || !Number.isFinite(observed)) return false;
  return boundOf(kind, metric) === "CEILING" ? observed > objective : observed < objective;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration in seconds: a number of seconds, or `"<number><s|m|h|d>"` (`"30m"`, `"1.5h"`).
 * Returns undefined for anything else (including zero, negatives and more than a year).
 */
export function parseDuration(value: unknown): number | undefined {
  let seconds: number | undefined;
  if (typeof value === "number") seconds = value;
  else if (typeof value === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/.exec(value);
    if (m) seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  }
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) return undefined;
  return seconds;
}

/** An SLA as stored: canonical units (seconds, shares, rows), every field named. */
export interface SlaDefinition {
  name: string;
  kind: SlaKind;
  description: string;
  /** The pipeline, dataset or endpoint name (by the kind's subject). */
  subjectName: string;
  objective: number;
  windowSeconds: number | null;
  schedule: string | null;
  metric: string | null;
  severity: SlaSeverity;
}

/** Where each part of a definition came from, for naming it in a problem. */
export interface DefinitionFields {
  name: string;
  kind: string;
  subjectName: string;
  objective: string;
  window: string;
  schedule: string;
  metric: string;
  severity: string;
}

/**
 * The problems of a definition whose values are already typed (durations already in seconds;
 * NaN stands for a value that was not a number or a duration). Every message says what the kind
 * expects.
 */
export function definitionProblems(def: SlaDefinition, fields: DefinitionFields): InputProblem[] {
  const problems: InputProblem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  if (!SLA_NAME.test(def.name)) add(fields.name, "must be 1 to 63 lowercase letters, digits, _ or -, starting with a letter or digit");
  const info = (SLA_KIND_INFO as Record<string, SlaKindInfo | undefined>)[def.kind];
  if (!info) {
    add(fields.kind, `must be one of ${SLA_KINDS.join(", ")}`);
    return problems;
  }
  if (!SUBJECT_NAME.test(def.subjectName))
    add(fields.subjectName, `must name the ${info.subject.toLowerCase()} the SLA is about: 1 to 128 letters, digits, '.', '_' or '-'`);
  const o = def.objective;
  switch (info.unit) {
    case "SECONDS":
      if (!(Number.isFinite(o) && o > 0 && o <= MAX_SECONDS))
        add(fields.objective, `must be a duration for ${def.kind}: seconds, or "30m", "6h", "7d" (more than 0, at most a year)`);
      break;
    case "MILLISECONDS":
      if (!(Number.isFinite(o) && o > 0)) add(fields.objective, `must be a latency in milliseconds (more than 0) for ${def.kind}`);
      break;
    case "SHARE":
      if (!(Number.isFinite(o) && o >= 0 && o <= 1)) add(fields.objective, `must be a share from 0 to 1 for ${def.kind}`);
      break;
    case "ROWS":
      if (!(Number.isInteger(o) && o >= 0)) add(fields.objective, `must be a whole number of rows (0 or more) for ${def.kind}`);
      break;
    case "METRIC":
      if (!Number.isFinite(o)) add(fields.objective, `must be the value of the metric ${def.kind} holds it to (a finite number)`);
      break;
  }
  if (info.windowed) {
    const w = def.windowSeconds;
    if (w === null) add(fields.window, `is required for ${def.kind}: how far back it looks (seconds, or "1h", "7d")`);
    else if (info.subject === "ENDPOINT" && def.kind !== "ENDPOINT_LIVE_PERFORMANCE" && Number.isFinite(w) && w < 60)
      add(fields.window, "must be at least 60 seconds: endpoint statistics are kept by the minute");
    else if (!(Number.isFinite(w) && w > 0 && w <= MAX_SECONDS))
      add(fields.window, 'must be a duration: seconds, or "1h", "7d" (at most a year)');
  } else if (def.windowSeconds !== null)
    add(fields.window, `does not apply to ${def.kind} (only to the rate, endpoint and live-performance kinds)`);
  if (def.schedule !== null) {
    if (def.kind !== "PIPELINE_DEADLINE") add(fields.schedule, "only applies to PIPELINE_DEADLINE");
    else if (!SUBJECT_NAME.test(def.schedule)) add(fields.schedule, "must be the name of a schedule of the pipeline");
  }
  if (def.kind === "ENDPOINT_LIVE_PERFORMANCE") {
    if (def.metric === null || !(def.metric in LIVE_METRICS))
      add(fields.metric, `must be one of the live metrics ${Object.keys(LIVE_METRICS).join(", ")} for ENDPOINT_LIVE_PERFORMANCE`);
  } else if (def.metric !== null) add(fields.metric, "only applies to ENDPOINT_LIVE_PERFORMANCE");
  if (!(SLA_SEVERITIES as readonly string[]).includes(def.severity)) add(fields.severity, `must be one of ${SLA_SEVERITIES.join(", ")}`);
  return problems;
}

/** An SLA of a spec as a definition (see `definitionProblems`): NaN where a value is unusable. */
export function slaDefinitionOf(sla: SlaSpec, pipelineName: string): SlaDefinition {
  const info = SLA_KIND_INFO[sla.kind];
  const subjectName = info?.subject === "DATASET" ? sla.dataset : info?.subject === "ENDPOINT" ? sla.endpoint : pipelineName;
  const objective =
    info?.unit === "SECONDS"
      ? (parseDuration(sla.objective) ?? Number.NaN)
      : typeof sla.objective === "number"
        ? sla.objective
        : Number.NaN;
  return {
    name: sla.name,
    kind: sla.kind,
    description: sla.description ?? "",
    subjectName: subjectName ?? "",
    objective,
    windowSeconds: sla.window === undefined ? null : (parseDuration(sla.window) ?? Number.NaN),
    schedule: sla.schedule ?? null,
    metric: sla.metric ?? null,
    severity: sla.severity ?? "WARNING",
  };
}
