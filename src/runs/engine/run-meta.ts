import type { EntityManager } from "typeorm";
import { RunRow } from "../run.entity";

/** What never changes about a run once it exists: enough to address its events and its plan. */
export interface RunRef {
  id: string;
  projectId: string;
  pipelineId: string;
  pipelineVersionId: string;
  number: number;
}

const MAX_CACHED = 2000;
const cache = new Map<string, RunRef>();

/**
 * The immutable fields of a run, read from the database on the first call in this process only:
 * the engine needs them for every stage it claims, runs and completes.
 */
export async function runRef(manager: EntityManager, runId: string): Promise<RunRef> {
  const hit = cache.get(runId);
  if (hit) return hit;
  const row = await manager.findOneByOrFail(RunRow, { id: runId });
  return remember(row);
}

/** Caches the immutable fields of a row already loaded. */
export function remember(row: RunRef): RunRef {
  const ref: RunRef = {
    id: row.id,
    projectId: row.projectId,
    pipelineId: row.pipelineId,
    pipelineVersionId: row.pipelineVersionId,
    number: row.number,
  };
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(ref.id, ref);
  return ref;
}
