import { type EntityManager, In, type Repository } from "typeorm";
import { ConflictError, InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import { ArtifactRow } from "../artifacts/artifact.entity";
import type { Database } from "../db/data-source";
import { returnedRows } from "../kernel/sql-text";
import { type PipelineVersionRow, type PipelineRow, checkSecretGrants, runGrantField, resolveStageParams } from "../pipelines";
import { deploymentInputArtifact } from "./engine/inputs";
import { type RunPlan, isGateStage, planFor } from "./engine/plan";
import { type ProgressTx, queueStages, settleRun } from "./engine/progress";
import { RunEvents } from "./engine/run-events";
import { type RunStatus, type TriggerKind, isTerminalRun, NEW_RUN_STATUS, newStageStatus, stageWrite } from "./engine/run-state";
import { RunRow } from "./run.entity";
import { StageAttemptRow } from "./stage-attempt.entity";
import { StageRunRow } from "./stage-run.entity";
import { USAGE_SUMS_SQL, type UsageSums } from "./usage.types";

export interface TriggerInput {
  pipeline: PipelineRow;
  version: PipelineVersionRow;
  /** Parameter overrides by stage name. */
  params?: Record<string, Record<string, unknown>>;
  tags?: Record<string, string>;
  triggerKind: TriggerKind;
  triggerRef?: string | null;
}

export interface RunFilter {
  projectIds: "all" | string[];
  pipelineId?: string;
  statuses?: RunStatus[];
  triggerKind?: TriggerKind;
}

const TAG_KEY = /^[A-Za-z0-9_.:/-]{1,128}$/;

function checkTags(tags: Record<string, unknown>): Record<string, string> {
  const problems = [];
  for (const [k, v] of Object.entries(tags)) {
    if (!TAG_KEY.test(k)) problems.push({ field: `tags.${k}`, message: "keys are 1-128 characters of letters, digits and _ . : / -" });
    else if (typeof v !== "string" || v.length > 1000)
      problems.push({ field: `tags.${k}`, message: "values are strings of at most 1000 characters" });
  }
  if (problems.length) throw new InvalidInputError(problems);
  return tags as Record<string, string>;
}

/** Runs and stage runs: starting, rerunning, canceling and reading them. */
export class RunService {
  constructor(private readonly db: Database) {}

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  /**
   * Creates a run of `version` with one stage run per stage: stages without upstream are
   * queued at once, the rest wait as PENDING. Parameters are validated against each stage's
   * schema first; nothing is written when any is invalid.
   */
  async trigger(tx: MutationTx | ProgressTx, input: TriggerInput, createdBy: string | null): Promise<RunRow> {
    const plan = planFor(input.version);
    const overrides = input.params ?? {};
    const problems = Object.keys(overrides)
      .filter((name) => !plan.stages.has(name))
      .map((name) => ({ field: `params.${name}`, message: `the pipeline has no stage ${JSON.stringify(name)}` }));
    if (problems.length) throw new InvalidInputError(problems);
    const resolved = new Map<string, Record<string, unknown>>();
    for (const name of plan.order) resolved.set(name, resolveStageParams(plan.spec, name, overrides[name]));
    await this.checkArtifactInputs(tx.manager, plan, input.pipeline.projectId);
    await checkSecretGrants(tx.manager, input.pipeline.projectId, plan.spec, runGrantField);
    const tags = checkTags(input.tags ?? {});

    const next = await nextRunNumber(tx.manager, input.pipeline.id);
    const run = await tx.manager.save(
      tx.manager.create(RunRow, {
        projectId: input.pipeline.projectId,
        pipelineId: input.pipeline.id,
        pipelineVersionId: input.version.id,
        number: Number(next),
        status: NEW_RUN_STATUS,
        params: overrides,
        tags,
        triggerKind: input.triggerKind,
        triggerRef: input.triggerRef ?? null,
        parentRunId: null,
        maxParallel: plan.spec.maxParallel ?? null,
        maxConcurrentRuns: plan.spec.maxConcurrentRuns ?? null,
        createdBy,
      }),
    );
    await this.insertStageRuns(tx.manager, plan, run, resolved, new Map());
    tx.emit({
      type: RunEvents.queued,
      projectId: run.projectId,
      subjectId: run.id,
      payload: {
        runId: run.id,
        pipelineId: run.pipelineId,
        number: run.number,
        version: input.version.version,
        triggerKind: run.triggerKind,
      },
    });
    const reused = await queueStages(
      tx,
      plan,
      run,
      plan.order.filter((n) => plan.stages.get(n)!.upstream.length === 0),
    );
    // Only outputs reused from the cache can have moved the run on already.
    if (reused) await settleRun(tx, run.id);
    return run;
  }

  /**
   * Artifact inputs must exist in the run's project and be of the declared kind; deployment inputs
   * must name an endpoint of the project with an approved version to serve (checked again when the stage starts).
   */
  private async checkArtifactInputs(manager: EntityManager, plan: RunPlan, projectId: string): Promise<void> {
    const refs: Array<{ field: string; id: string; kind: string }> = [];
    const problems = [];
    for (const [name, stage] of plan.stages) {
      for (const [input, ref] of Object.entries(stage.spec.inputs ?? {})) {
        const field = `stages.${name}.inputs.${input}`;
        if ("artifact" in ref) refs.push({ field, id: ref.artifact, kind: ref.kind });
        if ("deployment" in ref) {
          const found = await deploymentInputArtifact(manager, projectId, ref.deployment);
          if ("problem" in found) problems.push({ field: `${field}.deployment`, message: found.problem });
        }
      }
    }
    if (problems.length) throw new InvalidInputError(problems);
    if (refs.length === 0) return;
    const rows = await manager.findBy(ArtifactRow, { id: In(refs.map((r) => r.id)) });
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const ref of refs) {
      const a = byId.get(ref.id);
      if (!a || a.projectId !== projectId)
        problems.push({ field: ref.field, message: `artifact ${ref.id} does not exist in this project` });
      else if (a.kind !== ref.kind) problems.push({ field: ref.field, message: `artifact ${ref.id} is a ${a.kind}, not a ${ref.kind}` });
    }
    if (problems.length) throw new InvalidInputError(problems);
  }

  private async insertStageRuns(
    manager: EntityManager,
    plan: RunPlan,
    run: RunRow,
    params: Map<string, Record<string, unknown>>,
    reused: Map<string, StageRunRow>,
  ): Promise<void> {
    const rows = plan.order.map((name) => {
      const stage = plan.stages.get(name)!;
      const from = reused.get(name);
      const retries = stage.spec.retries ?? { max: 0 };
      return manager.create(StageRunRow, {
        runId: run.id,
        stageName: name,
        status: newStageStatus(from !== undefined),
        remainingUpstream: stage.upstream.filter((u) => !reused.has(u)).length,
        attempt: 0,
        maxAttempts: 1 + retries.max,
        // A gate runs on no runner, so it holds no runner's slot while it waits.
        runnerLabels: isGateStage(stage.spec) ? [] : (stage.spec.runner?.labels ?? ["local"]),
        runKind: stage.kind,
        params: params.get(name) ?? from?.params ?? {},
        reusedFrom: from ? (from.reusedFrom ?? from.id) : null,
        reuseReason: from ? "RERUN" : null,
        startedAt: from ? new Date() : null,
        finishedAt: from ? new Date() : null,
      });
    });
    // One statement per thousand stages: a 1,000-stage run is created in one round trip.
    for (let i = 0; i < rows.length; i += 1000) await manager.insert(StageRunRow, rows.slice(i, i + 1000));
  }

  /**
   * A new run of the same version and parameters that reuses the outputs of `parentId`'s
   * successful stages and runs the rest: by default every stage that did not succeed, or
   * `fromStages` and everything below them.
   */
  async rerun(
    tx: MutationTx,
    parent: RunRow,
    version: PipelineVersionRow,
    fromStages: string[] | undefined,
    createdBy: string,
  ): Promise<RunRow> {
    if (!isTerminalRun(parent.status))
      throw new ConflictError(`Run #${parent.number} is still ${parent.status}; cancel it or wait before rerunning`);
    const plan = planFor(version);
    const parentStages = await tx.manager.findBy(StageRunRow, { runId: parent.id });
    const byName = new Map(parentStages.map((s) => [s.stageName, s]));
    const rerunSet = new Set<string>();
    if (fromStages && fromStages.length > 0) {
      const unknown = fromStages.filter((n) => !plan.stages.has(n));
      if (unknown.length)
        throw new InvalidInputError(
          unknown.map((n) => ({ field: "fromStages", message: `the pipeline has no stage ${JSON.stringify(n)}` })),
        );
      for (const n of fromStages) for (const m of [n, ...plan.stages.get(n)!.descendants]) rerunSet.add(m);
    } else {
      for (const [name, sr] of byName) if (sr.status !== "SUCCEEDED") rerunSet.add(name);
    }
    if (rerunSet.size === 0)
      throw new ConflictError(`Every stage of run #${parent.number} succeeded; name stages in fromStages to run them again`);
    const reused = new Map<string, StageRunRow>();
    for (const name of plan.order) {
      if (rerunSet.has(name)) continue;
      const sr = byName.get(name);
      if (!sr || sr.status !== "SUCCEEDED") {
        throw new ConflictError(
          `Stage ${name} did not succeed in run #${parent.number}, so its outputs cannot be reused; include it in fromStages`,
        );
      }
      reused.set(name, sr);
    }
    await checkSecretGrants(tx.manager, parent.projectId, plan.spec, runGrantField);
    const next = await nextRunNumber(tx.manager, parent.pipelineId);
    const run = await tx.manager.save(
      tx.manager.create(RunRow, {
        projectId: parent.projectId,
        pipelineId: parent.pipelineId,
        pipelineVersionId: parent.pipelineVersionId,
        number: Number(next),
        status: NEW_RUN_STATUS,
        params: parent.params,
        tags: parent.tags,
        triggerKind: "RERUN",
        triggerRef: parent.id,
        parentRunId: parent.id,
        maxParallel: parent.maxParallel,
        maxConcurrentRuns: parent.maxConcurrentRuns,
        createdBy,
      }),
    );
    const params = new Map(parentStages.map((s) => [s.stageName, s.params]));
    await this.insertStageRuns(tx.manager, plan, run, params, reused);
    tx.emit({
      type: RunEvents.queued,
      projectId: run.projectId,
      subjectId: run.id,
      payload: {
        runId: run.id,
        pipelineId: run.pipelineId,
        number: run.number,
        triggerKind: "RERUN",
        parentRunId: parent.id,
        reused: [...reused.keys()],
      },
    });
    const ready = plan.order.filter((n) => rerunSet.has(n) && plan.stages.get(n)!.upstream.every((u) => reused.has(u)));
    await queueStages(tx, plan, run, ready);
    await settleRun(tx, run.id);
    return run;
  }

  /**
   * Cancels a run: waiting stages are canceled at once; running ones are asked to stop (their
   * runner aborts them and reports back). Canceling a finished run is a conflict.
   */
  async cancel(tx: MutationTx, runId: string): Promise<RunRow> {
    // Stage runs first, then the run: the lock order of claims and completions, so a cancel
    // racing a completion waits instead of deadlocking.
    await tx.manager.query(`SELECT id FROM stage_runs WHERE run_id = $1 ORDER BY id FOR UPDATE`, [runId]);
    const run = await tx.manager.findOne(RunRow, { where: { id: runId }, lock: { mode: "pessimistic_write" } });
    if (!run) throw new NotFoundError("Run", runId);
    if (isTerminalRun(run.status)) throw new ConflictError(`Run #${run.number} already ${run.status}`);
    if (run.cancelRequestedAt) return run;
    const now = new Date();
    await tx.manager.update(RunRow, { id: runId }, { cancelRequestedAt: now });
    run.cancelRequestedAt = now;
    // What no runner holds ends here: waiting stages, and a waiting approval gate (only gates
    // wait, and nothing runs them).
    const withdraw = stageWrite("withdrawn");
    const canceled = returnedRows<StageRunRow>(
      await tx.manager.query(
        `UPDATE stage_runs SET ${withdraw.set}, finished_at = $2
          WHERE run_id = $1 AND ${withdraw.guard}
          RETURNING id, stage_name AS "stageName", attempt`,
        [runId, now],
      ),
    );
    for (const sr of canceled) {
      tx.emit({
        type: RunEvents.stageCanceled,
        projectId: run.projectId,
        subjectId: run.id,
        payload: { runId, pipelineId: run.pipelineId, stageRunId: sr.id, stage: sr.stageName, attempt: sr.attempt },
      });
    }
    const running = returnedRows<{ id: string }>(
      await tx.manager.query(
        `UPDATE stage_runs SET cancel_requested = true WHERE run_id = $1 AND ${stageWrite("canceled").guard} RETURNING id`,
        [runId],
      ),
    );
    tx.emit({
      type: RunEvents.cancelRequested,
      projectId: run.projectId,
      subjectId: run.id,
      payload: { runId, pipelineId: run.pipelineId, stageRunIds: running.map((r) => r.id) },
    });
    await settleRun(tx, runId);
    return tx.manager.findOneByOrFail(RunRow, { id: runId });
  }

  async setTags(tx: MutationTx, runId: string, tags: Record<string, string>): Promise<RunRow> {
    const run = await tx.manager.findOne(RunRow, { where: { id: runId }, lock: { mode: "pessimistic_write" } });
    if (!run) throw new NotFoundError("Run", runId);
    run.tags = { ...run.tags, ...checkTags(tags) };
    await tx.manager.update(RunRow, { id: runId }, { tags: run.tags });
    return run;
  }

  async get(id: string): Promise<RunRow | null> {
    return this.repo(RunRow).findOneBy({ id });
  }

  async getByNumber(pipelineId: string, number: number): Promise<RunRow | null> {
    return this.repo(RunRow).findOneBy({ pipelineId, number });
  }

  async list(filter: RunFilter, page: PageArgs, sort: SortSpec<RunRow>): Promise<Page<RunRow>> {
    const qb = this.repo(RunRow).createQueryBuilder("r");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("r.projectId IN (:...pids)", { pids: filter.projectIds });
    }
    if (filter.pipelineId) qb.andWhere("r.pipelineId = :pipelineId", { pipelineId: filter.pipelineId });
    if (filter.statuses?.length) qb.andWhere("r.status IN (:...statuses)", { statuses: filter.statuses });
    if (filter.triggerKind) qb.andWhere("r.triggerKind = :tk", { tk: filter.triggerKind });
    return paginate(qb, page, sort);
  }

  async stageRuns(runId: string): Promise<StageRunRow[]> {
    return this.repo(StageRunRow).find({ where: { runId } });
  }

  async stageRun(id: string): Promise<StageRunRow | null> {
    return this.repo(StageRunRow).findOneBy({ id });
  }

  /** A run's stage run by stage name (unique in the run). */
  async stageRunByName(runId: string, stageName: string): Promise<StageRunRow | null> {
    return this.repo(StageRunRow).findOneBy({ runId, stageName });
  }

  async attempts(stageRunId: string): Promise<StageAttemptRow[]> {
    return this.repo(StageAttemptRow).find({ where: { stageRunId }, order: { attempt: "ASC" } });
  }

  /** The usage of the measured attempts of one stage run (`stageRunId`) or of every stage of one run (`runId`). */
  async usageSums(of: { stageRunId: string } | { runId: string }): Promise<UsageSums> {
    const [row]: UsageSums[] =
      "stageRunId" in of
        ? await this.db.dataSource.query(
            `SELECT ${USAGE_SUMS_SQL} FROM stage_attempts a WHERE a.stage_run_id = $1 AND a.usage_method IS NOT NULL`,
            [of.stageRunId],
          )
        : await this.db.dataSource.query(
            `SELECT ${USAGE_SUMS_SQL} FROM stage_attempts a JOIN stage_runs sr ON sr.id = a.stage_run_id
              WHERE sr.run_id = $1 AND a.usage_method IS NOT NULL`,
            [of.runId],
          );
    return row!;
  }
}

/**
 * The next run number of a pipeline. The pipeline row is locked first, in a statement of its
 * own: under READ COMMITTED a statement that waits for a row lock still reads the other tables
 * as of its start, so a MAX taken in the same statement could miss the run the lock holder just
 * committed and hand out its number again. The second statement sees it.
 */
async function nextRunNumber(manager: EntityManager, pipelineId: string): Promise<number> {
  await manager.query(`SELECT 1 FROM pipelines WHERE id = $1 FOR UPDATE`, [pipelineId]);
  const [{ next }] = await manager.query(`SELECT COALESCE(MAX(number), 0) + 1 AS next FROM runs WHERE pipeline_id = $1`, [pipelineId]);
  return Number(next);
}
