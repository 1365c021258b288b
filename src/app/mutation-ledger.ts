import type { AuditService } from "../audit/audit.service";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import { appendEvents } from "../events/event.store";
import type { MutationLedger } from "../kernel/ledger";

/** The kernel's mutation ledger over this server's database, event stream and audit log. */
export function mutationLedger(db: Database, events: EventBus, audit: AuditService): MutationLedger {
  return {
    transaction: (work) => db.dataSource.transaction(work),
    get manager() {
      return db.dataSource.manager;
    },
    async writeEvents(tx, drafts, actorId) {
      await events.publishWith(tx, await appendEvents(tx.manager, drafts, actorId));
    },
    audit: (manager, entry) => audit.record(manager, entry),
  };
}
