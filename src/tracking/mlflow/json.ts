import type { TrackingExperimentRow } from "../experiment.entity";
import type { TrackingMetricRow } from "../metric.entity";
import type { TrackingRunRow } from "../tracking-run.entity";

/**
 * Sluice rows as MLflow's JSON (protobuf JSON with the proto's snake_case names, as MLflow's
 * server writes it): int64 fields as numbers, unset fields and empty lists left out, doubles
 * that are not finite as "NaN" / "Infinity" / "-Infinity".
 */
type Json = Record<string, unknown>;

export const keyValues = (o: Record<string, string>) =>
  Object.keys(o)
    .sort()
    .map((key) => ({ key, value: o[key]! }));

/** Leaves out undefined and null fields and empty lists, as protobuf JSON does. */
export function compact<T extends Json>(o: T): T {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out as T;
}

export function doubleJson(v: number | string): number | string {
  if (typeof v === "string") return v;
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return v;
}

export function experimentJson(e: TrackingExperimentRow): Json {
  return compact({
    experiment_id: e.id,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycleStage,
    last_update_time: e.updatedAt.getTime(),
    creation_time: e.createdAt.getTime(),
    tags: keyValues(e.tags),
  });
}

export function runInfoJson(r: TrackingRunRow): Json {
  return compact({
    run_id: r.id,
    run_uuid: r.id,
    run_name: r.name,
    experiment_id: r.experimentId,
    user_id: r.userName,
    status: r.status,
    start_time: r.startTime,
    end_time: r.endTime ?? undefined,
    artifact_uri: r.artifactUri,
    lifecycle_stage: r.lifecycleStage,
  });
}

export function runJson(r: TrackingRunRow): Json {
  const metrics = Object.keys(r.latestMetrics)
    .sort()
    .map((key) => {
      const m = r.latestMetrics[key]!;
      return { key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step };
    });
  return {
    info: runInfoJson(r),
    data: compact({ metrics, params: keyValues(r.params), tags: keyValues(r.tags) }),
    inputs: {},
  };
}

export function metricJson(m: TrackingMetricRow): Json {
  return { key: m.key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step };
}
