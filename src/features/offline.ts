import { rename, rm } from "node:fs/promises";
import type { DuckDBConnection } from "@duckdb/node-api";
import { queryJson, sqlIdent, sqlString, isSandboxRefusal, redactSandboxMessage, withSandbox } from "../datasets/columnar";
import { InvalidInputError } from "../kernel/errors";
import { compileFeatureSql, type CompileOptions } from "./compile";
import { assertAgainstSource, validateFeatureView, type ColumnType, type FeatureView } from "./definition";

/**
 * The offline store: a view's feature table written to Parquet, sorted by the entity keys and then
 * the timestamp, so the as-of join and per-entity reads scan it in order and row groups carry
 * useful min/max statistics per key.
 */

export interface MaterializeResult {
  rowCount: number;
  schema: ColumnType[];
}

/**
 * Runs a statement built from user SQL only if it is exactly one statement: a `;` hidden in an
 * expression must not run a second one. @internal
 */
export async function runSingle(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  if ((await conn.extractStatements(sql)).count !== 1) throw new Error("compiled feature SQL is not a single statement");
  return queryJson(conn, sql);
}

/**
 * Writes `outParquet` atomically: to a temporary name beside it, renamed into place once the COPY
 * has finished, so a reader never sees half a file and a failed run leaves the old file intact.
 * @internal
 */
export async function copyToParquet(
  conn: DuckDBConnection,
  select: string,
  outParquet: string,
): Promise<{ rowCount: number; schema: ColumnType[] }> {
  return copyToParquetAs(conn, select, outParquet, temporaryName(outParquet));
}

function temporaryName(outParquet: string): string {
  return `${outParquet}.tmp-${process.pid}-${Date.now()}`;
}

async function copyToParquetAs(
  conn: DuckDBConnection,
  select: string,
  outParquet: string,
  tmp: string,
): Promise<{ rowCount: number; schema: ColumnType[] }> {
  try {
    const result = await runSingle(conn, `COPY (${select}) TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
    const rowCount = Number(result[0]?.Count ?? 0);
    const schema = (await queryJson(conn, `DESCRIBE SELECT * FROM read_parquet(${sqlString(tmp)})`)).map((r) => ({
      name: String(r.column_name),
      type: String(r.column_type),
    }));
    await rename(tmp, outParquet);
    return { rowCount, schema };
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Materializes the feature table of `view` over `sourceParquet` into `outParquet`: columns are the
 * entity keys, the timestamp and the features (see compile.ts for what each row means), sorted by
 * keys then timestamp. `start`/`end` bound the rows written (`start <= ts < end`); windows still see
 * source rows before `start`, so a partial materialization has the same values as a full one.
 *
 * @throws InvalidInputError when the view is invalid or its SQL does not bind against the source.
 */
export async function materializeOffline(
  view: FeatureView,
  sourceParquet: string,
  outParquet: string,
  options: CompileOptions = {},
): Promise<MaterializeResult> {
  const checked = validateFeatureView(view);
  await assertAgainstSource(checked, sourceParquet);
  const order = [...checked.entities, checked.timestampColumn].map(sqlIdent).join(", ");
  const select = `${compileFeatureSql(checked, sourceParquet, options)}\nORDER BY ${order}`;
  // The view's SQL runs where it can read its source and write its own output, nothing else.
  const tmp = temporaryName(outParquet);
  try {
    return await withSandbox({ read: [sourceParquet], write: [tmp] }, (conn) => copyToParquetAs(conn, select, outParquet, tmp));
  } catch (err) {
    // Only reachable if the static check missed something: the refusal is the user's, without the path.
    if (isSandboxRefusal(err))
      throw new InvalidInputError([{ field: "view", message: redactSandboxMessage((err as Error).message.split("\n")[0]) }]);
    throw err;
  }
}
