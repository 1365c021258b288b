import type { EntityManager } from "typeorm";
import { AuditOutcome } from "../audit/audit-event.entity";
import type { Caller } from "../auth/principal";
import type { Permission } from "../auth/roles";
import { translateDatabaseError } from "../db/sql-text";
import { appendEvents, type EventDraft } from "../events/event.store";
import type { RequestContext } from "./context";
import type { Services } from "./services";
import { ErrorCode, SluiceError } from "./errors";

/** What a mutation is, for authorization and the audit log. */
export interface MutationScope {
  /** `noun.verb`, e.g. `project.rename`. */
  action: string;
  permission: Permission;
  /** The project the change happens in; undefined for global changes. */
  projectId?: string;
  /** The input as received; the audit log keeps a redacted summary. */
  input: unknown;
}

/** The transaction a mutation's work runs in. */
export interface MutationTx {
  manager: EntityManager;
  caller: Caller;
  /** Queues an event; it is written in this transaction and published after commit. */
  emit(event: EventDraft): void;
  /** Runs `fn` once the transaction has committed (never when it rolls back). */
  afterCommit(fn: () => Promise<void> | void): void;
}

/** What the work returns: the value for the resolver and what the audit log should say. */
export interface MutationOutcome<T> {
  value: T;
  /** Id of the resource changed. */
  targetId?: string;
  /** Set when the project is only known after the work (e.g. a project just created). */
  projectId?: string;
  /** Summary of the result for the audit log; ids, never secrets. */
  result?: Record<string, unknown>;
}

/**
 * Runs one mutation: authorize, do the work and write its events and its audit record in one
 * transaction, publish the events after commit. A refusal or failure rolls the work back and
 * is then audited on its own, so the log shows attempts as well as changes.
 */
export async function runMutation<T>(
  ctx: RequestContext,
  scope: MutationScope,
  work: (tx: MutationTx) => Promise<MutationOutcome<T>>,
): Promise<T> {
  const { services } = ctx;
  let caller: Caller;
  try {
    caller = ctx.authz.require(scope.permission, scope.projectId);
  } catch (err) {
    if (ctx.authz.caller) await auditFailure(ctx, scope, AuditOutcome.DENIED, err);
    throw err;
  }
  const drafts: EventDraft[] = [];
  const committed: Array<() => Promise<void> | void> = [];
  try {
    const { outcome } = await services.db.dataSource.transaction(async (manager) => {
      const afterCommit = (fn: () => Promise<void> | void) => committed.push(fn);
      const outcome = await work({ manager, caller, emit: (e) => drafts.push(e), afterCommit });
      const events = await appendEvents(manager, drafts, caller.principalId);
      await services.events.publishWith({ manager, afterCommit }, events);
      await services.audit.record(manager, {
        actorId: caller.principalId,
        actorName: caller.principalName,
        projectId: outcome.projectId ?? scope.projectId ?? null,
        action: scope.action,
        targetId: outcome.targetId ?? null,
        outcome: AuditOutcome.SUCCEEDED,
        input: scope.input,
        result: outcome.result ?? {},
        requestId: ctx.requestId,
      });
      return { outcome };
    });
    for (const fn of committed) await Promise.resolve(fn()).catch((err) => ctx.log.error({ err }, "an after-commit step failed"));
    return outcome.value;
  } catch (caught) {
    const err = translateDatabaseError(caught);
    await auditFailure(ctx, scope, AuditOutcome.FAILED, err);
    throw err;
  }
}

/**
 * Runs the slow, transaction-free first half of a mutation (reading files, converting data)
 * under the mutation's authorization, auditing a refusal or failure there as `runMutation`
 * would; the caller then records the result with `runMutation`.
 */
export async function prepareMutation<T>(ctx: RequestContext, scope: MutationScope, work: () => Promise<T>): Promise<T> {
  try {
    ctx.authz.require(scope.permission, scope.projectId);
  } catch (err) {
    if (ctx.authz.caller) await auditFailure(ctx, scope, AuditOutcome.DENIED, err);
    throw err;
  }
  try {
    return await work();
  } catch (err) {
    await auditFailure(ctx, scope, AuditOutcome.FAILED, err);
    throw err;
  }
}

async function auditFailure(ctx: RequestContext, scope: MutationScope, outcome: AuditOutcome, err: unknown): Promise<void> {
  const caller = ctx.authz.caller;
  const result =
    err instanceof SluiceError ? { code: err.code, message: err.message } : { code: ErrorCode.INTERNAL, message: "internal error" };
  try {
    await ctx.services.audit.record(ctx.services.db.dataSource.manager, {
      actorId: caller?.principalId ?? null,
      actorName: caller?.principalName ?? "anonymous",
      projectId: scope.projectId ?? null,
      action: scope.action,
      targetId: null,
      outcome,
      input: scope.input,
      result,
      requestId: ctx.requestId,
    });
  } catch (auditErr) {
    ctx.log.error({ err: auditErr, action: scope.action }, "could not audit a failed mutation");
  }
}

/**
 * A change the system makes on its own (the run engine claiming or completing a stage, a
 * schedule firing): one transaction, its events written with it and published after commit,
 * like `runMutation` but without a caller to authorize or audit.
 */
export async function runSystemChange<T>(services: Pick<Services, "db" | "events">, work: (tx: SystemTx) => Promise<T>): Promise<T> {
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
