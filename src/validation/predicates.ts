import type { DuckDBConnection } from "@duckdb/node-api";
import { queryJson, sqlIdent, sqlString } from "../datasets/columnar";
import type { Expectation, RowLevelExpectation } from "./suite";

/**
 * The SQL that decides, per row, whether a row-level expectation finds it unexpected. The suite
 * runner counts and samples with it and the quarantine split filters with it, so the two cannot
 * disagree about a row.
 */

/** A column as DuckDB describes it: `DESCRIBE` names and type names (`BIGINT`, `TIMESTAMP`, `DECIMAL(18,3)`). */
export interface ColumnInfo {
  name: string;
  type: string;
}

export type ColumnKind = "numeric" | "text" | "temporal" | "boolean" | "other";

const NUMERIC = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "HUGEINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "UBIGINT",
  "UHUGEINT",
  "FLOAT",
  "DOUBLE",
]);
const INTEGER = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "HUGEINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "UBIGINT",
  "UHUGEINT",
]);
const TEMPORAL = new Set(["DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"]);

export function columnKind(type: string): ColumnKind {
  const t = type.toUpperCase();
  if (NUMERIC.has(t) || t.startsWith("DECIMAL")) return "numeric";
  if (t === "VARCHAR") return "text";
  if (TEMPORAL.has(t)) return "temporal";
  if (t === "BOOLEAN") return "boolean";
  return "other";
}

/** Whether getRowObjectsJson renders the type as a decimal string that a JSON number can carry instead. */
export function isIntegerType(type: string): boolean {
  return INTEGER.has(type.toUpperCase());
}

/** A FROM-clause relation reading one Parquet file. */
export function parquetSource(file: string): string {
  return `read_parquet(${sqlString(file)})`;
}

