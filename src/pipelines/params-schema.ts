import { createHash } from "node:crypto";
import net from "node:net";
import Ajv, { type Options, type ValidateFunction } from "ajv";
import Ajv2019 from "ajv/dist/2019";
import Ajv2020 from "ajv/dist/2020";
import type { JsonSchema } from "./spec";

/**
 * Stage parameter schemas: compiling a user's `paramsSchema` with ajv, with a bounded cache of
 * compiled validators keyed by the schema's hash, so a spec validated on every request, or 1,000
 * stages sharing one schema, compile it once.
 *
 * @internal used by validate.ts; other folders go through `validatePipelineSpec` and `resolveStageParams`.
 */

/** A compiled schema, or why it does not compile (ajv's message). */
export type CompiledParamsSchema = { ok: true; validate: ValidateFunction } | { ok: false; message: string };

/** Most compiled validators kept; the least recently used goes first. */
const CACHE_LIMIT = 500;
const cache = new Map<string, CompiledParamsSchema>();
/** The same schema object again (a stored spec resolving parameters run after run) skips even the hashing. */
const byObject = new WeakMap<JsonSchema, CompiledParamsSchema>();

const OPTIONS: Options = {
  allErrors: true,
  useDefaults: true,
  // Errors carry their parent schema, so an unknown property is named with the allowed ones.
  verbose: true,
  // Unknown keywords and formats are errors (a typo such as `minimun` would otherwise pass); the
  // type-strictness checks are off, as they reject ordinary schemas such as `type: [string, number]`.
  strictSchema: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowUnionTypes: true,
  logger: false,
};

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i;

function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= days;
}

/** The common string formats, so `format: date-time` and friends check values instead of failing to compile. */
const FORMATS: Record<string, (s: string) => boolean> = {
  date: isDate,
  time: (s) => TIME.test(s),
  "date-time": (s) => {
    const [date, time, ...rest] = s.split(/t/i);
    return rest.length === 0 && time !== undefined && isDate(date) && TIME.test(time);
  },
  email: (s) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s),
  hostname: (s) => s.length <= 253 && /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(s),
  ipv4: (s) => net.isIPv4(s),
  ipv6: (s) => net.isIPv6(s),
  uri: (s) => /^[a-z][a-z0-9+.-]*:/i.test(s) && URL.canParse(s),
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  regex: (s) => {
    try {
      new RegExp(s, "u");
      return true;
    } catch {
      return false;
    }
  },
};

type Draft = "07" | "2019-09" | "2020-12";
const instances = new Map<Draft, Ajv>();

function ajvFor(draft: Draft): Ajv {
  let ajv = instances.get(draft);
  if (!ajv) {
    ajv = draft === "2020-12" ? new Ajv2020(OPTIONS) : draft === "2019-09" ? new Ajv2019(OPTIONS) : new Ajv(OPTIONS);
    for (const [name, validate] of Object.entries(FORMATS)) ajv.addFormat(name, { type: "string", validate });
    instances.set(draft, ajv);
  }
  return ajv;
}

function draftOf(schema: JsonSchema): Draft {
  const declared = typeof schema.$schema === "string" ? schema.$schema : "";
  if (declared.includes("2020-12")) return "2020-12";
  if (declared.includes("2019-09")) return "2019-09";
  return "07";
}

/**
 * Compiles `schema` (a plain JSON value), or returns ajv's reason it does not compile.
 * The validator fills in schema `default`s (`useDefaults`), so it mutates what it validates: pass
 * it a copy. Never throws. Schemas are treated as immutable once compiled.
 */
export function compileParamsSchema(schema: JsonSchema): CompiledParamsSchema {
  const known = byObject.get(schema);
  if (known) return known;
  const compiled = compileByHash(schema);
  byObject.set(schema, compiled);
  return compiled;
}

function compileByHash(schema: JsonSchema): CompiledParamsSchema {
  const json = JSON.stringify(schema);
  const key = createHash("sha256").update(json).digest("hex");
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const ajv = ajvFor(draftOf(schema));
  // Compile a private copy and drop it from ajv's own registry afterwards: ajv keeps every
  // compiled schema (and refuses a second schema with the same `$id`), which for user schemas
  // would grow without bound.
  const own = JSON.parse(json) as JsonSchema;
  let compiled: CompiledParamsSchema;
  try {
    compiled = { ok: true, validate: ajv.compile(own) };
  } catch (err) {
    compiled = { ok: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    ajv.removeSchema(own);
  }
  cache.set(key, compiled);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  return compiled;
}

/** How many compiled validators are cached (for tests). @internal */
export function paramsSchemaCacheSize(): number {
  return cache.size;
}
