import { isDeepStrictEqual } from "node:util";
import type { EntityManager, Repository } from "typeorm";
import { ConflictError, InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import type { EventRow } from "../events/event.entity";
import type { EventBus } from "../events/event-bus";
import { appendEvents } from "../events/event.store";
import { PipelineRow } from "../pipelines";
import { lockWritableProject } from "../projects";
import { EventRuleRow } from "./event-rule.entity";
import { checkEventType, checkFilter, checkParamTemplates } from "./event-match";
import { checkTriggerName } from "./schedule.service";
import { checkParamsShape, checkStageParams, isRowId, latestVersionOf } from "./target";
import { EventRuleEvents } from "./trigger-events";

export interface CreateEventRuleArgs {
  name: string;
  eventType: string;
  filter?: Record<string, unknown> | null;
  params?: Record<string, unknown> | null;
  enabled?: boolean | null;
}

export type UpdateEventRuleArgs = { [K in keyof CreateEventRuleArgs]?: CreateEventRuleArgs[K] | null };

export interface EventRuleFilter {
  projectIds: "all" | string[];
  pipelineId?: string;
  eventType?: string;
  enabled?: boolean;
}

/** Largest payload of a custom event, as JSON text. */
export const MAX_CUSTOM_PAYLOAD_BYTES = 64 * 1024;

/** Whether a JSON value holds a `"$.…"` template anywhere. */
function hasTemplate(value: unknown): boolean {
  if (typeof value === "string") return value.startsWith("$.");
  if (Array.isArray(value)) return value.some(hasTemplate);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasTemplate);
  return false;
}

/**
 * Event rules (`on <type> where <filter> -> run <pipeline> with <params>`) and custom events.
 * Rule changes emit `event_rule.*` events, which the leading server's matcher reads in stream
 * order, so a rule applies from the point in the stream where it was created or changed.
 */