/** The columns of a relation, in order. */
export async function describeColumns(conn: DuckDBConnection, source: string): Promise<ColumnInfo[]> {
  const rows = await queryJson(conn, `DESCRIBE SELECT * FROM ${source}`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

/** Which column kinds each column-bearing expectation accepts. */
const ACCEPTS: Record<Exclude<Expectation["type"], "row_count_between">, readonly ColumnKind[] | "any"> = {
  not_null: "any",
  unique: "any",
  in_set: "any",
  between: ["numeric"],
  mean_between: ["numeric"],
  std_between: ["numeric"],
  quantile_between: ["numeric"],
  matches_regex: ["text"],
  value_lengths_between: ["text"],
  freshness: ["temporal"],
  // PSI takes any column (non-numeric ones by category); KS is checked where the metric is known.
  distribution: "any",
};

/**
 * The expectation's column, or why the expectation cannot be evaluated on these columns (an
 * unknown column, a type it does not apply to). Names match exactly, as in the suite definition.
 */
export function resolveColumn(e: Expectation, columns: readonly ColumnInfo[]): { column?: ColumnInfo; error?: string } {
  if (e.type === "row_count_between") return {};
  const column = columns.find((c) => c.name === e.column);
  if (!column) {
    const near = columns.find((c) => c.name.toLowerCase() === e.column.toLowerCase());
    const hint = near ? `; did you mean ${JSON.stringify(near.name)}?` : `; the columns are ${columns.map((c) => c.name).join(", ")}`;
    return { error: `column ${JSON.stringify(e.column)} is not in the data set${hint}` };
  }
  const accepts = ACCEPTS[e.type];
  const kind = columnKind(column.type);
  if (e.type === "distribution" && e.metric === "ks" && kind !== "numeric") {
    return { error: `ks needs a numeric column; ${JSON.stringify(column.name)} is ${column.type} (use metric psi for categories)` };
  }
  if (accepts !== "any" && !accepts.includes(kind)) {
    return { error: `${e.type} needs a ${accepts.join(" or ")} column; ${JSON.stringify(column.name)} is ${column.type}` };
  }
  return { column };
}

/** A JS number as a DuckDB DOUBLE literal; `String` of a finite number round-trips exactly. */
export function sqlNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return `CAST(${String(n)} AS DOUBLE)`;
}

/** `min <= x <= max` (either side optional), or TRUE when there are no bounds. */
export function boundsSql(x: string, min?: number, max?: number, strictMin = false, strictMax = false): string {
  const parts: string[] = [];
  if (min !== undefined) parts.push(`${x} ${strictMin ? ">" : ">="} ${sqlNumber(min)}`);
  if (max !== undefined) parts.push(`${x} ${strictMax ? "<" : "<="} ${sqlNumber(max)}`);
  return parts.length === 0 ? "TRUE" : parts.join(" AND ");
}

/** The values of an `in_set`, each cast to the column's type so comparison never depends on implicit casts. */
function inSetListSql(values: ReadonlyArray<string | number | boolean>, column: ColumnInfo): string {
  const integer = isIntegerType(column.type);
  const literals = values
    // TRY_CAST would round 1.5 to 2 for an integer column, making it match a value it does not equal.
    .filter((v) => !(integer && typeof v === "number" && !Number.isInteger(v)))
    .map((v) => {
      const literal = typeof v === "string" ? sqlString(v) : typeof v === "boolean" ? (v ? "TRUE" : "FALSE") : String(v);
      return `TRY_CAST(${literal} AS ${column.type})`;
    });
  // Values that do not convert (`'abc'` for a BIGINT column) become NULL, which list_contains
  // never matches (unlike IN, where a NULL in the list makes a miss NULL rather than false).
  return `[${literals.join(", ")}]::${column.type}[]`;
}

/**
 * SQL true when a row of `source` is unexpected for `e`, and never NULL, so that predicates can
 * be OR-ed and negated safely. A null value is unexpected only for `not_null`.
 */
export function unexpectedRowSql(e: RowLevelExpectation, column: ColumnInfo, source: string): string {
  const c = sqlIdent(column.name);
  const present = `${c} IS NOT NULL`;
  switch (e.type) {
    case "not_null":
      return `(${c} IS NULL)`;
    case "between":
      return `(${present} AND NOT (${boundsSql(c, e.min, e.max, e.strictMin, e.strictMax)}))`;
    case "in_set":
      return `(${present} AND NOT list_contains(${inSetListSql(e.values, column)}, ${c}))`;
    case "unique":
      // A semi-join on the duplicated values: one hash aggregate, cheaper than a window over every row.
      return `(${present} AND ${c} IN (SELECT ${c} FROM ${source} WHERE ${present} GROUP BY ${c} HAVING count(*) > 1))`;
    case "matches_regex":
      // regexp_matches searches (like GE's match_regex); regexp_full_match would anchor both ends.
      return `(${present} AND NOT regexp_matches(CAST(${c} AS VARCHAR), ${sqlString(e.regex)}))`;
    case "value_lengths_between":
      // length counts characters (code points), not bytes.
      return `(${present} AND NOT (${boundsSql(`length(CAST(${c} AS VARCHAR))`, e.min, e.max)}))`;
  }
}

/** SQL true for the rows an expectation judges: every row for `not_null`, the non-null ones otherwise. */
export function judgedRowSql(e: RowLevelExpectation, column: ColumnInfo): string {
  return e.type === "not_null" ? "TRUE" : `(${sqlIdent(column.name)} IS NOT NULL)`;
}

/**
 * Why the expectation's own parameters do not compile in DuckDB (a bad RE2 pattern), checked on a
 * constant so that it is reported against this expectation instead of failing a shared scan.
 */
export async function checkParameters(conn: DuckDBConnection, e: Expectation): Promise<string | undefined> {
  if (e.type !== "matches_regex") return undefined;
  try {
    await queryJson(conn, `SELECT regexp_matches('', ${sqlString(e.regex)}) AS ok`);
    return undefined;
  } catch (err) {
    return `invalid regex ${JSON.stringify(e.regex)}: ${duckDbMessage(err)}`;
  }
}

/** DuckDB's message without the SQL excerpt it sometimes appends. */
export function duckDbMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n\nLINE ")[0].trim();
}
