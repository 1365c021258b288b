import Ajv from "ajv";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { schemaProblems } from "../kernel/schema-problems";

/**
 * Validation expectation suites: their types, and checking an untrusted definition (parsed JSON or
 * YAML) into a normalized suite. Pure: no DuckDB, no database.
 *
 * Semantics, close to Great Expectations:
 * - Row-level expectations (`not_null`, `between`, `in_set`, `unique`, `matches_regex`,
 *   `value_lengths_between`) judge each row's value. A null value is never unexpected except for
 *   `not_null`; `mostly` is the least fraction of judged rows (the non-null ones; every row for
 *   `not_null`) that must pass.
 * - Aggregate expectations (`row_count_between`, `mean_between`, `std_between`, `quantile_between`,
 *   `freshness`, `distribution`) judge one number for the whole table or column. `mostly` is
 *   accepted for uniformity but ignored, since there is no fraction of rows to apply it to.
 * - `min`/`max` bounds are inclusive unless `strictMin`/`strictMax` (`between` only).
 * - `matches_regex` has search semantics (DuckDB `regexp_matches`, RE2 syntax): the pattern may match
 *   any part of the value, as in GE's `expect_column_values_to_match_regex`; anchor it with `^…$`
 *   for a whole-value match. The pattern is compiled by DuckDB when the suite runs, since RE2 and
 *   JavaScript regular expressions accept different syntax; a bad one is an error result then.
 */

export type Severity = "warn" | "error";

/** What every expectation has once normalized. */
interface Common {
  /** A caller-chosen name, unique within the suite; results carry it. */
  id?: string;
  /** `warn` failures are reported but do not fail the suite. */
  severity: Severity;
  /** In (0, 1]; row-level expectations only. */
  mostly: number;
}

interface Bounds {
  min?: number;
  max?: number;
}

export interface NotNullExpectation extends Common {
  type: "not_null";
  column: string;
}

export interface BetweenExpectation extends Common, Bounds {
  type: "between";
  column: string;
  strictMin?: boolean;
  strictMax?: boolean;
}

export interface InSetExpectation extends Common {
  type: "in_set";
  column: string;
  values: Array<string | number | boolean>;
}

export interface UniqueExpectation extends Common {
  type: "unique";
  column: string;
}

export interface MatchesRegexExpectation extends Common {
  type: "matches_regex";
  column: string;
  regex: string;
}

export interface ValueLengthsBetweenExpectation extends Common, Bounds {
  type: "value_lengths_between";
  column: string;
}

export interface RowCountBetweenExpectation extends Common, Bounds {
  type: "row_count_between";
}

export interface MeanBetweenExpectation extends Common, Bounds {
  type: "mean_between";
  column: string;
}

export interface StdBetweenExpectation extends Common, Bounds {
  type: "std_between";
  column: string;
}

export interface QuantileBetweenExpectation extends Common, Bounds {
  type: "quantile_between";
  column: string;
  /** In [0, 1]; the exact, linearly interpolated quantile (DuckDB `quantile_cont`). */
  quantile: number;
}

export interface FreshnessExpectation extends Common {
  type: "freshness";
  /** A DATE or TIMESTAMP column; a TIMESTAMP without time zone is read as UTC. */
  column: string;
  maxAgeSeconds: number;
}

export interface DistributionExpectation extends Common {
  type: "distribution";
  column: string;
  /** `psi`: population stability index (numeric or categorical); `ks`: two-sample Kolmogorov–Smirnov D (numeric). */
  metric: "psi" | "ks";
  /** Fails when the metric is greater than this. */
  threshold: number;
}

export type Expectation =
  | NotNullExpectation
  | BetweenExpectation
  | InSetExpectation
  | UniqueExpectation
  | MatchesRegexExpectation
  | ValueLengthsBetweenExpectation
  | RowCountBetweenExpectation
  | MeanBetweenExpectation
  | StdBetweenExpectation
  | QuantileBetweenExpectation
  | FreshnessExpectation
  | DistributionExpectation;

export type ExpectationType = Expectation["type"];

/** A normalized suite: every default filled in. */
export interface Suite {
  name: string;
  expectations: Expectation[];
}

type WithDefaultsOptional<T> = T extends Common ? Omit<T, "severity" | "mostly"> & { severity?: Severity; mostly?: number } : never;

/** An expectation as written: `severity` defaults to `error`, `mostly` to 1. */
export type ExpectationDefinition = WithDefaultsOptional<Expectation>;

/** A suite as written. A normalized `Suite` is also a valid definition. */
export interface SuiteDefinition {
  name: string;
  expectations: ExpectationDefinition[];
}

/** The types judged row by row; the rest judge one aggregate. */
export const ROW_LEVEL_TYPES = ["not_null", "between", "in_set", "unique", "matches_regex", "value_lengths_between"] as const;
export type RowLevelExpectation = Extract<Expectation, { type: (typeof ROW_LEVEL_TYPES)[number] }>;

export function isRowLevel(e: Expectation): e is RowLevelExpectation {
  return (ROW_LEVEL_TYPES as readonly string[]).includes(e.type);
}

export const SEVERITY_DEFAULT: Severity = "error";
export const MOSTLY_DEFAULT = 1;

// ---------------------------------------------------------------------------------------------
// The JSON Schema. One branch per type, chosen by ajv's `discriminator` on `type`, so that a
// mistake is reported against the branch the author meant rather than as "matches no branch of oneOf".

const column = { type: "string", minLength: 1 };
const finite = { type: "number" };
const nonNegativeInt = { type: "integer", minimum: 0 };

