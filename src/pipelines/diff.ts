import { canonicalJson } from "./canonical";
import { joinFieldPath } from "./field-path";
import type { PipelineSpec, StageSpec } from "./spec";
import { normalizeLeniently, validatePipelineSpec } from "./validate";

/**
 * What changed between two pipeline specs, as data an API can return and a CLI can print
 * ({@link formatSpecDiff}). Pure.
 */

/** One field that differs. `before` is absent when the field was added, `after` when it was removed. */
export interface FieldChange {
  /** Within the pipeline (`maxParallel`) or within a stage (`retries.max`, `inputs.train.from`, `params.lr`). */
  path: string;
  change: "added" | "removed" | "changed";
  before?: unknown;
  after?: unknown;
}

/** A stage present in both specs whose fields differ. */
export interface StageChange {
  name: string;
  changes: FieldChange[];
}

export interface SpecDiff {
  /** Whether the normalized specs are equal (then so are their `specHash`es). */
  equal: boolean;
  /**
   * Pipeline fields (`name`, `description`, `maxParallel`, `maxConcurrentRuns`), and `stageOrder`
   * (before and after: the stage names) when the stages both specs have are in another order.
   */
  pipeline: FieldChange[];
  /** Stages only the second spec has, in its order. */
  stagesAdded: string[];
  /** Stages only the first spec has, in its order. */
  stagesRemoved: string[];
  /** Stages both have that differ, in the second spec's order. */
  stagesChanged: StageChange[];
}

/**
 * The structural difference from `before` to `after`. Both are normalized first, so omitted
 * defaults and key order never show as changes. Objects are compared key by key down to the
 * leaves; arrays (a command line, runner labels, enum lists) are compared whole, as one value.
 * A spec that no longer validates (stored before a rule was tightened) is normalized as far as
 * its shape allows.
 *
 * @throws InvalidInputError when a spec is too malformed to compare (no stages list, a stage without run).
 */
export function diffSpecs(before: PipelineSpec, after: PipelineSpec): SpecDiff {
  const a = normalized(before);
  const b = normalized(after);
  const pipeline: FieldChange[] = [];
  for (const key of ["name", "description", "maxParallel", "maxConcurrentRuns"] as const) {
    diffValue(a[key], b[key], key, pipeline);
  }

  const stagesA = new Map(a.stages.map((s) => [s.name, s]));
  const stagesB = new Map(b.stages.map((s) => [s.name, s]));
  const stagesAdded = b.stages.filter((s) => !stagesA.has(s.name)).map((s) => s.name);
  const stagesRemoved = a.stages.filter((s) => !stagesB.has(s.name)).map((s) => s.name);
  const stagesChanged: StageChange[] = [];
  for (const stage of b.stages) {
    const old = stagesA.get(stage.name);
    if (!old) continue;
    const changes: FieldChange[] = [];
    diffValue(old as StageSpec, stage, "", changes);
    if (changes.length > 0) stagesChanged.push({ name: stage.name, changes });
  }

  const commonA = a.stages.map((s) => s.name).filter((n) => stagesB.has(n));
  const commonB = b.stages.map((s) => s.name).filter((n) => stagesA.has(n));
  if (commonA.some((name, i) => name !== commonB[i])) {
    pipeline.push({ path: "stageOrder", change: "changed", before: a.stages.map((s) => s.name), after: b.stages.map((s) => s.name) });
  }

  const equal = pipeline.length + stagesAdded.length + stagesRemoved.length + stagesChanged.length === 0;
  return { equal, pipeline, stagesAdded, stagesRemoved, stagesChanged };
}

function normalized(spec: PipelineSpec): PipelineSpec {
  const out = normalizeLeniently(spec);
  if (!out) validatePipelineSpec(spec); // throws InvalidInputError with the problems
  return out!;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function diffValue(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (before === undefined && after === undefined) return;
  if (before === undefined) {
    out.push({ path, change: "added", after });
    return;
  }
  if (after === undefined) {
    out.push({ path, change: "removed", before });
    return;
  }
  if (isObject(before) && isObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) diffValue(before[key], after[key], joinFieldPath(path, [key]), out);
    return;
  }
  if (canonicalJson(before) !== canonicalJson(after)) out.push({ path, change: "changed", before, after });
}

/**
 * The diff as lines for a terminal:
 *
 * ```
 * ~ maxParallel: 4 -> 8
 * + stage evaluate
 * - stage report
 * ~ stage train
 *     ~ retries.max: 0 -> 3
 *     + params.dropout: 0.1
 * ```
 *
 * An equal diff is the single line `no changes`.
 */
export function formatSpecDiff(diff: SpecDiff): string[] {
  if (diff.equal) return ["no changes"];
  const value = (v: unknown) => canonicalJson(v);
  const line = (c: FieldChange) =>
    c.change === "added"
      ? `+ ${c.path}: ${value(c.after)}`
      : c.change === "removed"
        ? `- ${c.path}: ${value(c.before)}`
        : `~ ${c.path}: ${value(c.before)} -> ${value(c.after)}`;
  return [
    ...diff.pipeline.map(line),
    ...diff.stagesAdded.map((name) => `+ stage ${name}`),
    ...diff.stagesRemoved.map((name) => `- stage ${name}`),
    ...diff.stagesChanged.flatMap((s) => [`~ stage ${s.name}`, ...s.changes.map((c) => `    ${line(c)}`)]),
  ];
}
