import type { HookTx, OutputHookContext } from "../runs";
import type { TrackingService } from "../tracking/tracking.service";

interface StoredTrial {
  params: Record<string, unknown>;
  metrics: Record<string, number | null>;
  durationMs?: number;
  error?: string;
}

interface StoredSearch {
  strategy: string;
  metric: string;
  direction: string;
  seed?: number;
  best: number;
  trials: StoredTrial[];
}

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * A `train` stage's hyperparameter search, recorded in experiment tracking when the stage
 * succeeds: one run for the search (experiment = the pipeline's name, the winner's params and
 * metrics, Sluice ids as tags) and one child run per trial (`mlflow.parentRunId`), with its
 * params, its validation metrics and FINISHED or FAILED — so an MLflow client sees the search as
 * MLflow's own hyperparameter tuning would log it.
 */
export function searchTrialsHook(tracking: TrackingService) {
  return async (tx: HookTx, ctx: OutputHookContext): Promise<Record<string, unknown>> => {
    const search = ctx.metadata.search as StoredSearch;
    const [pipeline]: Array<{ name: string }> = await tx.manager.query(`SELECT name FROM pipelines WHERE id = $1`, [ctx.run.pipelineId]);
    const experimentName = pipeline?.name ?? "Default";
    const now = Date.now();
    const text = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    const metricsOf = (m: Record<string, number | null>) =>
      Object.entries(m)
        .filter(([, v]) => finite(v))
        .map(([key, value]) => ({ key, value, timestamp: now, step: 0 }));
    const best = search.trials[search.best];
    const parent = await tracking.createRun(tx, ctx.run.projectId, {
      experimentName,
      runName: `${experimentName}#${ctx.run.number} ${ctx.stageName} (${search.strategy} search)`,
      startTime: now - search.trials.reduce((sum, t) => sum + (t.durationMs ?? 0), 0),
      tags: {
        "sluice.run_id": ctx.run.id,
        "sluice.stage_run_id": ctx.stageRunId,
        "sluice.stage": ctx.stageName,
        "sluice.model_artifact_id": ctx.artifactId,
        "sluice.search.strategy": search.strategy,
        "sluice.search.metric": search.metric,
        "sluice.search.direction": search.direction,
        "sluice.search.best_trial": String(search.best),
      },
      params: best ? text(best.params) : {},
    });
    if (best) await tracking.logBatch(tx, parent.id, { metrics: metricsOf(best.metrics) });
    const children: string[] = [];
    for (const [i, trial] of search.trials.entries()) {
      const child = await tracking.createRun(tx, ctx.run.projectId, {
        experimentName,
        runName: `trial ${i}`,
        parentRunId: parent.id,
        params: text(trial.params),
        tags: {
          "sluice.trial": String(i),
          ...(i === search.best && { "sluice.best": "true" }),
          ...(trial.error && { "sluice.error": trial.error.slice(0, 5000) }),
        },
      });
      const metrics = metricsOf(trial.metrics);
      if (metrics.length > 0) await tracking.logBatch(tx, child.id, { metrics });
      await tracking.updateRun(tx, child.id, { status: trial.error ? "FAILED" : "FINISHED" });
      children.push(child.id);
    }
    await tracking.updateRun(tx, parent.id, { status: "FINISHED" });
    return { trackingRunId: parent.id, trialRunIds: children };
  };
}
