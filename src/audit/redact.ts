/** Keys whose values never enter the audit log. */
const SECRET_KEY = /token|secret|password|credential|api[_-]?key/i;
const MAX_STRING = 200;
const MAX_ITEMS = 20;
const MAX_DEPTH = 4;

// eslint-disable-next-line no-control-regex -- NUL is exactly what this strips
const NUL = /\u0000/g;
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` as PostgreSQL can store it: a NUL byte written as the six characters `\u0000`, an
 * unpaired surrogate as U+FFFD. A refused attempt's input may hold either, and its audit row
 * must still be written. Pure.
 */
export function storableText(text: string): string {
  return text.replace(NUL, "\\u0000").replace(LONE_SURROGATES, "\uFFFD");
}

/** `value` with every string and key made storable (see `storableText`), nothing cut. Pure. */
export function storableJson(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[storableText(k)] = storableJson(v);
    return out;
  }
  return value;
}

/**
 * A summary of a mutation's input fit for the audit log: secrets replaced by `[redacted]`,
 * long strings and lists cut (saying how much was cut), deep nesting elided, NUL bytes and
 * invalid Unicode escaped (`storableText`). Pure.
 */
export function summarizeInput(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string")
    return storableText(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… (${value.length} chars)` : value);
  if (typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[nested]";
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((v) => summarizeInput(v, depth + 1));
    if (value.length > MAX_ITEMS) items.push(`… ${value.length - MAX_ITEMS} more`);
    return items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[storableText(k)] = SECRET_KEY.test(k) ? "[redacted]" : summarizeInput(v, depth + 1);
  }
  return out;
}
