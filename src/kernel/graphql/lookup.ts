import { ErrorCode, SluiceError } from "../errors";

/*
 * The one rule of single-object queries (docs/api-conventions.md, "Looking one thing up"): a
 * thing with a natural key is found by `id` alone or by its complete key, never both, never
 * neither, never half a key. Resolvers pass their arguments here and read the form back; the
 * refusal is worded here only.
 */

type Given<A, K extends keyof A> = { [P in K]-?: Exclude<A[P], null | undefined> };
/** The arguments of one key, all given; over a union of keys, those of one of them. */
type KeyArgs<A, K> = K extends readonly (keyof A)[] ? Given<A, K[number]> : never;

/** How a thing may be found besides its `id`. */
export interface LookupKeys<A, K extends readonly (keyof A)[]> {
  /** The natural key; a list of keys are alternatives (a model version's number or its alias). */
  readonly key: K | readonly K[];
  /** Arguments that may come with a key but not with `id` (a feature view's `version`). */
  readonly optional?: readonly (keyof A & string)[];
}

/** The form the caller used: `{ id }`, or `{ key }` with the complete key (and any optional argument given). */
export type Lookup<A, K extends readonly (keyof A)[]> = { id: string; key?: undefined } | { id?: undefined; key: KeyArgs<A, K> };

/**
 * BAD_USER_INPUT for lookup arguments that are no single form: neither, both, or half a key.
 * `extensions.missing` and `extensions.extra` list the arguments (also as `problems`).
 */
export class LookupArgumentsError extends SluiceError {
  constructor(
    readonly missing: readonly string[],
    readonly extra: readonly string[],
    rule: string,
  ) {
    const parts = [
      missing.length ? `missing ${missing.length > 1 ? "arguments" : "argument"} ${quote(missing)}` : "",
      extra.length ? `extra ${extra.length > 1 ? "arguments" : "argument"} ${quote(extra)}` : "",
    ].filter(Boolean);
    const problems = [...missing.map((field) => ({ field, message: "missing" })), ...extra.map((field) => ({ field, message: "extra" }))];
    const what = parts.join(", ");
    super(ErrorCode.BAD_USER_INPUT, `${what.charAt(0).toUpperCase()}${what.slice(1)}: ${rule}`, { problems, missing, extra });
    this.name = "LookupArgumentsError";
  }
}

const isGiven = (value: unknown): boolean => value !== null && value !== undefined;
const quote = (names: readonly string[]): string => names.map((n) => `\`${n}\``).join(", ");

/**
 * Checks a lookup's arguments: returns `{ id }` or `{ key }`, or throws `LookupArgumentsError`
 * (BAD_USER_INPUT naming the missing and extra arguments) when neither form, both forms, or an
 * incomplete key is given.
 *
 *     const by = lookupBy({ id, projectId, name }, { key: ["projectId", "name"] });
 *     const row = by.key ? await getByName(by.key.projectId, by.key.name) : await get(by.id);
 */
export function lookupBy<A extends { id?: string | null }, const K extends readonly (keyof A & string)[]>(
  args: A,
  spec: LookupKeys<A, K>,
): Lookup<A, K> {
  const keys = (Array.isArray(spec.key[0]) ? spec.key : [spec.key]) as readonly (readonly string[])[];
  const optional: readonly string[] = spec.optional ?? [];
  const value = (name: string): unknown => (args as Record<string, unknown>)[name];
  const given = [...new Set([...keys.flat(), ...optional])].filter((name) => isGiven(value(name)));
  const rule =
    `give \`id\`, or ${keys.map((key) => key.map((n) => `\`${n}\``).join(" + ")).join(", or ")}` +
    (optional.length ? ` (${quote(optional)} optional with a key)` : "");

  if (isGiven(args.id)) {
    if (given.length === 0) return { id: args.id as string };
    throw new LookupArgumentsError([], given, `${rule}, not both`);
  }
  if (given.length === 0) throw new LookupArgumentsError(["id"], [], rule);
  // The key the caller came closest to: the most of its arguments given, then the fewest extra.
  const extraFor = (key: readonly string[]) => given.filter((n) => !key.includes(n) && !optional.includes(n));
  const missingFor = (key: readonly string[]) => key.filter((n) => !given.includes(n));
  const closest = keys.reduce((a, b) => {
    const [ma, mb] = [missingFor(a).length, missingFor(b).length];
    return mb < ma || (mb === ma && extraFor(b).length < extraFor(a).length) ? b : a;
  });
  const [missing, extra] = [missingFor(closest), extraFor(closest)];
  if (missing.length || extra.length) throw new LookupArgumentsError(missing, extra, rule);
  return { key: Object.fromEntries([...closest, ...optional].filter((n) => isGiven(value(n))).map((n) => [n, value(n)])) as KeyArgs<A, K> };
}
