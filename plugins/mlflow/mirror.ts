import fs from "node:fs/promises";
import type { Logger } from "pino";
import type { Database } from "../../src/db/data-source";
import type { EventBus } from "../../src/events/event-bus";
import type { RegistryService } from "../../src/registry/registry.service";
import type { MlflowSettings } from "../../src/tracking/mlflow/settings";
import { MlflowClient, MlflowHttpError } from "./client";

type MirrorSettings = NonNullable<MlflowSettings["mirror"]>;

/** The Sluice events the mirror acts on. */
export const MIRRORED_EVENTS = ["run.started", "run.succeeded", "run.failed", "run.canceled", "model.version.created"] as const;

const FINAL_STATUS: Record<string, string> = { SUCCEEDED: "FINISHED", FAILED: "FAILED", CANCELED: "KILLED" };
const MAX_PARAMS = 100;
const MAX_METRICS = 1000;

interface Job {
  kind: "run" | "version";
  id: string;
  attempt: number;
}

/**
 * The MLflow mirror: copies Sluice pipeline runs and model versions to an external MLflow
 * tracking server over MLflow's REST API, from the event stream, after the Sluice change has
 * committed — so it never blocks or fails a Sluice operation. Jobs run one at a time; a failed
 * one is retried with doubling waits up to `retries` attempts, then logged as not mirrored.
 * Every write is idempotent (runs are found again by their `sluice.run_id` tag, versions by
 * their `sluice.origin_version_id` tag, params are immutable), so a retry never duplicates.
 */
/** What the mirror uses of the server; `config.mlflow.mirror` says where to (undefined: no mirror). */
export interface MirrorDeps {
  db: Database;
  events: EventBus;
  registry: RegistryService;
  config: { mlflow: MlflowSettings };
}

export class MlflowMirror {
  private readonly client: MlflowClient;
  private readonly queue: Job[] = [];
  private readonly abort = new AbortController();
  private readonly subscription: AsyncIterableIterator<{ type: string; subjectId: string | null; payload: Record<string, unknown> }>;
  private working: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private closed = false;
  /** Jobs done and given up, for tests and operators. */
  readonly stats = { mirrored: 0, failed: 0 };

  constructor(
    private readonly services: MirrorDeps,
    private readonly settings: MirrorSettings,
    private readonly log: Logger,
  ) {
    this.client = new MlflowClient({ uri: settings.uri, token: settings.token, signal: this.abort.signal });
    this.subscription = services.events.subscribe({ types: [...MIRRORED_EVENTS] });
    void this.listen();
    this.working = this.work();
  }

  private async listen(): Promise<void> {
    try {
      for await (const e of this.subscription) {
        if (e.type === "model.version.created") this.enqueue({ kind: "version", id: String(e.payload.versionId), attempt: 1 });
        else if (e.subjectId) this.enqueue({ kind: "run", id: e.subjectId, attempt: 1 });
      }
    } catch (err) {
      if (!this.closed) this.log.error({ err }, "mlflow mirror: the event subscription ended; nothing more is mirrored");
    }
  }

  private enqueue(job: Job): void {
    if (this.closed) return;
    this.queue.push(job);
    this.wake?.();
  }

  private async work(): Promise<void> {
    while (!this.closed) {
      const job = this.queue.shift();
      if (!job) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      try {
        if (job.kind === "run") await this.mirrorRun(job.id);
        else await this.mirrorVersion(job.id);
        this.stats.mirrored++;
      } catch (err) {
        if (this.closed) return;
        const retryable = !(err instanceof MlflowHttpError) || err.retryable;
        if (retryable && job.attempt < this.settings.retries) {
          const waitMs = this.settings.retryMs * 2 ** (job.attempt - 1);
          this.log.warn({ err: String(err), job, waitMs }, "mlflow mirror: attempt failed; retrying");
          const timer = setTimeout(() => this.enqueue({ ...job, attempt: job.attempt + 1 }), waitMs);
          timer.unref();
        } else {
          this.stats.failed++;
          this.log.error(
            { err: String(err), job, target: this.settings.uri },
            `mlflow mirror: gave up on ${job.kind} ${job.id} after ${job.attempt} attempt(s); it is not mirrored`,
          );
        }
      }
    }
  }

