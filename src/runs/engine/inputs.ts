import { type EntityManager, In } from "typeorm";
import { ArtifactRow } from "../../artifacts/artifact.entity";
import { deploymentModelArtifact } from "../../deployments";
import type { RunPlan } from "./plan";

/**
 * The artifacts a stage of `runId` reads, by input name: outputs of its upstream stage runs
 * (following `reused_from` to whoever really produced them), artifacts named directly, and the
 * model files of deployments named (see deployments/deployment-input.ts).
 * An input with nothing behind it is absent from the result.
 */
export async function resolveInputArtifacts(
  manager: EntityManager,
  plan: RunPlan,
  runId: string,
  stageName: string,
): Promise<Record<string, ArtifactRow>> {
  const stage = plan.stages.get(stageName)!;
  const inputs = Object.entries(stage.spec.inputs ?? {});
  const result: Record<string, ArtifactRow> = {};
  if (inputs.length === 0) return result;
  const produced = new Map<string, ArtifactRow>();
  if (stage.upstream.length > 0) {
    const rows: Array<Record<string, unknown>> = await manager.query(
      `SELECT a.*, sr.stage_name AS upstream_stage
         FROM stage_runs sr
         JOIN artifacts a ON a.produced_by = COALESCE(sr.reused_from, sr.id)
        WHERE sr.run_id = $1 AND sr.stage_name = ANY($2)`,
      [runId, stage.upstream],
    );
    for (const r of rows) produced.set(`${String(r.upstream_stage)}.${String(r.output_name)}`, toArtifact(r));
  }
  const direct = inputs.flatMap(([, ref]) => ("artifact" in ref ? [ref.artifact] : []));
  const byId = new Map((direct.length ? await manager.findBy(ArtifactRow, { id: In(direct) }) : []).map((a) => [a.id, a]));
  for (const [name, ref] of inputs) {
    let artifact: ArtifactRow | undefined;
    if ("from" in ref) artifact = produced.get(ref.from);
    else if ("artifact" in ref) artifact = byId.get(ref.artifact);
    else {
      // Resolved now, when the stage starts: the run scores with what the endpoint serves at that moment.
      const [{ project_id: projectId }] = await manager.query(`SELECT project_id FROM runs WHERE id = $1`, [runId]);
      const found = await deploymentModelArtifact(manager, projectId, ref.deployment);
      if ("artifact" in found) artifact = found.artifact;
    }
    if (artifact) result[name] = artifact;
  }
  return result;
}

function toArtifact(r: Record<string, unknown>): ArtifactRow {
  return Object.assign(new ArtifactRow(), {
    id: r.id,
    projectId: r.project_id,
    kind: r.kind,
    uri: r.uri,
    hash: r.hash,
    size: String(r.size),
    isDirectory: r.is_directory,
    metadata: r.metadata,
    producedBy: r.produced_by,
    runId: r.run_id,
    outputName: r.output_name,
    createdAt: r.created_at,
  });
}
