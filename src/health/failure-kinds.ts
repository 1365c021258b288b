/**
 * The fixed list of stage failure kinds health reports, as label values and series keys: the
 * runners' failure codes (runners/failures.ts) and the engine's own. A failure whose type is not
 * in the list (a remote agent may report any string) counts as `OTHER`, so the set stays bounded.
 */
import { FailureType } from "../../runners/failures";

/** Failure types the engine itself records (src/runs/engine: lost leases, completion, output hooks). */
const ENGINE_FAILURES = ["LEASE_EXPIRED", "ENGINE_ERROR", "OUTPUT_REJECTED", "OUTPUT_NOT_STORED", "MISSING_OUTPUT"] as const;

/** Every failure kind health knows, then `OTHER`. */
export const FAILURE_KINDS: readonly string[] = Object.freeze([...new Set([...Object.values(FailureType), ...ENGINE_FAILURES]), "OTHER"]);

const KNOWN = new Set(FAILURE_KINDS);

/** The kind a failure type counts as: itself when known, else `OTHER`. */
export function failureKind(type: string | null | undefined): string {
  return type && KNOWN.has(type) ? type : "OTHER";
}
