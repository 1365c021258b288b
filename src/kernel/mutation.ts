import type { EntityManager } from "typeorm";
import type { Caller } from "./principal";
import type { Permission } from "./roles";
import { translateDatabaseError } from "./sql-text";
import type { RequestContext } from "./context";
import { ErrorCode, SluiceError } from "./errors";
import { isUuid } from "./ids";
import { AuditOutcome, type EventDraft } from "./ledger";

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
  const { ledger } = ctx.services;
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
    const { outcome } = await ledger.transaction(async (manager) => {
      const afterCommit = (fn: () => Promise<void> | void) => committed.push(fn);
      const outcome = await work({ manager, caller, emit: (e) => drafts.push(e), afterCommit });
      await ledger.writeEvents({ manager, afterCommit }, drafts, caller.principalId);
      await ledger.audit(manager, {
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
      noteAudited(ctx);
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

async function auditFailure(
  ctx: RequestContext,
  scope: Pick<MutationScope, "action" | "projectId" | "input">,
  outcome: AuditOutcome,
  err: unknown,
): Promise<void> {
  const caller = ctx.authz.caller;
  const result =
    err instanceof SluiceError ? { code: err.code, message: err.message } : { code: ErrorCode.INTERNAL, message: "internal error" };
  try {
    await ctx.services.ledger.audit(ctx.services.ledger.manager, {
      actorId: caller?.principalId ?? null,
      actorName: caller?.principalName ?? "anonymous",
      // The column is a uuid: a malformed project id stays visible in the input, not here.
      projectId: isUuid(scope.projectId) ? scope.projectId : null,
      action: scope.action,
      targetId: null,
      outcome,
      input: scope.input,
      result,
      requestId: ctx.requestId,
    });
    noteAudited(ctx);
  } catch (auditErr) {
    ctx.log.error({ err: auditErr, action: scope.action }, "could not audit a failed mutation");
  }
}

/** Audit rows written for each request context, so the refusal net below writes only what is missing. */
const auditedRows = new WeakMap<RequestContext, number>();

function noteAudited(ctx: RequestContext): void {
  auditedRows.set(ctx, (auditedRows.get(ctx) ?? 0) + 1);
}

/** How many audit rows mutations of this request have written so far. */
export function auditRowsWritten(ctx: RequestContext): number {
  return auditedRows.get(ctx) ?? 0;
}

/**
 * Audits a refused attempt of the mutation field `field` that left no row of its own: refused
 * before its resolver ran (bad input, too costly) or by a check outside `runMutation`. The action
 * is `graphql.<field>`; the outcome DENIED for an authorization refusal, FAILED otherwise. Only
 * callers with a token are audited (an anonymous refusal names nobody), as `runMutation` does.
 */
export async function auditRefusedAttempt(ctx: RequestContext, field: string, input: unknown, err: unknown): Promise<void> {
  if (!ctx.authz.caller) return;
  const code = err instanceof SluiceError ? err.code : errorCodeOf(err);
  const denied = code === ErrorCode.FORBIDDEN || code === ErrorCode.UNAUTHENTICATED;
  const projectId = projectIdIn(input);
  await auditFailure(
    ctx,
    { action: `graphql.${field}`, projectId, input },
    denied ? AuditOutcome.DENIED : AuditOutcome.FAILED,
    err instanceof SluiceError || code === ErrorCode.INTERNAL
      ? err
      : new SluiceError(code, err instanceof Error ? err.message : String(err)),
  );
}

function errorCodeOf(err: unknown): ErrorCode {
  const code = (err as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === "string" && code in ErrorCode && code !== ErrorCode.INTERNAL ? (code as ErrorCode) : ErrorCode.INTERNAL;
}

/** `projectId` of the arguments or of their `input`, when it is an id. */
function projectIdIn(input: unknown): string | undefined {
  const args = input as { projectId?: unknown; input?: { projectId?: unknown } } | null;
  const id = args?.projectId ?? args?.input?.projectId;
  return isUuid(id) ? id : undefined;
}

/** Contexts in which a mutation resolver has started: their refusals are audited field by field. */
const resolversRan = new WeakSet<RequestContext>();

/** Records that a mutation resolver started in this request. */
export function noteMutationResolverRan(ctx: RequestContext): void {
  resolversRan.add(ctx);
}

/** Whether any mutation resolver started in this request (false: the operation was refused before execution). */
export function mutationResolverRan(ctx: RequestContext): boolean {
  return resolversRan.has(ctx);
}
