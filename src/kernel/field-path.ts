/**
 * Field paths as problems and diffs show them: `stages[2].inputs.train`, `params.train.lr`,
 * `env["MY VAR"]`. Array indexes in brackets, identifier-like keys after a dot, any other key as a
 * quoted bracket, so a path can always be read back unambiguously.
 */

/** One step of a path: an array index or an object key. */
export type PathSegment = number | string;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Renders segments as a field path; numbers are array indexes. `[]` is the empty string. */
export function formatFieldPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** `base` followed by `segments`, e.g. `joinFieldPath("params.train", ["lr"])` is `params.train.lr`. */
export function joinFieldPath(base: string, segments: readonly PathSegment[]): string {
  const rest = formatFieldPath(segments);
  if (base === "") return rest;
  if (rest === "" || rest.startsWith("[")) return base + rest;
  return `${base}.${rest}`;
}

/**
 * Turns an ajv `instancePath` (a JSON Pointer such as `/stages/2/inputs/train`) into segments,
 * reading `data` along the way so that `0` is an index only where the value there is an array.
 */
export function segmentsOfPointer(pointer: string, data: unknown): PathSegment[] {
  if (pointer === "") return [];
  const segments: PathSegment[] = [];
  let at: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at) && /^(0|[1-9][0-9]*)$/.test(key)) {
      const index = Number(key);
      segments.push(index);
      at = at[index];
    } else {
      segments.push(key);
      at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined;
    }
  }
  return segments;
}

const TOKEN = /^(?:\.?([A-Za-z_$][A-Za-z0-9_$-]*)|\[(0|[1-9][0-9]*)\]|\[("(?:[^"\\]|\\.)*")\])/;

/**
 * Reads a field path written by {@link formatFieldPath} back into segments (`features[1].window`
 * is `["features", 1, "window"]`), so problems a pure validator reports on a value can be placed
 * under the path where that value sits in a larger document. Anything that is not such a path
 * is kept whole, as one key.
 */
export function parseFieldPath(field: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let rest = field;
  while (rest !== "") {
    const m = TOKEN.exec(rest);
    if (!m || (segments.length === 0 && rest.startsWith("."))) return [field];
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else segments.push(JSON.parse(m[3]) as string);
    rest = rest.slice(m[0].length);
  }
  return segments;
}
