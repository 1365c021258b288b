import type { EntityManager } from "typeorm";

/**
 * The model version a `Model` artifact is: the version recorded from that very artifact, else the
 * newest with the same bytes (a rerun's output, a file passed on by a gate). Scoped to the
 * artifact's project, and to one registered model when `registeredModelId` is given. Null when
 * the file is not registered.
 */
export async function modelVersionIdOfFile(manager: EntityManager, artifactId: string, registeredModelId?: string): Promise<string | null> {
  const [row]: Array<{ id: string }> = await manager.query(
    `SELECT v.id FROM model_versions v
       JOIN artifacts va ON va.id = v.artifact_id
       JOIN artifacts a ON a.id = $1
      WHERE v.project_id = a.project_id AND (v.artifact_id = a.id OR va.hash = a.hash)
        AND ($2::uuid IS NULL OR v.registered_model_id = $2::uuid)
      ORDER BY (v.artifact_id = a.id) DESC, v.created_at DESC, v.version DESC
      LIMIT 1`,
    [artifactId, registeredModelId ?? null],
  );
  return row?.id ?? null;
}
