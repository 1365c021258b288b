import Ajv from "ajv";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { schemaProblems } from "../kernel/schema-problems";
import { canonicalHash } from "../pipelines/canonical";

/**
 * Feature views: the definition of a feature table, in the sense of Feast's FeatureView. A view
 * names the entity key columns and the event timestamp of a source data set, and the features
 * computed from each source row: row-level SQL expressions, or trailing-window aggregates per
 * entity. The definition is plain JSON, written as code in pipeline specs or sent over GraphQL;
 * nothing here touches a database table.
 */

/** The aggregations a windowed feature can use; `stddev` is the sample standard deviation. */
export const AGGREGATIONS = ["sum", "avg", "count", "min", "max", "stddev"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** A feature computed from its own source row alone, e.g. `extract(hour from date)`. */
export interface RowFeatureDef {
  name: string;
  /** A SQL expression over the columns of one source row. */
  expr: string;
  /** A DuckDB type to cast the value to, e.g. `DOUBLE`. */
  type?: string;
}

/** An aggregate over the rows of the same entity in a trailing time window. See compile.ts for the window's exact edges. */
export interface WindowFeatureDef {
  name: string;
  aggregation: Aggregation;
  /** A column or SQL expression over one source row; `count` may omit it to count rows. */
  expr?: string;
  /** The window length: a positive integer and a unit, `30s`, `30m`, `24h`, `7d` or `2w`. */
  window: string;
  type?: string;
}

export type FeatureDef = RowFeatureDef | WindowFeatureDef;

export interface FeatureView {
  name: string;
  /** The entity key columns of the source, e.g. `["origin"]`; several for a composite key. */
  entities: string[];
  /** The source column holding each row's event time (TIMESTAMP or TIMESTAMPTZ). */
  timestampColumn: string;
  /**
   * A source column holding when each row was written (TIMESTAMP or TIMESTAMPTZ), Feast's
   * `created_timestamp_column`: of several rows with one entity key and one event time, the one
   * created last is the feature row; a NULL created time counts as older than any other, and
   * rows created at the same instant fall back to file order (the later row wins).
   */
  createdTimestampColumn?: string;
  /** How long a feature row stays valid after its event time; absent or null for ever. */
  ttlSeconds?: number | null;
  /** The data set the rows come from; resolved to a Parquet file by the caller. */
  source: { dataset: string };
  /** A SQL boolean over source rows; rows for which it is not true are left out before anything is computed. */
  filter?: string;
  features: FeatureDef[];
}

export function isWindowFeature(feature: FeatureDef): feature is WindowFeatureDef {
  return "aggregation" in feature && feature.aggregation !== undefined;
}

/** Names of views, columns and features. Plain identifiers, so they need no quoting in the SQL users write next to them. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const IDENTIFIER_MESSAGE = "must be an identifier: 1 to 63 letters, digits or _, not starting with a digit";
/**
 * DuckDB type names as they are written in a CAST: `DOUBLE`, `DECIMAL(10, 2)`, `VARCHAR[]`. Narrow
 * on purpose: the type is pasted into SQL, so anything that could close the CAST is refused here.
 */
const TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])*$/;
/** Column names the compiled SQL uses for itself; a source or feature name starting like this could collide. */
export const RESERVED_PREFIX = "__sluice";

const WINDOW_PATTERN = /^([1-9][0-9]{0,8})(s|m|h|d|w)$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** The length of a window such as `7d` in seconds, or undefined when it is not one. */
export function parseWindow(window: string): number | undefined {
  const m = WINDOW_PATTERN.exec(window);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]] : undefined;
}

const sqlText = { type: "string", minLength: 1, maxLength: 10000 };