export class EventRuleService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
  ) {}

  private get repo(): Repository<EventRuleRow> {
    return this.db.dataSource.getRepository(EventRuleRow);
  }

  /**
   * Creates a rule of `pipeline`. Parameters are checked against the pipeline's latest version;
   * stages whose parameters hold templates are checked when the rule fires.
   */
  async create(tx: MutationTx, pipeline: PipelineRow, input: CreateEventRuleArgs): Promise<EventRuleRow> {
    const name = checkTriggerName(input.name);
    const eventType = checkEventType(input.eventType, "eventType", { custom: false });
    const filter = checkFilter(input.filter ?? {});
    const params = checkParamsShape(input.params ?? {});
    checkParamTemplates(params);
    await lockWritableProject(tx.manager, pipeline.projectId);
    checkStageParams(await latestVersionOf(tx.manager, pipeline), params, (stage) => hasTemplate(params[stage]));
    if (await tx.manager.existsBy(EventRuleRow, { pipelineId: pipeline.id, name }))
      throw new ConflictError(`Pipeline ${pipeline.name} already has an event rule named ${name}`, { field: "name" });
    const row = await tx.manager.save(
      tx.manager.create(EventRuleRow, {
        projectId: pipeline.projectId,
        pipelineId: pipeline.id,
        name,
        eventType,
        filter,
        params,
        enabled: input.enabled ?? true,
        createdBy: tx.caller.principalId,
      }),
    );
    this.emit(tx, EventRuleEvents.created, row);
    return row;
  }

  /** Changes the given fields; the same checks as `create` apply to them. */
  async update(tx: MutationTx, id: string, patch: UpdateEventRuleArgs): Promise<EventRuleRow> {
    const row = await this.lock(tx, id);
    if (patch.name !== undefined && patch.name !== null && patch.name !== row.name) {
      row.name = checkTriggerName(patch.name);
      if (await tx.manager.existsBy(EventRuleRow, { pipelineId: row.pipelineId, name: row.name }))
        throw new ConflictError(`The pipeline already has an event rule named ${row.name}`, { field: "name" });
    }
    const before = { eventType: row.eventType, filter: row.filter, enabled: row.enabled };
    if (patch.eventType !== undefined && patch.eventType !== null)
      row.eventType = checkEventType(patch.eventType, "eventType", { custom: false });
    if (patch.filter !== undefined && patch.filter !== null) row.filter = checkFilter(patch.filter);
    if (patch.enabled !== undefined && patch.enabled !== null) row.enabled = patch.enabled;
    // A rule that hears differently from now on does not reach back to earlier events.
    const rearmed = row.enabled && (!before.enabled || row.eventType !== before.eventType || !isDeepStrictEqual(row.filter, before.filter));
    if (patch.params !== undefined && patch.params !== null) {
      const params = checkParamsShape(patch.params);
      checkParamTemplates(params);
      const pipeline = await tx.manager.findOneByOrFail(PipelineRow, { id: row.pipelineId });
      checkStageParams(await latestVersionOf(tx.manager, pipeline), params, (stage) => hasTemplate(params[stage]));
      row.params = params;
    }
    await tx.manager.save(row);
    this.emit(tx, EventRuleEvents.updated, row, { rearmed });
    return row;
  }

  /** Deletes a rule. Its fires stay, so the runs it started still name where they came from. */
  async delete(tx: MutationTx, id: string): Promise<EventRuleRow> {
    const row = await this.lock(tx, id);
    await tx.manager.delete(EventRuleRow, { id });
    this.emit(tx, EventRuleEvents.deleted, row);
    return row;
  }

  /**
   * Appends a custom event to the stream of `projectId`, in the mutation's transaction, and
   * publishes it after commit. It is written here rather than through `tx.emit` because the
   * caller is answered with the event's id (its cursor).
   *
   * @throws InvalidInputError for a malformed or reserved type, or a payload over 64 KiB.
   */
  async emitCustom(
    tx: MutationTx,
    input: { projectId: string; type: string; payload?: Record<string, unknown> | null },
  ): Promise<EventRow> {
    if (!isRowId(input.projectId)) throw new NotFoundError("Project", input.projectId);
    const type = checkEventType(input.type, "type", { custom: true });
    const payload = input.payload ?? {};
    if (payload === null || typeof payload !== "object" || Array.isArray(payload))
      throw new InvalidInputError([{ field: "payload", message: "must be a JSON object" }]);
    if (Buffer.byteLength(JSON.stringify(payload)) > MAX_CUSTOM_PAYLOAD_BYTES)
      throw new InvalidInputError([{ field: "payload", message: `must be at most ${MAX_CUSTOM_PAYLOAD_BYTES} bytes of JSON` }]);
    await lockWritableProject(tx.manager, input.projectId);
    const [row] = await appendEvents(tx.manager, [{ type, projectId: input.projectId, payload }], tx.caller.principalId);
    await this.events.publishWith(tx, [row!]);
    return row!;
  }

  private async lock(tx: MutationTx, id: string): Promise<EventRuleRow> {
    const row = isRowId(id) ? await tx.manager.findOne(EventRuleRow, { where: { id }, lock: { mode: "pessimistic_write" } }) : null;
    if (!row) throw new NotFoundError("EventRule", id);
    await lockWritableProject(tx.manager, row.projectId);
    return row;
  }

  private emit(tx: MutationTx, type: string, row: EventRuleRow, extra: Record<string, unknown> = {}): void {
    tx.emit({
      type,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { ruleId: row.id, pipelineId: row.pipelineId, name: row.name, eventType: row.eventType, enabled: row.enabled, ...extra },
    });
  }

  async get(id: string): Promise<EventRuleRow | null> {
    return isRowId(id) ? this.repo.findOneBy({ id }) : null;
  }

  /** A pipeline's event rule by name (unique in the pipeline). */
  async getByName(pipelineId: string, name: string): Promise<EventRuleRow | null> {
    return isRowId(pipelineId) ? this.repo.findOneBy({ pipelineId, name }) : null;
  }

  async list(filter: EventRuleFilter, page: PageArgs, sort: SortSpec<EventRuleRow>): Promise<Page<EventRuleRow>> {
    const qb = this.repo.createQueryBuilder("r");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("r.projectId IN (:...pids)", { pids: filter.projectIds });
    }
    if (filter.pipelineId) qb.andWhere("r.pipelineId = :pipelineId", { pipelineId: filter.pipelineId });
    if (filter.eventType) qb.andWhere("r.eventType = :eventType", { eventType: filter.eventType });
    if (filter.enabled !== undefined) qb.andWhere("r.enabled = :enabled", { enabled: filter.enabled });
    return paginate(qb, page, sort);
  }
}

/**
 * For each rule, the id of the event that armed it as it is now: its `event_rule.created`, or
 * the latest `event_rule.updated` that changed what it hears (`rearmed`). Rules hear only
 * events after that id, so a rule never reaches back before its creation or its last change.
 */
export async function armingEventIds(manager: EntityManager, ruleIds: readonly string[]): Promise<Map<string, string>> {
  if (ruleIds.length === 0) return new Map();
  const rows: Array<{ rule_id: string; armed: string }> = await manager.query(
    `SELECT subject_id AS rule_id, MAX(id)::text AS armed FROM events
      WHERE type = ANY($1) AND subject_id = ANY($2) AND (type = $3 OR payload->>'rearmed' = 'true')
      GROUP BY subject_id`,
    [[EventRuleEvents.created, EventRuleEvents.updated], ruleIds, EventRuleEvents.created],
  );
  return new Map(rows.map((r) => [r.rule_id, r.armed]));
}
