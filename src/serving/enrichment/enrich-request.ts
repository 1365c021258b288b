/**
 * Fills the view-feature inputs a request left out from the online store, by the entity keys it
 * sent instead — in the records form (`{"instances": [{"origin": "SFO", "hour": 7, …}]}`) and the
 * OIP form (an entity key is an input of its own, BYTES or integer, one value per row).
 *
 * Rules, per row (records) or per tensor (OIP) and per feature view:
 * - a feature input the caller sent is kept as sent, even null: the caller's value wins;
 * - the others are looked up by the view's entity keys, which must then be present (else a 400
 *   naming the missing input and the keys that would have looked it up);
 * - a key the store does not know, or whose row is older than the view's TTL, gives the feature's
 *   missing value (null: NaN for float inputs, "" for strings — what Sluice's exported
 *   preprocessing imputes, as for any missing value in training) and is reported as a miss;
 * - entity key columns the model does not take are removed before decoding (the decoders refuse
 *   unknown columns, to catch misspellings) but kept in what is logged.
 *
 * One lookup per view per request (split at MAX_ONLINE_KEYS keys), for the distinct keys of the
 * rows that need it. Pure apart from the lookup the caller passes in.
 */
import { InvalidInputError, type InputProblem } from "../../kernel/errors";
import { MAX_ONLINE_KEYS, encodeEntityKey } from "../../features";
import type { ModelSignature, TensorSpec } from "../../registry";
import { datatypeOfOnnx } from "../oip";
import type { EnrichedInput, EnrichmentPlan, ViewPlan } from "./plan";

/** What the store holds for one key: its values, or null with why (unknown, or expired by the view's TTL). */
export interface LookupResult {
  values: Record<string, unknown> | null;
  expired: boolean;
}

/** Reads the online values of `viewName` for keys spelled by `encodeEntityKey`, in their order. */
export type OnlineLookup = (viewName: string, encodedKeys: string[]) => Promise<LookupResult[]>;

export type MissReason = "unknown" | "expired";