  /** A pipeline run as an MLflow run: effective params, each stage's latest metrics, status and times, Sluice ids as tags. */
  private async mirrorRun(runId: string): Promise<string> {
    const db = this.services.db.dataSource;
    const [run] = await db.query(
      `SELECT r.id, r.project_id, r.pipeline_id, r.pipeline_version_id, r.number, r.status, r.params, r.created_at, r.started_at, r.finished_at,
              pv.spec, p.name AS pipeline_name, pr.name AS project_name
         FROM runs r JOIN pipeline_versions pv ON pv.id = r.pipeline_version_id JOIN pipelines p ON p.id = r.pipeline_id
         JOIN projects pr ON pr.id = r.project_id WHERE r.id = $1`,
      [runId],
    );
    if (!run) throw new MlflowHttpError(404, "SLUICE_RUN_GONE", `Sluice run ${runId} no longer exists`);
    const experimentId = await this.client.ensureExperiment(this.settings.experiment);
    const found = await this.client.findRunByTag(experimentId, "sluice.run_id", run.id);
    const mlRun =
      found ??
      (
        await this.client.call("POST", "runs/create", {
          experiment_id: experimentId,
          run_name: `${run.pipeline_name}#${run.number}`,
          start_time: new Date(run.started_at ?? run.created_at).getTime(),
          tags: [
            { key: "sluice.run_id", value: run.id },
            { key: "sluice.project", value: run.project_name },
            { key: "sluice.pipeline_id", value: run.pipeline_id },
            { key: "sluice.pipeline_version_id", value: run.pipeline_version_id },
            { key: "mlflow.source.name", value: `sluice:${run.pipeline_name}` },
          ],
        })
      ).run;
    const mlRunId: string = mlRun.info.run_id;
    const final = FINAL_STATUS[run.status];
    if (!final) return mlRunId; // still running: created now, completed by its final event
    // Effective params: the version's stage params under the run's overrides, as `<stage>.<param>`.
    const params: Array<{ key: string; value: string }> = [];
    for (const stage of (run.spec?.stages ?? []) as Array<{ name: string; params?: Record<string, unknown> }>) {
      const merged = { ...(stage.params ?? {}), ...((run.params ?? {})[stage.name] ?? {}) };
      for (const [k, v] of Object.entries(merged))
        params.push({ key: `${stage.name}.${k}`, value: typeof v === "string" ? v : JSON.stringify(v) });
    }
    const metricRows: Array<{ stage_name: string | null; key: string; value: number; step: string; at: Date }> = await db.query(
      `SELECT DISTINCT ON (m.stage_run_id, m.key) s.stage_name, m.key, m.value, m.step, m.at
         FROM run_metrics m LEFT JOIN stage_runs s ON s.id = m.stage_run_id
        WHERE m.run_id = $1 ORDER BY m.stage_run_id, m.key, m.step DESC, m.id DESC`,
      [run.id],
    );
    const metrics = metricRows
      .filter((m) => Number.isFinite(Number(m.value)))
      .map((m) => ({
        key: m.stage_name ? `${m.stage_name}.${m.key}` : m.key,
        value: Number(m.value),
        timestamp: new Date(m.at).getTime(),
        step: Number(m.step),
      }));
    for (let i = 0; i < Math.max(params.length, metrics.length, 1); i += MAX_PARAMS) {
      await this.client.call("POST", "runs/log-batch", {
        run_id: mlRunId,
        params: params.slice(i, i + MAX_PARAMS),
        metrics: i === 0 ? metrics.slice(0, MAX_METRICS) : [],
        tags: i === 0 ? [{ key: "sluice.status", value: run.status }] : [],
      });
    }
    for (let i = MAX_METRICS; i < metrics.length; i += MAX_METRICS) {
      await this.client.call("POST", "runs/log-batch", { run_id: mlRunId, metrics: metrics.slice(i, i + MAX_METRICS) });
    }
    await this.client.call("POST", "runs/update", {
      run_id: mlRunId,
      status: final,
      end_time: new Date(run.finished_at ?? Date.now()).getTime(),
    });
    return mlRunId;
  }

