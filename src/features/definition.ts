import type { DuckDBConnection } from "@duckdb/node-api";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { queryJson, sqlIdent, sqlString, withDuckDb, redactSandboxMessage, withSandbox, refuseUserExpression } from "../datasets/columnar";
import { compileFeatureSql } from "./compile";
import { type Aggregation, isWindowFeature, type FeatureView } from "./view-schema";

/**
 * Feature views against their data: checking a valid definition's SQL against its source's
 * schema (DuckDB binds each piece, in the sandbox). The definition itself, its types and its
 * validation are the pure view-schema.ts, re-exported here for the modules that read both.
 */
export * from "./view-schema";

/** A column of a Parquet file as DuckDB reads it. */
export interface ColumnType {
  name: string;
  type: string;
}

/** The columns of a Parquet file, in order. */
export async function parquetSchema(parquetFile: string): Promise<ColumnType[]> {
  return withDuckDb(async (conn) => {
    const rows = await queryJson(conn, `DESCRIBE SELECT * FROM read_parquet(${sqlString(parquetFile)})`);
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  });
}

/** Event-time types the window frames and the as-of join accept. */
export const TIMESTAMP_TYPES = new Set(["TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"]);

/** DuckDB's message without its "Binder Error:" prefix and the LINE/caret lines that point into SQL the user never wrote. */
function duckMessage(err: unknown): string {
  const text = redactSandboxMessage(err instanceof Error ? err.message : String(err));
  const first = text.split("\n")[0].replace(/^[A-Za-z ]+Error: /, "");
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

/**
 * Checks a valid view against the schema of its source Parquet file by asking DuckDB to bind each
 * piece of SQL (nothing is read: every probe is `DESCRIBE ... LIMIT 0`-like). Returns the problems,
 * each naming the field and, for features, the feature: key, timestamp and created-timestamp
 * columns that are missing or of the wrong type, a filter that is not boolean, expressions that do not bind, aggregations
 * that do not apply to their expression's type, casts that fail.
 *
 * Each expression is probed as the only column next to a plain column, so an expression that is an
 * aggregate (`avg(delay)`) or that smuggles in extra select items (`1) AS a, (2`) is refused
 * rather than changing the shape of the compiled query.
 *
 * User SQL may read only the columns of its source row: each expression and the filter first pass
 * the static check of user-sql.ts (no table functions such as read_text, no tables, no second
 * statement), and every probe runs in the sandbox (sandbox.ts), which can read the source file only.
 */
export async function checkAgainstSource(view: FeatureView, parquetFile: string): Promise<InputProblem[]> {
  const problems: InputProblem[] = [];
  const src = `read_parquet(${sqlString(parquetFile)})`;
  await withSandbox({ read: [parquetFile] }, async (conn) => {
    // Before anything binds (binding a table function already touches files): refused SQL is never probed.
    const refusals = await refusedSql(conn, view);
    const refused = new Set(refusals.map((p) => p.field));
    problems.push(...refusals);
    const columns = (await queryJson(conn, `DESCRIBE SELECT * FROM ${src}`)).map((r) => ({
      name: String(r.column_name),
      type: String(r.column_type),
    }));
    const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
    view.entities.forEach((entity, i) => {
      if (!byName.has(entity.toLowerCase()))
        problems.push({
          field: `entities[${i}]`,
          message: `is not a column of the source; it has ${columns.map((c) => c.name).join(", ")}`,
        });
    });
    const ts = byName.get(view.timestampColumn.toLowerCase());
    if (!ts)
      problems.push({
        field: "timestampColumn",
        message: `is not a column of the source; it has ${columns.map((c) => c.name).join(", ")}`,
      });
    else if (!TIMESTAMP_TYPES.has(ts.type))
      problems.push({ field: "timestampColumn", message: `must be a TIMESTAMP column; ${ts.name} is ${ts.type}` });
    if (view.createdTimestampColumn !== undefined) {
      const created = byName.get(view.createdTimestampColumn.toLowerCase());
      if (!created)
        problems.push({
          field: "createdTimestampColumn",
          message: `is not a column of the source; it has ${columns.map((c) => c.name).join(", ")}`,
        });
      else if (!TIMESTAMP_TYPES.has(created.type))
        problems.push({ field: "createdTimestampColumn", message: `must be a TIMESTAMP column; ${created.name} is ${created.type}` });
    }
    if (problems.length > refusals.length) return; // Every probe below would fail for the same reason.

    /** The type of `select` as the only expression beside the timestamp column, or the problem. */
    const probe = async (field: string, what: string, select: string, from = src): Promise<string | undefined> => {
      const sql = `DESCRIBE SELECT ${sqlIdent(view.timestampColumn)} AS __sluice_ts, ${select} AS __sluice_probe FROM ${from}`;
      try {
        if ((await conn.extractStatements(sql)).count !== 1) {
          problems.push({ field, message: `${what}: must be a single SQL expression` });
          return undefined;
        }
        const rows = await queryJson(conn, sql);
        if (rows.length !== 2 || rows[1].column_name !== "__sluice_probe") {
          problems.push({ field, message: `${what}: must be a single SQL expression` });
          return undefined;
        }
        return String(rows[1].column_type);
      } catch (err) {
        problems.push({ field, message: `${what}: ${duckMessage(err)}` });
        return undefined;
      }
    };

    if (view.filter !== undefined && !refused.has("filter")) {
      const type = await probe("filter", "filter", `(${view.filter})`);
      if (type !== undefined && type !== "BOOLEAN")
        problems.push({ field: "filter", message: `filter: must be a boolean expression; it is ${type}` });
    }
    for (const [i, feature] of view.features.entries()) {
      const at = `features[${i}]`;
      const what = `feature ${feature.name}`;
      if (refused.has(`${at}.expr`)) continue;
      if (feature.expr !== undefined && (await probe(`${at}.expr`, what, `(${feature.expr})`)) === undefined) continue;
      if (isWindowFeature(feature)) {
        // The aggregate itself, as a window function, so `avg` of a VARCHAR is caught here.
        const agg = aggregateSql(feature.aggregation, feature.expr === undefined ? "*" : `(${feature.expr})`);
        if ((await probe(`${at}.aggregation`, what, `${agg} OVER ()`)) === undefined) continue;
        if (feature.type !== undefined) await probe(`${at}.type`, what, `CAST(${agg} OVER () AS ${feature.type})`);
      } else if (feature.type !== undefined) {
        await probe(`${at}.type`, what, `CAST((${feature.expr}) AS ${feature.type})`);
      }
    }
    if (problems.length > 0) return;
    // Last, the whole compiled query, for anything the pieces did not show (e.g. a name DuckDB reserves).
    try {
      await queryJson(conn, `DESCRIBE ${compileFeatureSql(view, parquetFile)}`);
    } catch (err) {
      problems.push({ field: "view", message: duckMessage(err) });
    }
  });
  return problems;
}

/** The view's filter and expressions that read more than the columns of a source row (user-sql.ts). */
async function refusedSql(conn: DuckDBConnection, view: FeatureView): Promise<InputProblem[]> {
  const problems: InputProblem[] = [];
  if (view.filter !== undefined) {
    const why = await refuseUserExpression(conn, view.filter);
    if (why) problems.push({ field: "filter", message: `filter: ${why}` });
  }
  for (const [i, feature] of view.features.entries()) {
    const why = feature.expr === undefined ? undefined : await refuseUserExpression(conn, feature.expr);
    if (why) problems.push({ field: `features[${i}].expr`, message: `feature ${feature.name}: ${why}` });
  }
  return problems;
}

/**
 * The static half of {@link checkAgainstSource}, for when there is no source file to bind against
 * yet: the filter and expressions that use a table function, a table, or another statement.
 */
export async function checkViewSql(view: FeatureView): Promise<InputProblem[]> {
  return withSandbox({ read: [] }, (conn) => refusedSql(conn, view));
}

/** {@link checkAgainstSource}, throwing its problems. @throws InvalidInputError */
export async function assertAgainstSource(view: FeatureView, parquetFile: string): Promise<void> {
  const problems = await checkAgainstSource(view, parquetFile);
  if (problems.length > 0) throw new InvalidInputError(problems);
}

/** The SQL aggregate function call for an aggregation over `arg` (`*` for count of rows). */
export function aggregateSql(aggregation: Aggregation, arg: string): string {
  switch (aggregation) {
    case "stddev":
      return `stddev_samp(${arg})`;
    case "count":
      return arg === "*" ? "count(*)" : `count(${arg})`;
    default:
      return `${aggregation}(${arg})`;
  }
}