function branch(type: string, properties: Record<string, unknown>, required: string[] = []): Record<string, unknown> {
  return {
    title: `a ${type} expectation`,
    type: "object",
    required: ["type", ...required],
    additionalProperties: false,
    properties: {
      type: { const: type },
      id: { type: "string", minLength: 1 },
      severity: { enum: ["warn", "error"] },
      mostly: {
        type: "number",
        exclusiveMinimum: 0,
        maximum: 1,
        messages: { exclusiveMinimum: "must be in (0, 1]", maximum: "must be in (0, 1]" },
      },
      ...properties,
    },
  };
}

const EXPECTATION_SCHEMA = {
  type: "object",
  required: ["type"],
  discriminator: { propertyName: "type" },
  oneOf: [
    branch("not_null", { column }, ["column"]),
    branch("between", { column, min: finite, max: finite, strictMin: { type: "boolean" }, strictMax: { type: "boolean" } }, ["column"]),
    branch(
      "in_set",
      {
        column,
        values: {
          type: "array",
          minItems: 1,
          items: { type: ["string", "number", "boolean"] },
          messages: { minItems: "must list at least one value" },
        },
      },
      ["column", "values"],
    ),
    branch("unique", { column }, ["column"]),
    branch("matches_regex", { column, regex: { type: "string", minLength: 1 } }, ["column", "regex"]),
    branch("value_lengths_between", { column, min: nonNegativeInt, max: nonNegativeInt }, ["column"]),
    branch("row_count_between", { min: nonNegativeInt, max: nonNegativeInt }),
    branch("mean_between", { column, min: finite, max: finite }, ["column"]),
    branch("std_between", { column, min: finite, max: finite }, ["column"]),
    branch(
      "quantile_between",
      {
        column,
        quantile: { type: "number", minimum: 0, maximum: 1, messages: { minimum: "must be in [0, 1]", maximum: "must be in [0, 1]" } },
        min: finite,
        max: finite,
      },
      ["column", "quantile"],
    ),
    branch(
      "freshness",
      {
        column,
        maxAgeSeconds: { type: "number", exclusiveMinimum: 0, messages: { exclusiveMinimum: "must be a positive number of seconds" } },
      },
      ["column", "maxAgeSeconds"],
    ),
    branch(
      "distribution",
      { column, metric: { enum: ["psi", "ks"] }, threshold: { type: "number", minimum: 0, messages: { minimum: "must be at least 0" } } },
      ["column", "metric", "threshold"],
    ),
  ],
};

const SUITE_SCHEMA = {
  title: "a suite",
  type: "object",
  required: ["name", "expectations"],
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1 },
    expectations: { type: "array", items: EXPECTATION_SCHEMA },
  },
};

// strictRequired would insist that `type` be declared beside `required` as well as in every branch.
// verbose: parentSchema carries the per-keyword messages and the field lists.
const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  strict: true,
  strictRequired: false,
  discriminator: true,
  allowUnionTypes: true,
  logger: false,
});
ajv.addKeyword({ keyword: "messages", schemaType: "object" });
const validateShape = ajv.compile(SUITE_SCHEMA);

const EXPECTATION_TYPES: readonly string[] = EXPECTATION_SCHEMA.oneOf.map((b) => (b.properties as { type: { const: string } }).type.const);

/** A suite's schema errors as problems: an unknown expectation type names the types there are. */
function suiteProblems(errors: Parameters<typeof schemaProblems>[0], data: unknown): InputProblem[] {
  return schemaProblems(errors, {
    data,
    whole: "suite",
    refine: (error, problem) => {
      if (error.keyword !== "discriminator") return problem;
      // A missing type is already reported by `required`.
      if (error.params.tagValue === undefined) return undefined;
      return {
        pointer: `${error.instancePath}/type`,
        message:
          typeof error.params.tagValue === "string"
            ? `must be one of ${EXPECTATION_TYPES.join(", ")}`
            : "must be a string naming the expectation type",
      };
    },
  });
}

/**
 * Checks an untrusted suite definition and returns it normalized (defaults filled in, a fresh
 * copy: the caller's object is neither mutated nor kept). Throws `InvalidInputError` naming every
 * offending field, e.g. `expectations[2].min`.
 */
export function validateSuite(input: unknown): Suite {
  let data: unknown;
  try {
    // A JSON round trip both copies and reduces the input to what a stored suite can hold.
    data = JSON.parse(JSON.stringify(input ?? null));
  } catch (err) {
    throw new InvalidInputError([{ field: "suite", message: `must be plain JSON data (${(err as Error).message})` }]);
  }
  if (!validateShape(data)) {
    const problems = dedupe(suiteProblems(validateShape.errors, data));
    throw new InvalidInputError(problems);
  }
  const suite = data as unknown as SuiteDefinition;
  const problems: InputProblem[] = [];
  const ids = new Map<string, number>();
  const expectations = suite.expectations.map((raw, i): Expectation => {
    const at = `expectations[${i}]`;
    const e = { ...raw, severity: raw.severity ?? SEVERITY_DEFAULT, mostly: raw.mostly ?? MOSTLY_DEFAULT } as Expectation;
    if (e.id !== undefined) {
      const first = ids.get(e.id);
      if (first !== undefined) problems.push({ field: `${at}.id`, message: `repeats the id of expectations[${first}]` });
      else ids.set(e.id, i);
    }
    if (hasBounds(e.type)) {
      const { min, max } = e as Bounds;
      if (min === undefined && max === undefined) problems.push({ field: at, message: `${e.type} needs min, max or both` });
      else if (min !== undefined && max !== undefined && min > max)
        problems.push({ field: `${at}.max`, message: `must be at least min (${min})` });
    }
    return e;
  });
  if (problems.length > 0) throw new InvalidInputError(problems);
  return { name: suite.name, expectations };
}

function hasBounds(type: ExpectationType): boolean {
  return type.endsWith("_between") || type === "between";
}

function dedupe(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.field}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
