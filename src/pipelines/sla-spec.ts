import type { InputProblem } from "../kernel/errors";
import { definitionProblems, SLA_KIND_INFO, SLA_KINDS, SLA_SEVERITIES, slaDefinitionOf } from "./sla-objectives";
import type { PathSegment } from "./field-path";
import type { NormalizedSlaSpec, SlaKind, SlaSpec } from "./spec";

/**
 * The `slas` of a pipeline spec: their shape (a JSON Schema fragment of the spec's), the rules
 * every SLA follows (src/slas/objectives.ts, shared with the API) and their normalized form.
 * Pure: no I/O.
 */

/** The shape of `slas`; the kinds' own rules are checked in code after it. */
export const SLA_SPEC_SCHEMA = {
  type: "array",
  items: {
    title: "an SLA",
    type: "object",
    required: ["name", "kind", "objective"],
    additionalProperties: false,
    properties: {
      name: { type: "string" },
      kind: { enum: SLA_KINDS },
      description: { type: "string" },
      dataset: { type: "string" },
      endpoint: { type: "string" },
      // A number, or a duration string: checked per kind in code, with a message saying which.
      objective: {},
      window: {},
      schedule: { type: "string" },
      metric: { type: "string" },
      severity: { enum: SLA_SEVERITIES },
    },
  },
};

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The problems of `spec.slas` past its shape: each kind's rules, subjects, units, unique names. */
export function slaSpecProblems(spec: Obj, format: (segments: PathSegment[]) => string): InputProblem[] {
  if (!Array.isArray(spec.slas)) return [];
  const problems: InputProblem[] = [];
  const pipelineName = typeof spec.name === "string" ? spec.name : "";
  const seen = new Map<string, number>();
  spec.slas.forEach((raw, i) => {
    if (!isObject(raw) || typeof raw.kind !== "string" || !(raw.kind in SLA_KIND_INFO)) return;
    const at = (field: string) => format(["slas", i, field]);
    const sla = raw as unknown as SlaSpec;
    const subject = SLA_KIND_INFO[sla.kind].subject;
    if (typeof sla.name === "string") {
      const first = seen.get(sla.name);
      if (first !== undefined) problems.push({ field: at("name"), message: `duplicates the name of slas[${first}]; SLA names are unique` });
      else seen.set(sla.name, i);
    }
    for (const key of ["dataset", "endpoint"] as const) {
      if (sla[key] !== undefined && subject !== key.toUpperCase())
        problems.push({ field: at(key), message: `does not apply to ${sla.kind}, which is about ${aboutWhat(sla.kind)}` });
    }
    if (subject !== "PIPELINE" && (subject === "DATASET" ? sla.dataset : sla.endpoint) === undefined) {
      const key = subject === "DATASET" ? "dataset" : "endpoint";
      problems.push({ field: at(key), message: `is required for ${sla.kind}: the name of the ${key} it is about` });
      return;
    }
    // The pipeline's own name is checked as the pipeline's name, not again for each of its SLAs.
    const def = slaDefinitionOf(sla, pipelineName || "pipeline");
    problems.push(
      ...definitionProblems(def, {
        name: at("name"),
        kind: at("kind"),
        subjectName: subject === "DATASET" ? at("dataset") : subject === "ENDPOINT" ? at("endpoint") : "name",
        objective: at("objective"),
        window: at("window"),
        schedule: at("schedule"),
        metric: at("metric"),
        severity: at("severity"),
      }),
    );
  });
  return problems;
}

function aboutWhat(kind: SlaKind): string {
  const subject = SLA_KIND_INFO[kind].subject;
  return subject === "PIPELINE" ? "the pipeline that declares it" : subject === "DATASET" ? "a dataset" : "an endpoint";
}

/** The normalized `slas` (durations in seconds, severity filled in), or undefined when the spec has none. */
export function normalizeSlaSpecs(slas: SlaSpec[] | undefined): NormalizedSlaSpec[] | undefined {
  if (!slas || slas.length === 0) return undefined;
  return slas.map((sla) => {
    const def = slaDefinitionOf(sla, "");
    const out: NormalizedSlaSpec = { name: sla.name, kind: sla.kind, objective: def.objective, severity: def.severity };
    if (sla.description !== undefined) out.description = sla.description;
    if (sla.dataset !== undefined) out.dataset = sla.dataset;
    if (sla.endpoint !== undefined) out.endpoint = sla.endpoint;
    if (def.windowSeconds !== null) out.window = def.windowSeconds;
    if (sla.schedule !== undefined) out.schedule = sla.schedule;
    if (sla.metric !== undefined) out.metric = sla.metric;
    return out;
  });
}