  /**
   * A model version as an MLflow registered model + version: the ONNX file uploaded to a run
   * (the mirrored training run, or a run made for the upload) and registered from `runs:/`.
   */
  private async mirrorVersion(versionId: string): Promise<void> {
    const registry = this.services.registry;
    const v = await registry.version(versionId);
    if (!v) throw new MlflowHttpError(404, "SLUICE_VERSION_GONE", `Sluice model version ${versionId} no longer exists`);
    const model = (await registry.model(v.registeredModelId))!;
    try {
      await this.client.call("GET", "registered-models/get", { name: model.name });
    } catch (err) {
      if (!(err instanceof MlflowHttpError) || err.errorCode !== "RESOURCE_DOES_NOT_EXIST") throw err;
      try {
        await this.client.call("POST", "registered-models/create", {
          name: model.name,
          description: model.description || undefined,
          tags: [{ key: "sluice.registered_model_id", value: model.id }],
        });
      } catch (e) {
        if (!(e instanceof MlflowHttpError) || e.errorCode !== "RESOURCE_ALREADY_EXISTS") throw e;
      }
    }
    const existing = await this.client.call("GET", "model-versions/search", { filter: `name='${model.name.replace(/'/g, "\\'")}'` });
    if (
      (existing.model_versions ?? []).some((mv: any) =>
        (mv.tags ?? []).some((t: any) => t.key === "sluice.origin_version_id" && t.value === v.id),
      )
    )
      return;

    // The run that holds the file: the training run's mirror, or one made for this upload.
    const trainingRunId = (v.lineage as { runId?: string }).runId;
    let mlRunId: string;
    if (trainingRunId) mlRunId = await this.mirrorRun(trainingRunId);
    else {
      const experimentId = await this.client.ensureExperiment(this.settings.experiment);
      const found = await this.client.findRunByTag(experimentId, "sluice.upload_version_id", v.id);
      mlRunId =
        found?.info.run_id ??
        (
          await this.client.call("POST", "runs/create", {
            experiment_id: experimentId,
            run_name: `${model.name} v${v.version} (uploaded)`,
            tags: [{ key: "sluice.upload_version_id", value: v.id }],
          })
        ).run.info.run_id;
      if (!found) await this.client.call("POST", "runs/update", { run_id: mlRunId, status: "FINISHED", end_time: Date.now() });
    }
    const mlRun = (await this.client.call("GET", "runs/get", { run_id: mlRunId })).run;
    const folder = `sluice-model-v${v.version}`;
    let source = `sluice:/model-versions/${v.id}/model.onnx`;
    if (String(mlRun.info.artifact_uri).startsWith("mlflow-artifacts:")) {
      await this.client.uploadArtifact(mlRun.info.artifact_uri, `${folder}/model.onnx`, await fs.readFile(await registry.versionFile(v)));
      source = `runs:/${mlRunId}/${folder}`;
    }
    await this.client.call("POST", "model-versions/create", {
      name: model.name,
      source,
      run_id: mlRunId,
      description: v.description || undefined,
      tags: [
        { key: "sluice.origin_version_id", value: v.id },
        { key: "sluice.origin_version", value: String(v.version) },
        { key: "sluice.origin_status", value: v.status },
      ],
    });
  }

  /** Stops listening and working; jobs not yet done are dropped (and logged). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    await this.subscription.return?.();
    this.wake?.();
    await this.working.catch(() => undefined);
    if (this.queue.length > 0) this.log.warn({ pending: this.queue.length }, "mlflow mirror: stopped with changes not yet mirrored");
  }
}

/** Starts the mirror when `SLUICE_MLFLOW_MIRROR_URI` is set; undefined otherwise. */
export function startMlflowMirror(services: MirrorDeps, log: Logger): MlflowMirror | undefined {
  const settings = services.config.mlflow.mirror;
  if (!settings) return undefined;
  log.info({ target: settings.uri, experiment: settings.experiment }, "mlflow mirror: copying pipeline runs and model versions");
  return new MlflowMirror(services, settings, log.child({ component: "mlflow-mirror" }));
}
