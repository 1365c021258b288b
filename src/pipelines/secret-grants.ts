/**
 * That every secret a pipeline's stages name exists in the project, checked when the pipeline
 * is applied and again when a run is triggered (a secret may be deleted in between). Reads
 * names only, never a value.
 */
import { type EntityManager, In } from "typeorm";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { SecretRow } from "../secrets";
import type { PipelineSpec } from "./spec";

/** The stages' secret grants, each with the field it is written at. */
function grantsOf(spec: PipelineSpec, field: (stageIndex: number, stageName: string, variable: string) => string) {
  return spec.stages.flatMap((stage, i) =>
    Object.entries(stage.secrets ?? {}).map(([variable, secret]) => ({
      field: field(i, stage.name, variable),
      stage: stage.name,
      variable,
      secret,
    })),
  );
}

/**
 * Refuses a spec that names a secret the project does not have.
 *
 * @param field where a grant is written in the caller's terms: `stages[0].secrets.API_KEY` at
 *   apply, `stages.train.secrets.API_KEY` at trigger.
 * @throws InvalidInputError naming the stage, the variable and the missing secret.
 */
export async function checkSecretGrants(
  manager: EntityManager,
  projectId: string,
  spec: PipelineSpec,
  field: (stageIndex: number, stageName: string, variable: string) => string,
): Promise<void> {
  const grants = grantsOf(spec, field);
  if (grants.length === 0) return;
  const wanted = [...new Set(grants.map((g) => g.secret))];
  const rows = await manager.find(SecretRow, { select: { name: true }, where: { projectId, name: In(wanted) } });
  const present = new Set(rows.map((r) => r.name));
  const problems: InputProblem[] = grants
    .filter((g) => !present.has(g.secret))
    .map((g) => ({
      field: g.field,
      message: `stage ${g.stage} gives ${g.variable} the secret ${g.secret}, which this project does not have; set it (setSecret) or name another`,
    }));
  if (problems.length > 0) throw new InvalidInputError(problems);
}

/** The field of a grant in a spec being applied. */
export const specGrantField = (i: number, _stage: string, variable: string): string => `stages[${i}].secrets.${variable}`;
/** The field of a grant when a run is triggered (as trigger names a stage's other problems). */
export const runGrantField = (_i: number, stage: string, variable: string): string => `stages.${stage}.secrets.${variable}`;
