/**
 * Inference usage read from serving's per-minute endpoint statistics (`endpoint_stats`): requests,
 * rows and the CPU time of the model runs, per project, served name (endpoint), model version and
 * UTC day. Shadow copies of requests count too: they used the CPU all the same.
 *
 * The CPU figure is serving's: the process's CPU time over each batched model run, shared among
 * the batch's requests by rows (src/serving/endpoint-stats).
 */
import type { EntityManager } from "typeorm";
import { NO_MODEL_VERSION } from "../serving";
import { type UsageItem, ZERO_USAGE } from "./pricing";

/** The inference usage of `projects` over [`from`, `to`), at most `limit` + 1 items; with `modelVersionId`, that version's only. */
export async function readInferenceUsage(
  manager: EntityManager,
  projects: "all" | readonly string[],
  from: Date,
  to: Date,
  limit: number,
  modelVersionId?: string,
): Promise<UsageItem[]> {
  const params: unknown[] = [from, to];
  let where = "";
  if (projects !== "all") {
    params.push([...projects]);
    where += ` AND project_id = ANY($${params.length})`;
  }
  if (modelVersionId) {
    params.push(modelVersionId);
    where += ` AND model_version_id = $${params.length}`;
  }
  const rows: Array<{
    project_id: string;
    served_name: string;
    model_version_id: string;
    day: string;
    requests: number;
    rows: number;
    cpu: number;
  }> = await manager.query(
    `SELECT project_id, served_name, model_version_id, to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
              sum(requests)::float8 AS requests, sum(rows)::float8 AS rows, (sum(cpu_ms) / 1000)::float8 AS cpu
         FROM endpoint_stats
        WHERE minute >= $1 AND minute < $2${where}
        GROUP BY 1, 2, 3, 4
        LIMIT ${limit + 1}`,
    params,
  );
  return rows.map((r) => ({
    keys: {
      projectId: r.project_id,
      pipelineId: null,
      stageName: null,
      endpoint: r.served_name,
      modelVersionId: r.model_version_id === NO_MODEL_VERSION ? null : r.model_version_id,
      day: r.day,
    },
    usage: { ...ZERO_USAGE, requests: Number(r.requests), rows: Number(r.rows), inferenceCpuSeconds: Number(r.cpu) },
  }));
}
