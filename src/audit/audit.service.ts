import type { EntityManager, Repository } from "typeorm";
import type { Database } from "../db/data-source";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { AuditEntry } from "../kernel/ledger";
import { AuditEventRow, type AuditOutcome } from "./audit-event.entity";
import { storableJson, storableText, summarizeInput } from "./redact";

export type { AuditEntry };

/** Filters of the `auditEvents` query; each set field must match. */
export interface AuditFilter {
  actorId?: string;
  projectId?: string;
  action?: string;
  since?: Date;
  until?: Date;
  outcome?: AuditOutcome;
}

/** Writes and reads the audit log. Writing takes the caller's transaction on purpose. */
export class AuditService {
  constructor(private readonly db: Database) {}

  private get repo(): Repository<AuditEventRow> {
    return this.db.dataSource.getRepository(AuditEventRow);
  }

  /**
   * Appends one record through `manager`: pass the mutation's transaction so the record
   * commits or rolls back with the change it describes.
   */
  async record(manager: EntityManager, entry: AuditEntry): Promise<void> {
    const input = summarizeInput(entry.input);
    const row = manager.create(AuditEventRow, {
      ...entry,
      actorName: storableText(entry.actorName),
      result: storableJson(entry.result) as Record<string, unknown>,
      input: (input && typeof input === "object" ? input : { value: input }) as Record<string, unknown>,
    });
    await manager.insert(AuditEventRow, row);
  }

  /** Newest first, filtered, as a cursor page. */
  async list(filter: AuditFilter, page: PageArgs, sort: SortSpec<AuditEventRow>): Promise<Page<AuditEventRow>> {
    const qb = this.repo.createQueryBuilder("a");
    if (filter.actorId) qb.andWhere("a.actorId = :actorId", { actorId: filter.actorId });
    if (filter.projectId) qb.andWhere("a.projectId = :projectId", { projectId: filter.projectId });
    if (filter.action) qb.andWhere("a.action = :action", { action: filter.action });
    if (filter.outcome) qb.andWhere("a.outcome = :outcome", { outcome: filter.outcome });
    if (filter.since) qb.andWhere("a.at >= :since", { since: filter.since });
    if (filter.until) qb.andWhere("a.at < :until", { until: filter.until });
    return paginate(qb, page, sort);
  }
}
