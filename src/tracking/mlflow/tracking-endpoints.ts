import { NotFoundError } from "../../kernel/errors";
import { Permission } from "../../kernel/roles";
import type { TrackingExperimentRow } from "../experiment.entity";
import { maxResults } from "../page-token";
import { TRACKING_RUN_STATUSES, type TrackingRunRow, type TrackingRunStatus } from "../tracking-run.entity";
import type { ViewType } from "../tracking.service";
import { int64 } from "../validation";
import type { EndpointTable, MlflowCall } from "./api";
import { MlflowError } from "./errors";
import { compact, experimentJson, metricJson, runInfoJson, runJson } from "./json";

const VIEW_TYPES = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"];

function viewType(call: MlflowCall, name: string): ViewType {
  const v = call.str(name) ?? "ACTIVE_ONLY";
  if (!VIEW_TYPES.includes(v))
    throw new MlflowError(
      "INVALID_PARAMETER_VALUE",
      `Invalid value '${v}' for parameter '${name}': expected one of ${VIEW_TYPES.join(", ")}`,
    );
  return v as ViewType;
}

function status(v: string | undefined): TrackingRunStatus | undefined {
  if (v === undefined) return undefined;
  if (!TRACKING_RUN_STATUSES.includes(v as TrackingRunStatus)) {
    throw new MlflowError(
      "INVALID_PARAMETER_VALUE",
      `Invalid value '${v}' for parameter 'status': expected one of ${TRACKING_RUN_STATUSES.join(", ")}`,
    );
  }
  return v as TrackingRunStatus;
}

const runIdOf = (call: MlflowCall) => call.str("run_id") ?? call.str("run_uuid", true);

/** An experiment by id, readable by the caller; 404 in MLflow's words when missing. */
async function readableExperiment(call: MlflowCall, id: string, permission = Permission.READ): Promise<TrackingExperimentRow> {
  const tracking = call.deps.tracking;
  const projectId = id === "0" ? (await call.project()).id : undefined;
  const row = await tracking.experiment(projectId, id);
  call.ctx.authz.require(permission, row?.projectId ?? (await call.projectIdIfAny()));
  if (!row) throw new NotFoundError("Experiment", id);
  return row;
}

async function readableRun(call: MlflowCall, id: string): Promise<TrackingRunRow> {
  const row = await call.deps.tracking.run(id);
  call.ctx.authz.require(Permission.READ, row?.projectId ?? (await call.projectIdIfAny()));
  if (!row) throw new NotFoundError("Run", id);
  return row;
}

/** The run's project, for a write (authorization happens in the mutation). */
async function runProject(call: MlflowCall, id: string): Promise<string | undefined> {
  return (await call.deps.tracking.run(id))?.projectId ?? (await call.projectIdIfAny());
}

