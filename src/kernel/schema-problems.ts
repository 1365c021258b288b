import type { ErrorObject } from "ajv";
import { didYouMean } from "./close-match";
import type { InputProblem } from "./errors";
import { joinFieldPath, segmentsOfPointer, type PathSegment } from "./field-path";

/**
 * JSON Schema (ajv) errors as the problems an `InvalidInputError` carries: one field path rule and
 * one set of messages for every schema the server checks (pipeline specs, stage params, policies,
 * feature views, expectation suites, notifier configs).
 *
 * The field path rule is the one of `field-path.ts`: the error's JSON Pointer is decoded (`~1` is
 * `/`, `~0` is `~`), array indexes go in brackets, identifier-like keys after a dot, any other key
 * as a quoted bracket: `/stages/2/env/MY VAR` is `stages[2].env["MY VAR"]`. The property a
 * `required` or `additionalProperties` error names is the last segment, so the path points at it.
 *
 * Messages: `is required`; `is not a field of <title>; the fields are …` (or `is not an allowed
 * property; the allowed ones are …` for a schema without a title), followed by `; did you mean
 * "x"?` when one of the known names is a likely typo of the unknown one (close-match.ts); `must be a string` (or `… or …` for a list of types);
 * `must be one of "a", "b"`; otherwise ajv's own. A schema may say its own message for a keyword
 * with a `messages: { <keyword>: "…" }` annotation next to it (ajv needs `verbose: true` and the
 * `messages` keyword added to pass it on), and a caller may override messages by keyword.
 */

/** What a schema error says, before it becomes a field path: where (JSON Pointer) and what. */
export interface PointedProblem {
  pointer: string;
  message: string;
}

export interface SchemaProblemOptions {
  /** The validated value: tells an array index from an object key spelled like a number. */
  data: unknown;
  /** The field path of the validated value (`config`, `params.train`); "" or absent at the top. */
  base?: string;
  /** The field named when a problem is about the whole value (its path is empty); defaults to `base`. */
  whole?: string;
  /** Messages by keyword replacing the defaults, e.g. `{ additionalProperties: "is not a setting of this kind" }`. */
  messages?: Partial<Record<string, string>>;
  /** A last look at each problem: change its pointer or message, or drop it (return undefined). */
  refine?: (error: ErrorObject, problem: PointedProblem) => PointedProblem | undefined;
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  array: "a list",
  null: "null",
};

type SchemaNode = { title?: string; properties?: Record<string, unknown>; messages?: Record<string, string> } | undefined;

/** A key as one JSON Pointer segment. */
function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** One ajv error as a pointer and a message (before the caller's `refine`). */
export function pointSchemaError(error: ErrorObject, options: Pick<SchemaProblemOptions, "messages"> = {}): PointedProblem {
  const params = error.params as Record<string, unknown>;
  const parent = error.parentSchema as SchemaNode;
  let pointer = error.instancePath;
  let message = error.message ?? `fails ${error.keyword}`;
  switch (error.keyword) {
    case "required":
      pointer += `/${escapePointer(String(params.missingProperty))}`;
      message = "is required";
      break;
    case "additionalProperties": {
      const name = String(params.additionalProperty);
      const known = Object.keys(parent?.properties ?? {});
      pointer += `/${escapePointer(name)}`;
      message =
        parent?.title !== undefined
          ? `is not a field of ${parent.title}; the fields are ${known.join(", ")}${didYouMean(name, known)}`
          : known.length > 0
            ? `is not an allowed property; the allowed ones are ${known.join(", ")}${didYouMean(name, known)}`
            : "is not an allowed property";
      break;
    }
    case "enum":
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
      break;
    case "type":
      message = `must be ${[params.type]
        .flat()
        .map((t) => TYPE_NAMES[String(t)] ?? String(t))
        .join(" or ")}`;
      break;
  }
  message = parent?.messages?.[error.keyword] ?? options.messages?.[error.keyword] ?? message;
  return { pointer, message };
}

/** One ajv error as path segments (relative to the validated value) and a message; undefined when `refine` drops it. */
export function schemaErrorAt(error: ErrorObject, options: SchemaProblemOptions): { segments: PathSegment[]; message: string } | undefined {
  const pointed = pointSchemaError(error, options);
  const problem = options.refine ? options.refine(error, pointed) : pointed;
  if (!problem) return undefined;
  return { segments: segmentsOfPointer(problem.pointer, options.data), message: problem.message };
}

/** ajv's errors (from `validate.errors`) as input problems at `base`'s field paths. */
export function schemaProblems(errors: readonly ErrorObject[] | null | undefined, options: SchemaProblemOptions): InputProblem[] {
  const base = options.base ?? "";
  const problems: InputProblem[] = [];
  for (const error of errors ?? []) {
    const at = schemaErrorAt(error, options);
    if (!at) continue;
    problems.push({ field: at.segments.length === 0 ? (options.whole ?? base) : joinFieldPath(base, at.segments), message: at.message });
  }
  return problems;
}
