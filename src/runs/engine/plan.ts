import { type RunKind, runKindOf } from "../../../runners/contract";
import type { EntityManager } from "typeorm";
import { PipelineVersionRow, type PipelineSpec, type StageSpec, buildDag } from "../../pipelines";

/**
 * The operator of approval gates. A gate runs on no runner: when it is ready it goes straight to
 * WAITING, and governance ends it when the model version's approval request is decided.
 */
export const GATE_OPERATOR = "gate";

/** Whether a stage is an approval gate (see `GATE_OPERATOR`). */
export function isGateStage(spec: StageSpec): boolean {
  return "operator" in spec.run && spec.run.operator === GATE_OPERATOR;
}

/** What the engine needs to know about one stage of a version, precomputed. */
export interface StagePlan {
  spec: StageSpec;
  kind: RunKind;
  upstream: readonly string[];
  downstream: readonly string[];
  /** Every stage below this one, for skipping after a failure. */
  descendants: readonly string[];
}

/** A pipeline version compiled for execution. Immutable, like the version it comes from. */
export interface RunPlan {
  versionId: string;
  spec: PipelineSpec;
  baseDir: string;
  /** Stage names in topological order. */
  order: readonly string[];
  stages: ReadonlyMap<string, StagePlan>;
}

const MAX_CACHED_PLANS = 200;
const cache = new Map<string, RunPlan>();

/**
 * The plan of `version`, built once per process and kept (versions never change), so the
 * engine's hot path does no graph work per stage.
 */
export function planFor(version: PipelineVersionRow): RunPlan {
  const hit = cache.get(version.id);
  if (hit) return hit;
  const spec = version.spec as unknown as PipelineSpec;
  const dag = buildDag(spec);
  const stages = new Map<string, StagePlan>();
  for (const stage of spec.stages) {
    stages.set(stage.name, {
      spec: stage,
      kind: runKindOf(stage.run),
      upstream: dag.upstreamOf(stage.name),
      downstream: dag.downstreamOf(stage.name),
      descendants: dag.descendantsOf(stage.name),
    });
  }
  const plan: RunPlan = { versionId: version.id, spec, baseDir: version.baseDir, order: dag.order, stages };
  if (cache.size >= MAX_CACHED_PLANS) cache.delete(cache.keys().next().value as string);
  cache.set(version.id, plan);
  return plan;
}

/**
 * The plan of the version with id `versionId`, loading the version only on the first call in
 * this process (a large pipeline's spec is big, and the engine asks for it per stage).
 */
export async function planForVersion(manager: EntityManager, versionId: string): Promise<RunPlan> {
  const hit = cache.get(versionId);
  if (hit) return hit;
  return planFor(await manager.findOneByOrFail(PipelineVersionRow, { id: versionId }));
}
