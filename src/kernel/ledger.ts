import type { EntityManager } from "typeorm";

/*
 * What a change writes besides its own rows: events and an audit record. The kernel's mutation
 * runner needs both but may import neither the event stream nor the audit log (they sit above
 * it), so it names them through these types and the app composes the implementation
 * (`app/mutation-ledger.ts`).
 */

/** An event a change produces; written with the change, published after commit. */
export interface EventDraft {
  type: string;
  projectId?: string | null;
  subjectId?: string | null;
  payload?: Record<string, unknown>;
}

/** How an audited mutation ended. */
export enum AuditOutcome {
  /** The change was committed together with this row. */
  SUCCEEDED = "SUCCEEDED",
  /** The change was refused or failed and rolled back; this row was written on its own. */
  FAILED = "FAILED",
  /** The caller lacked the role; nothing was attempted. */
  DENIED = "DENIED",
}

/** One audit record to write. */
export interface AuditEntry {
  actorId: string | null;
  actorName: string;
  projectId: string | null;
  action: string;
  targetId: string | null;
  outcome: AuditOutcome;
  input: unknown;
  result: Record<string, unknown>;
  requestId: string | null;
}

/** The hooks of one open transaction. */
export interface TransactionHooks {
  manager: EntityManager;
  /** Runs `fn` once the transaction has committed (never when it rolls back). */
  afterCommit(fn: () => Promise<void> | void): void;
}

/** Where a mutation's transaction, events and audit record are written. */
export interface MutationLedger {
  /** Runs `work` in one database transaction. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T>;
  /** The manager for writes outside a transaction (an audit row of a refused mutation). */
  readonly manager: EntityManager;
  /** Writes `drafts` in the transaction of `tx` and publishes them after its commit. */
  writeEvents(tx: TransactionHooks, drafts: readonly EventDraft[], actorId: string | null): Promise<void>;
  /** Appends one audit record through `manager`. */
  audit(manager: EntityManager, entry: AuditEntry): Promise<void>;
}
