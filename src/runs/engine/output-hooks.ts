import type { EntityManager } from "typeorm";
import type { StageFailure } from "../../../runners/contract";
import { InvalidInputError, SluiceError } from "../../kernel/errors";
import type { StoredObject } from "../../artifacts/store";
import type { EventDraft } from "../../events/event.store";
import type { RunRef } from "./run-meta";

/**
 * Hooks other capabilities attach to stage completion, so a built-in operator's result becomes a
 * record of that capability in the same transaction as the stage's success: an `ingest` output
 * becomes a dataset version, a `validate` report a stored report. The run engine knows nothing
 * of datasets; an output asks for a hook by name in its metadata (`register: { type, … }`), and a
 * failure by its type (`GATE_FAILED`).
 */
export interface HookTx {
  manager: EntityManager;
  emit(event: EventDraft): void;
  /** The server's hooks; without them, outputs asking for one are refused. */
  hooks?: StageHooks;
}

export interface OutputHookContext {
  run: RunRef;
  stageRunId: string;
  stageName: string;
  outputName: string;
  artifactId: string;
  stored: StoredObject;
  /** The output's metadata; `register` holds what the hook needs. */
  metadata: Record<string, unknown>;
  /** The stage's inputs: name → artifact id. */
  inputs: Record<string, string>;
  /** Every output of the stage: name → artifact id (a report names its quarantine output, say). */
  outputs: Record<string, string>;
  /** Who triggered the run, for `createdBy` columns. */
  triggeredBy: string | null;
}

export interface FailureHookContext {
  run: RunRef;
  stageRunId: string;
  stageName: string;
  failure: StageFailure;
  inputs: Record<string, string>;
}

/** Returns what the output became (e.g. `{ datasetVersionId }`), kept in the artifact's metadata as `registered`. */
export type OutputHook = (tx: HookTx, ctx: OutputHookContext) => Promise<Record<string, unknown> | void>;
export type FailureHook = (tx: HookTx, ctx: FailureHookContext) => Promise<void>;

/** One server's hooks (they close over its services: its artifact store, say). */
export class StageHooks {
  readonly outputs = new Map<string, OutputHook>();
  readonly failures = new Map<string, FailureHook>();

  /** Registers the hook for outputs whose metadata says `register: { type }`. */
  onOutput(type: string, hook: OutputHook): this {
    this.outputs.set(type, hook);
    return this;
  }

  /** Registers the hook for failures of `failureType`. */
  onFailure(failureType: string, hook: FailureHook): this {
    this.failures.set(failureType, hook);
    return this;
  }
}

/** The hook type an output asks for, if any. */
export function registrationOf(metadata: Record<string, unknown> | undefined): string | null {
  const reg = metadata?.register as { type?: unknown } | undefined;
  return reg && typeof reg.type === "string" ? reg.type : null;
}

/** Whether any produced output asks for a hook. */
export function needsOutputHooks(outputs: Record<string, { metadata?: Record<string, unknown> }>): boolean {
  return Object.values(outputs).some((o) => registrationOf(o.metadata) !== null);
}

/**
 * Records a stage's outputs (`record`, returning artifact ids by name) and runs their hooks, all
 * inside a savepoint with the hooks' events held back: when a hook refuses (a schema change the
 * dataset's policy forbids, say), the artifacts and everything the hooks wrote are rolled back,
 * their events dropped, and the refusal comes back as the stage's failure (`OUTPUT_REJECTED`).
 * What a hook returns is merged into its artifact's metadata, and the `register` request — which
 * may carry a whole profile or report — is replaced by that smaller answer.
 */
export async function recordOutputsWithHooks(
  tx: HookTx,
  record: () => Promise<Record<string, string>>,
  context: (outputName: string, artifactId: string, outputs: Record<string, string>) => OutputHookContext | null,
): Promise<{ ok: true; ids: Record<string, string> } | { ok: false; failure: StageFailure }> {
  const pending: EventDraft[] = [];
  const inner: HookTx = { manager: tx.manager, emit: (e) => pending.push(e), hooks: tx.hooks };
  await tx.manager.query("SAVEPOINT stage_output_hooks");
  try {
    const ids = await record();
    for (const [name, artifactId] of Object.entries(ids)) {
      const ctx = context(name, artifactId, ids);
      const type = ctx && registrationOf(ctx.metadata);
      if (!ctx || !type) continue;
      const hook = tx.hooks?.outputs.get(type);
      if (!hook)
        throw new InvalidInputError([
          { field: `outputs.${name}.metadata.register.type`, message: `"${type}" is not a known registration` },
        ]);
      const answer = (await hook(inner, ctx)) ?? {};
      await tx.manager.query(`UPDATE artifacts SET metadata = (metadata - 'register') || $2::jsonb WHERE id = $1`, [
        artifactId,
        JSON.stringify({ registered: { type, ...answer } }),
      ]);
    }
    await tx.manager.query("RELEASE SAVEPOINT stage_output_hooks");
    pending.forEach((e) => tx.emit(e));
    return { ok: true, ids };
  } catch (err) {
    await tx.manager.query("ROLLBACK TO SAVEPOINT stage_output_hooks");
    if (!(err instanceof SluiceError)) throw err;
    return {
      ok: false,
      failure: { type: "OUTPUT_REJECTED", message: err.message, nonRetryable: true, details: { code: err.code, ...err.details } },
    };
  }
}

/** Runs the failure hook for the failure's type, if one is registered. */
export async function runFailureHook(tx: HookTx, ctx: FailureHookContext): Promise<void> {
  await tx.hooks?.failures.get(ctx.failure.type)?.(tx, ctx);
}
