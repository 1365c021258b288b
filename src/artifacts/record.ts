import type { EntityManager } from "typeorm";
import { ArtifactRow } from "./artifact.entity";
import type { ArtifactKind } from "./kind";
import type { StoredObject } from "./store";

/**
 * The artifact row for a stored object: the existing one when `existingId` is given — a stage's
 * output, already recorded by the run engine — else a new row. Dataset versions, feature
 * materializations and training sets made by a mutation or by a pipeline stage thus all point
 * at exactly one artifact.
 */
export async function artifactFor(
  manager: EntityManager,
  existingId: string | undefined,
  fields: { projectId: string; kind: ArtifactKind; stored: StoredObject; metadata: Record<string, unknown>; producedBy?: string | null },
): Promise<ArtifactRow> {
  if (existingId) return manager.findOneByOrFail(ArtifactRow, { id: existingId });
  return manager.save(
    manager.create(ArtifactRow, {
      projectId: fields.projectId,
      kind: fields.kind,
      uri: fields.stored.uri,
      hash: fields.stored.hash,
      size: String(fields.stored.size),
      isDirectory: fields.stored.isDirectory,
      metadata: fields.metadata,
      producedBy: fields.producedBy ?? null,
    }),
  );
}
