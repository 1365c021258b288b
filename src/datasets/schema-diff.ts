import { editDistance } from "../kernel/close-match";
import { isWidening } from "./columnar/schema";
import type { ColumnProfile, ColumnSchema, DatasetProfile, SchemaDiff, SchemaPolicy } from "./types";

/** Profiles, when known, let a rename be recognised by its values as well as its name. */
export interface DiffHints {
  prevProfile?: DatasetProfile | null;
  nextProfile?: DatasetProfile | null;
}

const squash = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "");

/** Why `from` and `to` look like one column renamed, or null when they don't. */
function renameReason(from: ColumnSchema, to: ColumnSchema, prev?: ColumnProfile, next?: ColumnProfile): string | null {
  if (from.type !== to.type && !isWidening(from.type, to.type)) return null;
  const a = squash(from.name);
  const b = squash(to.name);
  if (a === b) return "same name apart from case and separators";
  const similarity = 1 - editDistance(a, b) / Math.max(a.length, b.length, 1);
  if (similarity >= 0.6) return `similar names (${Math.round(similarity * 100)}% alike)`;
  if (prev && next && prev.count > 0 && prev.nullCount === next.nullCount && prev.count === next.count) {
    const sameRange = prev.min === next.min && prev.max === next.max;
    const closeDistinct = Math.abs(prev.distinctEstimate - next.distinctEstimate) <= Math.max(1, 0.02 * prev.distinctEstimate);
    if (sameRange && closeDistinct) return "same counts, range and distinct values";
  }
  return null;
}

/**
 * How `next` differs from `prev`. A removed and an added column that look alike (compatible
 * type, and a similar name or the same value profile) are reported once as a rename rather than
 * as a removal and an addition; each column pairs at most once, best-looking pairs first in
 * column order.
 */
export function diffSchemas(prev: readonly ColumnSchema[], next: readonly ColumnSchema[], hints: DiffHints = {}): SchemaDiff {
  const before = new Map(prev.map((c) => [c.name, c]));
  const after = new Map(next.map((c) => [c.name, c]));
  let added = next.filter((c) => !before.has(c.name));
  let removed = prev.filter((c) => !after.has(c.name));
  const retyped = next
    .filter((c) => before.has(c.name) && before.get(c.name)!.type !== c.type)
    .map((c) => ({ name: c.name, from: before.get(c.name)!.type, to: c.type, widening: isWidening(before.get(c.name)!.type, c.type) }));
  const profileOf = (p: DatasetProfile | null | undefined, name: string) => p?.columns.find((c) => c.name === name);
  const renamed: SchemaDiff["renamed"] = [];
  for (const gone of removed) {
    const match = added.find((c) => renameReason(gone, c, profileOf(hints.prevProfile, gone.name), profileOf(hints.nextProfile, c.name)));
    if (!match) continue;
    const reason = renameReason(gone, match, profileOf(hints.prevProfile, gone.name), profileOf(hints.nextProfile, match.name))!;
    renamed.push({ from: gone.name, to: match.name, type: match.type, reason });
    added = added.filter((c) => c !== match);
  }
  removed = removed.filter((c) => !renamed.some((r) => r.from === c.name));
  const breaking = removed.length > 0 || renamed.length > 0 || retyped.some((r) => !r.widening);
  const changed = added.length > 0 || removed.length > 0 || renamed.length > 0 || retyped.length > 0;
  return { added, removed, retyped, renamed, breaking, changed };
}

/** The changes `policy` refuses, each a sentence; empty when the version may be recorded. */
export function policyViolations(diff: SchemaDiff, policy: SchemaPolicy): string[] {
  if (policy === "ALLOW_ALL") return [];
  const out: string[] = [];
  for (const c of diff.removed) out.push(`column ${c.name} (${c.type}) was removed`);
  for (const r of diff.renamed) out.push(`column ${r.from} looks renamed to ${r.to} (${r.reason})`);
  for (const r of diff.retyped) {
    if (!r.widening) out.push(`column ${r.name} changed type from ${r.from} to ${r.to}, which not every value survives`);
    else if (policy === "FAIL_ON_ANY") out.push(`column ${r.name} widened from ${r.from} to ${r.to}`);
  }
  if (policy === "FAIL_ON_ANY") for (const c of diff.added) out.push(`column ${c.name} (${c.type}) was added`);
  return out;
}
