/**
 * Pipeline inputs that name a deployment (`inputs: { model: { deployment: "delays-batch" } }`):
 * the model file of the version the endpoint serves when the stage starts, so a batch-scoring
 * stage scores with whatever a (BATCH) endpoint has been deployed with — pinned, following an
 * alias, rolled back — exactly as `/v2` would answer for a REALTIME one.
 */
import type { EntityManager } from "typeorm";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { RegisteredModelRow } from "../registry";
import { DeploymentRow } from "./deployment.entity";
import { servedVersionsWith } from "./deployment.service";

/** The artifact behind `name`'s primary version, or why there is none. */
export async function deploymentModelArtifact(
  manager: EntityManager,
  projectId: string,
  name: string,
): Promise<{ artifact: ArtifactRow; version: number } | { problem: string }> {
  const row = await manager.findOneBy(DeploymentRow, { projectId, name });
  if (!row) return { problem: `there is no deployment ${JSON.stringify(name)} in this project` };
  const model = await manager.findOneBy(RegisteredModelRow, { id: row.registeredModelId });
  const served = await servedVersionsWith(manager, row, model?.name ?? "?");
  if (!served.primary) return { problem: `deployment ${name} has nothing to serve: ${served.reason ?? "no approved version"}` };
  const artifact = await manager.findOneBy(ArtifactRow, { id: served.primary.artifactId });
  if (!artifact) return { problem: `the model file of deployment ${name} (version ${served.primary.version}) is gone` };
  return { artifact, version: served.primary.version };
}