export function registerTrackingEndpoints(api: EndpointTable): void {
  // ---- experiments ----
  api.add("post", "experiments/create", async (call) => {
    const project = await call.projectForWrite();
    const row = await call.mutate("tracking.experiment.create", project.id, async (tx) => {
      const e = await call.deps.tracking.createExperiment(tx, project.id, {
        name: call.params.name,
        artifactLocation: call.str("artifact_location"),
        tags: call.keyValues("tags"),
      });
      return { value: e, targetId: e.id };
    });
    return { experiment_id: row.id };
  });

  api.add("get", "experiments/get", async (call) => {
    const e = await readableExperiment(call, call.str("experiment_id", true));
    return { experiment: experimentJson(e) };
  });

  api.add("get", "experiments/get-by-name", async (call) => {
    const name = call.str("experiment_name", true);
    const project = await call.projectForRead();
    if (!project) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    call.ctx.authz.require(Permission.READ, project.id);
    const e = await call.deps.tracking.experimentByName(project.id, name);
    if (!e) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", `Could not find experiment with name '${name}'`);
    return { experiment: experimentJson(e) };
  });

  api.add(["post", "get"], "experiments/search", async (call) => {
    const project = await call.projectForRead();
    if (!project) return { experiments: [] };
    call.ctx.authz.require(Permission.READ, project.id);
    const page = await call.deps.tracking.searchExperiments([project.id], {
      filter: call.str("filter"),
      orderBy: call.list("order_by"),
      maxResults: maxResults(call.params.max_results, 1000, 50_000),
      pageToken: call.str("page_token"),
      viewType: viewType(call, "view_type"),
    });
    return compact({ experiments: page.items.map(experimentJson), next_page_token: page.nextPageToken });
  });

  for (const [path, stage] of [
    ["experiments/delete", "deleted"],
    ["experiments/restore", "active"],
  ] as const) {
    api.add("post", path, async (call) => {
      const id = call.str("experiment_id", true);
      const e = await call.deps.tracking.experiment(undefined, id);
      await call.mutate(
        `tracking.experiment.${stage === "deleted" ? "delete" : "restore"}`,
        e?.projectId ?? (await call.projectIdIfAny()),
        async (tx) => {
          const row = await call.deps.tracking.setExperimentStage(tx, id, stage);
          return { value: row, targetId: row.id };
        },
      );
      return {};
    });
  }

  api.add("post", "experiments/update", async (call) => {
    const id = call.str("experiment_id", true);
    const e = await call.deps.tracking.experiment(undefined, id);
    await call.mutate("tracking.experiment.rename", e?.projectId ?? (await call.projectIdIfAny()), async (tx) => {
      const row = await call.deps.tracking.renameExperiment(tx, id, call.params.new_name ?? undefined);
      return { value: row, targetId: row.id };
    });
    return {};
  });

  api.add("post", "experiments/set-experiment-tag", async (call) => {
    const id = call.str("experiment_id", true);
    const e = await call.deps.tracking.experiment(undefined, id);
    await call.mutate("tracking.experiment.setTag", e?.projectId ?? (await call.projectIdIfAny()), async (tx) => {
      const row = await call.deps.tracking.setExperimentTag(tx, id, call.params.key, call.params.value);
      return { value: row, targetId: row.id };
    });
    return {};
  });

  // ---- runs ----
  api.add("post", "runs/create", async (call) => {
    // A real experiment id names its project; MLflow's "0" (or none) is the resolved project's Default.
    const experimentId = call.str("experiment_id") ?? "0";
    const experiment = experimentId === "0" ? null : await call.deps.tracking.experiment(undefined, experimentId);
    const project = experiment ? { id: experiment.projectId } : await call.projectForWrite();
    const startTime = call.params.start_time === undefined ? undefined : int64(call.params.start_time, "start_time");
    const run = await call.mutate("tracking.run.create", project.id, async (tx) => {
      const r = await call.deps.tracking.createRun(tx, project.id, {
        experimentId,
        runName: call.str("run_name"),
        tags: call.keyValues("tags"),
        user: call.str("user_id") ?? tx.caller.principalName,
        startTime,
      });
      return { value: r, targetId: r.id };
    });
    return { run: runJson(run) };
  });

  api.add("get", "runs/get", async (call) => ({ run: runJson(await readableRun(call, runIdOf(call))) }));

  api.add("post", "runs/update", async (call) => {
    const id = runIdOf(call);
    const endTime =
      call.params.end_time === undefined || call.params.end_time === null ? undefined : int64(call.params.end_time, "end_time");
    const run = await call.mutate("tracking.run.update", await runProject(call, id), async (tx) => {
      const r = await call.deps.tracking.updateRun(tx, id, {
        status: status(call.str("status")),
        endTime,
        runName: call.str("run_name"),
      });
      return { value: r, targetId: r.id };
    });
    return { run_info: runInfoJson(run) };
  });

  for (const [path, stage] of [
    ["runs/delete", "deleted"],
    ["runs/restore", "active"],
  ] as const) {
    api.add("post", path, async (call) => {
      const id = call.str("run_id", true);
      await call.mutate(`tracking.run.${stage === "deleted" ? "delete" : "restore"}`, await runProject(call, id), async (tx) => {
        const r = await call.deps.tracking.setRunStage(tx, id, stage);
        return { value: r, targetId: r.id };
      });
      return {};
    });
  }

  api.add("post", "runs/search", async (call) => {
    const project = await call.projectForRead();
    if (!project) return { runs: [] };
    call.ctx.authz.require(Permission.READ, project.id);
    const page = await call.deps.tracking.searchRuns(project.id, {
      experimentIds: call.list("experiment_ids"),
      filter: call.str("filter"),
      orderBy: call.list("order_by"),
      maxResults: maxResults(call.params.max_results, 1000, 50_000),
      pageToken: call.str("page_token"),
      viewType: viewType(call, "run_view_type"),
    });
    return compact({ runs: page.items.map(runJson), next_page_token: page.nextPageToken });
  });

  const logBatch = async (call: MlflowCall, action: string, input: Parameters<typeof call.deps.tracking.logBatch>[2]) => {
    const id = runIdOf(call);
    await call.mutate(action, await runProject(call, id), async (tx) => {
      const r = await call.deps.tracking.logBatch(tx, id, input);
      return { value: r, targetId: r.id };
    });
    return {};
  };

  api.add("post", "runs/log-metric", (call) =>
    logBatch(call, "tracking.run.logMetric", {
      metrics: [{ key: call.str("key", true), value: call.params.value, timestamp: call.params.timestamp, step: call.params.step }],
    }),
  );
  api.add("post", "runs/log-parameter", (call) =>
    logBatch(call, "tracking.run.logParam", { params: [{ key: call.str("key", true), value: call.str("value") ?? "" }] }),
  );
  api.add("post", "runs/set-tag", (call) =>
    logBatch(call, "tracking.run.setTag", { tags: [{ key: call.str("key", true), value: call.str("value") ?? "" }] }),
  );
  api.add("post", "runs/log-batch", (call) => {
    const metrics = call.params.metrics ?? [];
    if (!Array.isArray(metrics)) throw new MlflowError("INVALID_PARAMETER_VALUE", "Invalid value for parameter 'metrics': expected a list");
    return logBatch(call, "tracking.run.logBatch", {
      metrics: metrics.map((m) => m as { key: string; value: unknown; timestamp?: unknown; step?: unknown }),
      params: call.keyValues("params"),
      tags: call.keyValues("tags"),
    });
  });

  api.add("post", "runs/delete-tag", async (call) => {
    const id = call.str("run_id", true);
    const key = call.str("key", true);
    await call.mutate("tracking.run.deleteTag", await runProject(call, id), async (tx) => {
      const r = await call.deps.tracking.deleteTag(tx, id, key);
      return { value: r, targetId: r.id };
    });
    return {};
  });

  api.add("get", "metrics/get-history", async (call) => {
    const run = await readableRun(call, runIdOf(call));
    const key = call.str("metric_key", true);
    const page = await call.deps.tracking.metricHistory(run.id, key, {
      maxResults: maxResults(call.params.max_results, 25_000, 25_000),
      pageToken: call.str("page_token"),
    });
    return compact({ metrics: page.items.map(metricJson), next_page_token: page.nextPageToken });
  });
}
