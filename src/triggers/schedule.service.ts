import type { Repository } from "typeorm";
import { ConflictError, InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { PipelineRow, NAME_PATTERN } from "../pipelines";
import { lockWritableProject } from "../projects";
import { checkCron, checkMinimumInterval, checkTimeZone } from "./cron";
import { type MissedFirePolicy, ScheduleRow } from "./schedule.entity";
import { checkParamsShape, checkStageParams, isRowId, latestVersionOf } from "./target";
import { ScheduleEvents } from "./trigger-events";

export interface CreateScheduleArgs {
  name: string;
  cron: string;
  timezone?: string | null;
  params?: Record<string, unknown> | null;
  missedPolicy?: MissedFirePolicy | null;
}

export type UpdateScheduleArgs = { [K in keyof CreateScheduleArgs]?: CreateScheduleArgs[K] | null };

export interface ScheduleFilter {
  projectIds: "all" | string[];
  pipelineId?: string;
  paused?: boolean;
}

const NAME_RULE = "must be 1-63 characters of lowercase letters, digits, '_' and '-', starting with a letter or digit";

/** Checks a name: like stage and pipeline names. */
export function checkTriggerName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw new InvalidInputError([{ field: "name", message: NAME_RULE }]);
  return name;
}

/**
 * Cron schedules of pipelines. Every change emits a `schedule.*` event; the trigger service of
 * the leading server listens to them to rebuild its timers, so no process needs telling.
 */
export class ScheduleService {
  constructor(
    private readonly db: Database,
    /** Shortest interval between two fires of a schedule. `SLUICE_MIN_SCHEDULE_SECONDS`. */
    private readonly minIntervalSeconds: number,
  ) {}

  private get repo(): Repository<ScheduleRow> {
    return this.db.dataSource.getRepository(ScheduleRow);
  }

  /**
   * Creates a schedule of `pipeline`. The expression, the time zone and the parameters (against
   * the pipeline's latest version) are checked before anything is written.
   */
  async create(tx: MutationTx, pipeline: PipelineRow, input: CreateScheduleArgs): Promise<ScheduleRow> {
    const name = checkTriggerName(input.name);
    const cron = checkCron(input.cron).expression;
    const timezone = checkTimeZone(input.timezone ?? "UTC");
    checkMinimumInterval(cron, timezone, this.minIntervalSeconds);
    const params = checkParamsShape(input.params ?? {});
    await lockWritableProject(tx.manager, pipeline.projectId);
    checkStageParams(await latestVersionOf(tx.manager, pipeline), params);
    if (await tx.manager.existsBy(ScheduleRow, { pipelineId: pipeline.id, name }))
      throw new ConflictError(`Pipeline ${pipeline.name} already has a schedule named ${name}`, { field: "name" });
    const row = await tx.manager.save(
      tx.manager.create(ScheduleRow, {
        projectId: pipeline.projectId,
        pipelineId: pipeline.id,
        name,
        cron,
        timezone,
        params,
        paused: false,
        missedPolicy: input.missedPolicy ?? "SKIP",
        lastFireAt: null,
        createdBy: tx.caller.principalId,
      }),
    );
    this.emit(tx, ScheduleEvents.created, row);
    return row;
  }

  /** Changes the given fields; the same checks as `create` apply to them. */
  async update(tx: MutationTx, id: string, patch: UpdateScheduleArgs): Promise<ScheduleRow> {
    const row = await this.lock(tx, id);
    if (patch.name !== undefined && patch.name !== null && patch.name !== row.name) {
      row.name = checkTriggerName(patch.name);
      if (await tx.manager.existsBy(ScheduleRow, { pipelineId: row.pipelineId, name: row.name }))
        throw new ConflictError(`The pipeline already has a schedule named ${row.name}`, { field: "name" });
    }
    if (patch.cron !== undefined && patch.cron !== null) row.cron = checkCron(patch.cron).expression;
    if (patch.timezone !== undefined && patch.timezone !== null) row.timezone = checkTimeZone(patch.timezone);
    if (patch.cron != null || patch.timezone != null) checkMinimumInterval(row.cron, row.timezone, this.minIntervalSeconds);
    if (patch.missedPolicy !== undefined && patch.missedPolicy !== null) row.missedPolicy = patch.missedPolicy;
    if (patch.params !== undefined && patch.params !== null) {
      const params = checkParamsShape(patch.params);
      const pipeline = await tx.manager.findOneByOrFail(PipelineRow, { id: row.pipelineId });
      checkStageParams(await latestVersionOf(tx.manager, pipeline), params);
      row.params = params;
    }
    await tx.manager.save(row);
    this.emit(tx, ScheduleEvents.updated, row);
    return row;
  }

  /** Pauses or resumes; doing what is already done changes nothing and emits nothing. */
  async setPaused(tx: MutationTx, id: string, paused: boolean): Promise<ScheduleRow> {
    const row = await this.lock(tx, id);
    if (row.paused === paused) return row;
    row.paused = paused;
    await tx.manager.save(row);
    this.emit(tx, paused ? ScheduleEvents.paused : ScheduleEvents.resumed, row);
    return row;
  }

  /** Deletes a schedule. Its fires stay, so the runs it started still name where they came from. */
  async delete(tx: MutationTx, id: string): Promise<ScheduleRow> {
    const row = await this.lock(tx, id);
    await tx.manager.delete(ScheduleRow, { id });
    this.emit(tx, ScheduleEvents.deleted, row);
    return row;
  }

  private async lock(tx: MutationTx, id: string): Promise<ScheduleRow> {
    const row = isRowId(id) ? await tx.manager.findOne(ScheduleRow, { where: { id }, lock: { mode: "pessimistic_write" } }) : null;
    if (!row) throw new NotFoundError("Schedule", id);
    await lockWritableProject(tx.manager, row.projectId);
    return row;
  }

  private emit(tx: MutationTx, type: string, row: ScheduleRow): void {
    tx.emit({
      type,
      projectId: row.projectId,
      subjectId: row.id,
      payload: {
        scheduleId: row.id,
        pipelineId: row.pipelineId,
        name: row.name,
        cron: row.cron,
        timezone: row.timezone,
        paused: row.paused,
      },
    });
  }

  async get(id: string): Promise<ScheduleRow | null> {
    return isRowId(id) ? this.repo.findOneBy({ id }) : null;
  }

  /** A pipeline's schedule by name (unique in the pipeline). */
  async getByName(pipelineId: string, name: string): Promise<ScheduleRow | null> {
    return isRowId(pipelineId) ? this.repo.findOneBy({ pipelineId, name }) : null;
  }

  async list(filter: ScheduleFilter, page: PageArgs, sort: SortSpec<ScheduleRow>): Promise<Page<ScheduleRow>> {
    const qb = this.repo.createQueryBuilder("s");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("s.projectId IN (:...pids)", { pids: filter.projectIds });
    }
    if (filter.pipelineId) qb.andWhere("s.pipelineId = :pipelineId", { pipelineId: filter.pipelineId });
    if (filter.paused !== undefined) qb.andWhere("s.paused = :paused", { paused: filter.paused });
    return paginate(qb, page, sort);
  }
}
