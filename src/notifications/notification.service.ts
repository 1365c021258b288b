import type { Repository } from "typeorm";
import { ConflictError, type InputProblem, InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { lockWritableProject } from "../projects";
import { SECRET_NAME, type SecretService } from "../secrets";
import { checkPatterns } from "./event-pattern";
import { NotificationChannelRow } from "./notification-channel.entity";
import { type DeliveryStatus, NotificationDeliveryRow } from "./notification-delivery.entity";
import { checkNotifierConfig, notifierPlugin } from "./notifiers";
import type { WebhookTargetPolicy } from "./webhook-targets";

/** Events this capability emits (never for deliveries: a channel listening to `*` would feed itself). */
export const NotificationEvents = {
  created: "notification_channel.created",
  updated: "notification_channel.updated",
  deleted: "notification_channel.deleted",
} as const;

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ChannelInput {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  eventTypes: string[];
  enabled?: boolean | null;
  /** The project secret that holds the signing secret. */
  secretName?: string | null;
  /** When given, stored (or replaced) as the project secret `secretName`. */
  signingSecret?: string | null;
}

export type ChannelPatch = { [K in Exclude<keyof ChannelInput, "kind">]?: ChannelInput[K] | null };

/** Runs each check, gathering every field's problems into one error rather than stopping at the first. */
function gather(checks: Array<() => void>): void {
  const problems: InputProblem[] = [];
  for (const check of checks) {
    try {
      check();
    } catch (err) {
      if (err instanceof InvalidInputError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidInputError([{ field: "name", message: "must be 1-63 characters: lowercase letters, digits, '_' and '-'" }]);
  }
}

/**
 * Notification channels of projects and their delivery log. Channel writes take a mutation's
 * transaction; the dispatcher (`dispatcher.ts`) reads the channels and writes the log.
 */
export class NotificationService {
  constructor(
    private readonly db: Database,
    private readonly secrets: SecretService,
    /** Where notifiers may connect (`SLUICE_WEBHOOK_ALLOW`); checked when a channel is saved and when it sends. */
    readonly targets: WebhookTargetPolicy,
  ) {}

  private get repo(): Repository<NotificationChannelRow> {
    return this.db.dataSource.getRepository(NotificationChannelRow);
  }

  /** Creates a channel. @throws InvalidInputError naming each bad field; ConflictError on a taken name. */
  async create(tx: MutationTx, projectId: string, input: ChannelInput): Promise<NotificationChannelRow> {
    if (!UUID.test(projectId)) throw new NotFoundError("Project", projectId);
    let config: Record<string, unknown> = {};
    let eventTypes: string[] = [];
    gather([
      () => checkName(input.name),
      () => (config = checkNotifierConfig(input.kind, input.config, this.targets)),
      () => (eventTypes = checkPatterns(input.eventTypes)),
    ]);
    await lockWritableProject(tx.manager, projectId);
    if (await tx.manager.existsBy(NotificationChannelRow, { projectId, name: input.name })) {
      throw new ConflictError(`The project already has a notification channel named ${input.name}`, { field: "name" });
    }
    const secretName = await this.settleSecret(tx, projectId, input.kind, input.secretName ?? null, input.signingSecret ?? null);
    const row = await tx.manager.save(
      tx.manager.create(NotificationChannelRow, {
        projectId,
        name: input.name,
        kind: input.kind,
        config,
        secretName,
        eventTypes,
        enabled: input.enabled ?? true,
        createdBy: tx.caller.principalId,
      }),
    );
    this.emit(tx, NotificationEvents.created, row);
    return row;
  }

  /** Changes the given fields (the kind stays); the same checks as `create` apply to them. */
  async update(tx: MutationTx, id: string, patch: ChannelPatch): Promise<NotificationChannelRow> {
    const row = UUID.test(id)
      ? await tx.manager.findOne(NotificationChannelRow, { where: { id }, lock: { mode: "pessimistic_write" } })
      : null;
    if (!row) throw new NotFoundError("NotificationChannel", id);
    gather([
      () => patch.name != null && checkName(patch.name),
      () => patch.config != null && (row.config = checkNotifierConfig(row.kind, patch.config, this.targets)),
      () => patch.eventTypes != null && (row.eventTypes = checkPatterns(patch.eventTypes)),
    ]);
    await lockWritableProject(tx.manager, row.projectId);
    if (patch.name != null && patch.name !== row.name) {
      if (await tx.manager.existsBy(NotificationChannelRow, { projectId: row.projectId, name: patch.name })) {
        throw new ConflictError(`The project already has a notification channel named ${patch.name}`, { field: "name" });
      }
      row.name = patch.name;
    }
    if (patch.secretName != null || patch.signingSecret != null) {
      row.secretName = await this.settleSecret(
        tx,
        row.projectId,
        row.kind,
        patch.secretName ?? row.secretName,
        patch.signingSecret ?? null,
      );
    }
    if (patch.enabled != null) row.enabled = patch.enabled;
    await tx.manager.save(row);
    this.emit(tx, NotificationEvents.updated, row);
    return row;
  }

  /** Deletes a channel and its delivery log; deliveries not yet sent are dropped with it. */
  async delete(tx: MutationTx, id: string): Promise<NotificationChannelRow> {
    const row = UUID.test(id)
      ? await tx.manager.findOne(NotificationChannelRow, { where: { id }, lock: { mode: "pessimistic_write" } })
      : null;
    if (!row) throw new NotFoundError("NotificationChannel", id);
    await lockWritableProject(tx.manager, row.projectId);
    await tx.manager.delete(NotificationChannelRow, { id });
    this.emit(tx, NotificationEvents.deleted, row);
    return row;
  }

  /**
   * The secret name a channel keeps: stores `value` under `name` when given (checked against the
   * plugin's secret format first), otherwise checks the project already holds a usable secret of
   * that name. Messages never repeat a value.
   */
  private async settleSecret(
    tx: MutationTx,
    projectId: string,
    kind: string,
    name: string | null,
    value: string | null,
  ): Promise<string | null> {
    const plugin = notifierPlugin(kind);
    if (!name) {
      if (plugin.requiresSecret || value) {
        throw new InvalidInputError([
          { field: "secretName", message: `a ${kind} channel needs the name of the project secret it signs with` },
        ]);
      }
      return null;
    }
    if (!SECRET_NAME.test(name)) {
      throw new InvalidInputError([
        { field: "secretName", message: "must be a secret name: uppercase letters, digits and '_', starting with a letter" },
      ]);
    }
    if (value !== null) {
      const problem = plugin.checkSecret?.(value);
      if (problem) throw new InvalidInputError([{ field: "signingSecret", message: problem }]);
      await this.secrets.put(tx, projectId, name, value);
      return name;
    }
    let stored: string;
    try {
      stored = await this.secrets.reveal(tx.manager, projectId, name);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new InvalidInputError([
          { field: "secretName", message: "names no secret of this project: give signingSecret, or set the secret first" },
        ]);
      }
      throw err;
    }
    const problem = plugin.checkSecret?.(stored);
    if (problem) throw new InvalidInputError([{ field: "secretName", message: `names a secret whose value ${problem}` }]);
    return name;
  }

  private emit(tx: MutationTx, type: string, row: NotificationChannelRow): void {
    tx.emit({
      type,
      projectId: row.projectId,
      subjectId: row.id,
      payload: { channelId: row.id, name: row.name, kind: row.kind, enabled: row.enabled, eventTypes: row.eventTypes },
    });
  }

  async get(id: string): Promise<NotificationChannelRow | null> {
    return UUID.test(id) ? this.repo.findOneBy({ id }) : null;
  }

  /** A project's channel by name (unique in the project). */
  async getByName(projectId: string, name: string): Promise<NotificationChannelRow | null> {
    return UUID.test(projectId) ? this.repo.findOneBy({ projectId, name }) : null;
  }

  async list(
    projectId: string,
    filter: { kind?: string; enabled?: boolean },
    page: PageArgs,
    sort: SortSpec<NotificationChannelRow>,
  ): Promise<Page<NotificationChannelRow>> {
    const qb = this.repo.createQueryBuilder("c");
    if (UUID.test(projectId)) qb.where("c.projectId = :projectId", { projectId });
    else qb.where("FALSE");
    if (filter.kind !== undefined) qb.andWhere("c.kind = :kind", { kind: filter.kind });
    if (filter.enabled !== undefined) qb.andWhere("c.enabled = :enabled", { enabled: filter.enabled });
    return paginate(qb, page, sort);
  }

  /** The delivery log of a channel: one row per attempt. */
  async deliveries(
    channelId: string,
    filter: { status?: DeliveryStatus; eventType?: string; eventId?: string },
    page: PageArgs,
    sort: SortSpec<NotificationDeliveryRow>,
  ): Promise<Page<NotificationDeliveryRow>> {
    const qb = this.db.dataSource
      .getRepository(NotificationDeliveryRow)
      .createQueryBuilder("d")
      .where("d.channelId = :channelId", { channelId });
    if (filter.status) qb.andWhere("d.status = :status", { status: filter.status });
    if (filter.eventType) qb.andWhere("d.eventType = :eventType", { eventType: filter.eventType });
    if (filter.eventId !== undefined) {
      if (/^\d{1,18}$/.test(filter.eventId)) qb.andWhere("d.eventId = :eventId", { eventId: filter.eventId });
      else qb.andWhere("FALSE");
    }
    return paginate(qb, page, sort);
  }
}