export interface EnrichedRequest {
  /** The request to decode: looked-up features added, entity keys the model does not take removed. */
  body: Record<string, unknown>;
  /** The request as the prediction log keeps it: what the model saw, plus the entity keys. */
  logged: Record<string, unknown>;
  /** Keys looked up per view, and those that gave missing values, by reason. */
  lookups: Array<{ view: string; keys: number; unknown: number; expired: number }>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");

const INTEGER_KEY_TYPES = new Set(["INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]);

/**
 * A stored feature value as the input's datatype takes it in JSON. Values are what DuckDB's
 * `to_json` wrote: numbers, strings (for types JSON has no number for), booleans, null.
 */
export function valueFor(spec: TensorSpec, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (datatypeOfOnnx(spec.type)) {
    case "FP32":
    case "FP64":
    case "FP16":
      if (typeof value === "number") return value;
      if (typeof value === "boolean") return value ? 1 : 0;
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
      return null;
    case "BYTES":
      return typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
    default:
      // Integer and boolean inputs take the value as stored; the decoder names a value it cannot take.
      return value;
  }
}

/** Looks `keys` up in chunks of MAX_ONLINE_KEYS (one query in the usual case); answers by encoded key. */
async function lookupAll(lookup: OnlineLookup, viewName: string, keys: string[]): Promise<Map<string, LookupResult>> {
  const distinct = [...new Set(keys)];
  const found = new Map<string, LookupResult>();
  for (let i = 0; i < distinct.length; i += MAX_ONLINE_KEYS) {
    const chunk = distinct.slice(i, i + MAX_ONLINE_KEYS);
    const results = await lookup(viewName, chunk);
    chunk.forEach((k, j) => found.set(k, results[j] ?? { values: null, expired: false }));
  }
  return found;
}

/** Looks up every view with rows to fill; per view, the results by key and the counts. */
async function lookupViews(
  pending: Array<{ view: ViewPlan; keys: string[] }>,
  lookup: OnlineLookup,
): Promise<{ results: Map<ViewPlan, Map<string, LookupResult>>; lookups: EnrichedRequest["lookups"] }> {
  const results = new Map<ViewPlan, Map<string, LookupResult>>();
  const lookups: EnrichedRequest["lookups"] = [];
  await Promise.all(
    pending.map(async (p) => {
      const byKey = await lookupAll(lookup, p.view.viewName, p.keys);
      results.set(p.view, byKey);
      let unknown = 0;
      let expired = 0;
      for (const k of p.keys) {
        const r = byKey.get(k)!;
        if (r.values === null) {
          if (r.expired) expired++;
          else unknown++;
        }
      }
      lookups.push({ view: p.view.viewName, keys: p.keys.length, unknown, expired });
    }),
  );
  return { results, lookups };
}

/**
 * Enriches `body` by `plan`. Answers undefined when there is nothing to do (no view feature left
 * out, no entity key to remove), so the request is decoded as sent.
 *
 * @throws InvalidInputError naming each row (or input) with a view feature and none of the entity
 *   keys to look it up, and each key value that is not a string, an integer or a boolean
 */
export async function enrichRequest(
  body: unknown,
  plan: EnrichmentPlan,
  signature: ModelSignature,
  lookup: OnlineLookup,
): Promise<EnrichedRequest | undefined> {
  if (plan.views.length === 0 || !isObject(body)) return undefined;
  // The decoders answer malformed requests; only well-formed ones are enriched.
  if (body.instances !== undefined && body.inputs === undefined) {
    return Array.isArray(body.instances) ? enrichRecords(body, body.instances, plan, signature, lookup) : undefined;
  }
  return Array.isArray(body.inputs) ? enrichTensors(body, body.inputs, plan, signature, lookup) : undefined;
}

/** Entity key columns of the plan's views that the model does not take as inputs. */
function droppedKeys(plan: EnrichmentPlan, signature: ModelSignature): Set<string> {
  const takes = new Set(signature.inputs.map((s) => s.name));
  return new Set(plan.views.flatMap((v) => v.entities).filter((e) => !takes.has(e)));
}

async function enrichRecords(
  body: Json,
  instances: unknown[],
  plan: EnrichmentPlan,
  signature: ModelSignature,
  lookup: OnlineLookup,
): Promise<EnrichedRequest | undefined> {
  const drop = droppedKeys(plan, signature);
  const problems: InputProblem[] = [];
  // Per view: the rows that need a lookup, what each one misses, and its encoded key.
  const pending = plan.views.map((view) => ({ view, rows: [] as Array<{ r: number; missing: EnrichedInput[] }>, keys: [] as string[] }));
  let hasKeys = false;
  instances.forEach((inst, r) => {
    if (!isObject(inst)) return;
    if (!hasKeys && Object.keys(inst).some((k) => drop.has(k))) hasKeys = true;
    for (const p of pending) {
      const missing = p.view.inputs.filter((i) => !(i.input in inst));
      if (missing.length === 0) continue;
      const absent = p.view.entities.filter((e) => !(e in inst));
      if (absent.length > 0) {
        for (const m of missing) {
          problems.push({
            field: `instances[${r}]`,
            message: `missing column "${m.input}" and the entity key ${quoted(absent)} of feature view ${p.view.viewName} to look it up`,
          });
        }
        continue;
      }
      try {
        p.keys.push(encodeEntityKey(p.view.entities.map((e) => inst[e])));
        p.rows.push({ r, missing });
      } catch (err) {
        problems.push({
          field: `instances[${r}]`,
          message: `entity key ${quoted(p.view.entities)} of feature view ${p.view.viewName}: ${(err as Error).message}`,
        });
      }
    }
  });
  if (problems.length > 0) throw new InvalidInputError(problems.slice(0, 20));
  const work = pending.filter((p) => p.rows.length > 0);
  if (work.length === 0 && !hasKeys) return undefined;

  const { results, lookups } = await lookupViews(work, lookup);
  const seen = instances.map((inst) => (isObject(inst) ? { ...inst } : inst));
  for (const p of work) {
    const byKey = results.get(p.view)!;
    p.rows.forEach(({ r, missing }, j) => {
      const values = byKey.get(p.keys[j]!)!.values;
      const row = seen[r] as Json;
      for (const m of missing) row[m.input] = valueFor(m.spec, values?.[m.feature]);
    });
  }
  const decoded = seen.map((inst) => {
    if (!isObject(inst)) return inst;
    const out: Json = {};
    for (const [k, v] of Object.entries(inst)) if (!drop.has(k)) out[k] = v;
    return out;
  });
  return { body: { ...body, instances: decoded }, logged: { ...body, instances: seen }, lookups };
}

/** The values of an OIP entity key input, one per row; a problem when it is not one. */
function keyColumn(raw: Json, viewName: string, problems: InputProblem[]): unknown[] | undefined {
  const field = `inputs.${String(raw.name)}`;
  const dt = raw.datatype;
  if (dt !== "BYTES" && !(typeof dt === "string" && INTEGER_KEY_TYPES.has(dt))) {
    problems.push({
      field,
      message: `is an entity key of feature view ${viewName}: its datatype must be BYTES (or an integer type), not ${JSON.stringify(dt)}`,
    });
    return undefined;
  }
  const shape = raw.shape;
  const data = Array.isArray(raw.data) ? (raw.data as unknown[]).flat(Infinity) : undefined;
  const rows = Array.isArray(shape) && typeof shape[0] === "number" ? shape[0] : undefined;
  if (!data || rows === undefined || data.length !== rows) {
    problems.push({ field, message: `is an entity key of feature view ${viewName}: give one value per row, shape [N] or [N, 1]` });
    return undefined;
  }
  return data;
}

async function enrichTensors(
  body: Json,
  inputs: unknown[],
  plan: EnrichmentPlan,
  signature: ModelSignature,
  lookup: OnlineLookup,
): Promise<EnrichedRequest | undefined> {
  const drop = droppedKeys(plan, signature);
  const given = new Map<string, Json>();
  for (const raw of inputs) if (isObject(raw) && typeof raw.name === "string" && !given.has(raw.name)) given.set(raw.name, raw);
  const problems: InputProblem[] = [];
  const pending: Array<{ view: ViewPlan; missing: EnrichedInput[]; keys: string[] }> = [];
  for (const view of plan.views) {
    const missing = view.inputs.filter((i) => !given.has(i.input));
    if (missing.length === 0) continue;
    const absent = view.entities.filter((e) => !given.has(e));
    if (absent.length > 0) {
      for (const m of missing) {
        problems.push({
          field: "inputs",
          message: `missing input "${m.input}" and the entity key input ${quoted(absent)} (BYTES [N]) of feature view ${view.viewName} to look it up`,
        });
      }
      continue;
    }
    const columns = view.entities.map((e) => keyColumn(given.get(e)!, view.viewName, problems));
    if (columns.some((c) => c === undefined)) continue;
    const rows = columns[0]!.length;
    if (columns.some((c) => c!.length !== rows)) {
      problems.push({
        field: "inputs",
        message: `the entity key inputs ${quoted(view.entities)} of feature view ${view.viewName} differ in rows`,
      });
      continue;
    }
    const keys: string[] = [];
    for (let r = 0; r < rows; r++) {
      try {
        keys.push(encodeEntityKey(columns.map((c) => c![r])));
      } catch (err) {
        problems.push({ field: `inputs.${view.entities.join(",")}`, message: `row ${r}: ${(err as Error).message}` });
        break;
      }
    }
    pending.push({ view, missing, keys });
  }
  if (problems.length > 0) throw new InvalidInputError(problems.slice(0, 20));
  if (pending.length === 0 && ![...given.keys()].some((k) => drop.has(k))) return undefined;

  const { results, lookups } = await lookupViews(pending, lookup);
  const added: Json[] = [];
  for (const p of pending) {
    const byKey = results.get(p.view)!;
    const rows = p.keys.length;
    for (const m of p.missing) {
      added.push({
        name: m.input,
        datatype: datatypeOfOnnx(m.spec.type),
        shape: m.spec.shape?.length === 1 ? [rows] : [rows, 1],
        data: p.keys.map((k) => valueFor(m.spec, byKey.get(k)!.values?.[m.feature])),
      });
    }
  }
  const kept = inputs.filter((raw) => !(isObject(raw) && typeof raw.name === "string" && drop.has(raw.name)));
  return { body: { ...body, inputs: [...kept, ...added] }, logged: { ...body, inputs: [...inputs, ...added] }, lookups };
}
