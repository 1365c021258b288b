import type { EntityManager } from "typeorm";
import { type InputProblem, InvalidInputError, NotFoundError } from "../kernel/errors";
import { PipelineVersionRow, type PipelineRow, type PipelineSpec, resolveStageParams } from "../pipelines";

/** What a schedule or event rule runs: its pipeline's latest version, read in `manager`'s transaction. */
export async function latestVersionOf(manager: EntityManager, pipeline: PipelineRow): Promise<PipelineVersionRow> {
  const version = pipeline.latestVersionId ? await manager.findOneBy(PipelineVersionRow, { id: pipeline.latestVersionId }) : null;
  if (!version) throw new NotFoundError("PipelineVersion", `${pipeline.name} latest`);
  return version;
}

/**
 * Checks run parameters by stage against `version`: every stage named must exist, and each
 * stage's parameters (its spec's with these laid over) must satisfy its schema. With
 * `skipStage`, the stages it picks are only checked for existence (event-rule stages whose
 * values come from the event).
 *
 * @throws InvalidInputError naming `params.<stage>` or `params.<stage>.<path>` for each problem.
 */
export function checkStageParams(
  version: PipelineVersionRow,
  params: Record<string, unknown>,
  skipStage: (stage: string) => boolean = () => false,
): void {
  const spec = version.spec as unknown as PipelineSpec;
  const names = new Set(spec.stages.map((s) => s.name));
  const problems: InputProblem[] = Object.keys(params)
    .filter((name) => !names.has(name))
    .map((name) => ({ field: `params.${name}`, message: `pipeline "${spec.name}" has no stage ${JSON.stringify(name)}` }));
  for (const name of names) {
    if (skipStage(name)) continue;
    try {
      resolveStageParams(spec, name, (params[name] ?? {}) as Record<string, unknown>);
    } catch (err) {
      if (err instanceof InvalidInputError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new InvalidInputError(problems);
}

/** The top level of a parameter object must be stage names mapped to objects. */
export function checkParamsShape(params: unknown): Record<string, Record<string, unknown>> {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new InvalidInputError([{ field: "params", message: "must be an object of parameters by stage name" }]);
  }
  const problems: InputProblem[] = [];
  for (const [stage, value] of Object.entries(params)) {
    if (value === null || typeof value !== "object" || Array.isArray(value))
      problems.push({ field: `params.${stage}`, message: "must be an object of parameter values" });
  }
  if (problems.length) throw new InvalidInputError(problems);
  return params as Record<string, Record<string, unknown>>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a row id at all; other strings name nothing (rather than fail the query). */
export function isRowId(id: string): boolean {
  return UUID.test(id);
}
