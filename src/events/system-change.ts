import type { EntityManager } from "typeorm";
import type { Database } from "../db/data-source";
import type { EventDraft } from "../kernel/ledger";
import type { EventBus } from "./event-bus";
import { appendEvents } from "./event.store";

/**
 * A change the system makes on its own (the run engine claiming or completing a stage, a
 * schedule firing): one transaction, its events written with it and published after commit,
 * like `runMutation` but without a caller to authorize or audit.
 */
export async function runSystemChange<T>(services: { db: Database; events: EventBus }, work: (tx: SystemTx) => Promise<T>): Promise<T> {
  const drafts: EventDraft[] = [];
  const committed: Array<() => Promise<void> | void> = [];
  const afterCommit = (fn: () => Promise<void> | void) => committed.push(fn);
  const value = await services.db.dataSource.transaction(async (manager) => {
    const value = await work({ manager, emit: (e) => drafts.push(e), afterCommit });
    await services.events.publishWith({ manager, afterCommit }, await appendEvents(manager, drafts, null));
    return value;
  });
  for (const fn of committed) await Promise.resolve(fn()).catch(() => undefined);
  return value;
}

/** The transaction of a system change. */
export interface SystemTx {
  manager: EntityManager;
  emit(event: EventDraft): void;
  afterCommit(fn: () => Promise<void> | void): void;
}