const VIEW_SCHEMA = {
  title: "a feature view",
  type: "object",
  required: ["name", "entities", "timestampColumn", "source", "features"],
  additionalProperties: false,
  properties: {
    name: { type: "string" },
    entities: {
      type: "array",
      minItems: 1,
      maxItems: 16,
      items: { type: "string" },
      messages: { minItems: "must name at least one key column" },
    },
    timestampColumn: { type: "string" },
    createdTimestampColumn: { type: "string" },
    ttlSeconds: {
      type: ["integer", "null"],
      exclusiveMinimum: 0,
      messages: { exclusiveMinimum: "must be a positive number of seconds (omit it or use null for no expiry)" },
    },
    source: {
      title: "source",
      type: "object",
      required: ["dataset"],
      additionalProperties: false,
      properties: { dataset: { type: "string", minLength: 1 } },
    },
    filter: sqlText,
    features: {
      type: "array",
      minItems: 1,
      maxItems: 1000,
      messages: { minItems: "must list at least one feature" },
      items: {
        title: "a feature",
        type: "object",
        required: ["name"],
        additionalProperties: false,
        properties: {
          name: { type: "string" },
          expr: sqlText,
          aggregation: { enum: [...AGGREGATIONS] },
          window: { type: "string" },
          type: {
            type: "string",
            pattern: TYPE_PATTERN.source,
            messages: { pattern: "must be a DuckDB type name such as DOUBLE or DECIMAL(10, 2)" },
          },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, logger: false });
ajv.addKeyword({ keyword: "messages", schemaType: "object" });
const validateShape = ajv.compile(VIEW_SCHEMA);

/** The checks JSON Schema cannot say: identifiers, unique names, which fields go with an aggregation. */
function semanticProblems(view: FeatureView): InputProblem[] {
  const problems: InputProblem[] = [];
  const identifier = (field: string, value: string) => {
    if (!IDENTIFIER_PATTERN.test(value)) problems.push({ field, message: IDENTIFIER_MESSAGE });
    else if (value.toLowerCase().startsWith(RESERVED_PREFIX))
      problems.push({ field, message: `must not start with ${RESERVED_PREFIX} (reserved)` });
  };
  identifier("name", view.name);
  identifier("timestampColumn", view.timestampColumn);
  // DuckDB folds identifiers case-insensitively, so `Origin` and `origin` are the same column.
  const columns = new Map<string, string>([[view.timestampColumn.toLowerCase(), "timestampColumn"]]);
  view.entities.forEach((entity, i) => {
    const field = `entities[${i}]`;
    identifier(field, entity);
    const other = columns.get(entity.toLowerCase());
    if (other) problems.push({ field, message: `repeats ${other}` });
    else columns.set(entity.toLowerCase(), field);
  });
  if (view.createdTimestampColumn !== undefined) {
    // Not a column of the feature table (only the tie-break reads it), but it must be a third column.
    identifier("createdTimestampColumn", view.createdTimestampColumn);
    const other = columns.get(view.createdTimestampColumn.toLowerCase());
    if (other) problems.push({ field: "createdTimestampColumn", message: `repeats ${other}; it must be a column of its own` });
  }
  view.features.forEach((feature, i) => {
    const at = `features[${i}]`;
    identifier(`${at}.name`, feature.name);
    const other = columns.get(feature.name.toLowerCase());
    if (other)
      problems.push({
        field: `${at}.name`,
        message: `clashes with ${other}; feature names must differ from each other and from the key and timestamp columns`,
      });
    else columns.set(feature.name.toLowerCase(), `${at}.name`);
    const f = feature as Partial<WindowFeatureDef>;
    if (f.aggregation === undefined) {
      if (f.expr === undefined)
        problems.push({
          field: `${at}.expr`,
          message: "is required (a SQL expression over the source row), or give an aggregation and a window",
        });
      if (f.window !== undefined)
        problems.push({ field: `${at}.window`, message: "needs an aggregation; a window only applies to aggregated features" });
      return;
    }
    if (f.expr === undefined && f.aggregation !== "count")
      problems.push({ field: `${at}.expr`, message: `is required for ${f.aggregation} (only count may omit it)` });
    if (f.window === undefined) problems.push({ field: `${at}.window`, message: "is required with an aggregation, e.g. 7d, 24h or 30m" });
    else if (parseWindow(f.window) === undefined) {
      problems.push({ field: `${at}.window`, message: "must be a positive integer and a unit (s, m, h, d or w), e.g. 7d, 24h or 30m" });
    }
  });
  return problems;
}

/**
 * Checks an untrusted feature view and returns a normalized copy: only known fields, in a fixed
 * order, `ttlSeconds: null` and absent optional fields left out, so equal definitions compare and
 * hash equal. SQL expressions are only checked for presence here; {@link checkAgainstSource} binds
 * them against the source's schema.
 *
 * @throws InvalidInputError listing every problem, with paths such as `features[1].window`.
 */
export function validateFeatureView(input: unknown): FeatureView {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new InvalidInputError([
      { field: "view", message: "must be a feature view object with name, entities, timestampColumn, source and features" },
    ]);
  }
  if (!validateShape(input)) throw new InvalidInputError(schemaProblems(validateShape.errors, { data: input, whole: "view" }));
  const view = input as unknown as FeatureView;
  const problems = semanticProblems(view);
  if (problems.length > 0) throw new InvalidInputError(problems);
  return normalize(view);
}

function normalize(view: FeatureView): FeatureView {
  const out: FeatureView = {
    name: view.name,
    entities: [...view.entities],
    timestampColumn: view.timestampColumn,
    ...(view.createdTimestampColumn !== undefined && { createdTimestampColumn: view.createdTimestampColumn }),
    source: { dataset: view.source.dataset },
    features: view.features.map((f) => {
      if (isWindowFeature(f)) {
        const w: WindowFeatureDef = { name: f.name, aggregation: f.aggregation, window: f.window };
        if (f.expr !== undefined) w.expr = f.expr;
        if (f.type !== undefined) w.type = f.type;
        return w;
      }
      const r: RowFeatureDef = { name: f.name, expr: f.expr };
      if (f.type !== undefined) r.type = f.type;
      return r;
    }),
  };
  if (view.ttlSeconds !== undefined && view.ttlSeconds !== null) out.ttlSeconds = view.ttlSeconds;
  if (view.filter !== undefined) out.filter = view.filter;
  return out;
}

/**
 * The version of a view: `sha256:<hex>` of the canonical JSON of its normalized definition. Key
 * order and `ttlSeconds: null` versus absent do not change it; any other edit (an expression, a
 * window, the feature order, the source) does, since each can change the feature table.
 *
 * @throws InvalidInputError when `view` is not a valid definition.
 */
export function viewHash(view: unknown): string {
  return canonicalHash(validateFeatureView(view));
}
