import { InvalidInputError } from "../kernel/errors";
import { sqlIdent, sqlString, withDuckDb } from "../datasets/columnar";
import { epochMicros } from "./compile";
import { validateFeatureView, type ColumnType, type FeatureView } from "./definition";
import { copyToParquet } from "./offline";

/**
 * The pure half of the online store: what to load (the latest feature row of each entity) and how
 * a key is spelled. Loading it into PostgreSQL and serving reads is done elsewhere.
 */

/** The column holding {@link encodeEntityKey} of each row's key, computed by DuckDB. */
export const ENTITY_KEY_COLUMN = "entity_key";

/**
 * A stable string for a (possibly composite) entity key, used as the online table's primary key by
 * the writer (from DuckDB rows) and the reader (from a request): the JSON array of the key values,
 * each as a string (numbers and bigints in decimal, booleans as true/false), null for NULL. Numbers
 * become strings so that a BIGINT key read from DuckDB as a string, a bigint, or a JS number all
 * give the same key. Keys are meant to be VARCHAR, integer or BOOLEAN columns; for those, the
 * `entity_key` column of {@link latestPerEntitySql} (DuckDB's `to_json` of the VARCHAR casts) is
 * byte-for-byte this string.
 *
 * @throws TypeError for non-integral numbers, objects and other values with no stable spelling.
 */
export function encodeEntityKey(values: readonly unknown[]): string {
  return JSON.stringify(
    values.map((v) => {
      if (v === null || v === undefined) return null;
      if (typeof v === "string") return v;
      if (typeof v === "bigint" || typeof v === "boolean") return String(v);
      if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
      throw new TypeError(`entity key values must be strings, integers or booleans, not ${typeof v === "number" ? v : typeof v}`);
    }),
  );
}

export interface LatestOptions {
  /**
   * Take the state as of this instant: rows with timestamp <= asOf only, and entities whose latest
   * row is older than asOf - ttl left out (they would read as NULL). Without it, every entity's
   * latest row, TTL unapplied: the reader checks the row's timestamp against its own clock.
   */
  asOf?: Date;
}

/**
 * The SELECT giving, for each entity of a materialized feature table, its latest row: the key
 * columns, `entity_key`, the timestamp column and the features. There is one row per (key,
 * timestamp) in a feature table (compile.ts), so the latest is unique.
 */
export function latestPerEntitySql(view: FeatureView, offlineFile: string, options: LatestOptions = {}): string {
  const checked = validateFeatureView(view);
  const clash = [...checked.entities, checked.timestampColumn, ...checked.features.map((f) => f.name)].findIndex(
    (n) => n.toLowerCase() === ENTITY_KEY_COLUMN,
  );
  if (clash >= 0)
    throw new InvalidInputError([{ field: "view", message: `a column named ${ENTITY_KEY_COLUMN} clashes with the online key column` }]);
  const keys = checked.entities.map(sqlIdent);
  const ts = sqlIdent(checked.timestampColumn);
  const where: string[] = [];
  if (options.asOf !== undefined) {
    const asOf = epochMicros(options.asOf);
    where.push(`epoch_us(${ts}) <= ${asOf}`);
    if (checked.ttlSeconds) where.push(`epoch_us(${ts}) >= ${asOf - checked.ttlSeconds * 1_000_000}`);
  }
  const columns = [
    ...keys,
    `to_json([${keys.map((k) => `CAST(${k} AS VARCHAR)`).join(", ")}]) :: VARCHAR AS ${ENTITY_KEY_COLUMN}`,
    ts,
    ...checked.features.map((f) => sqlIdent(f.name)),
  ];
  return `SELECT ${columns.join(", ")}
FROM read_parquet(${sqlString(offlineFile)})${where.length > 0 ? `\nWHERE ${where.join(" AND ")}` : ""}
QUALIFY row_number() OVER (PARTITION BY ${keys.join(", ")} ORDER BY ${ts} DESC) = 1
ORDER BY ${keys.join(", ")}`;
}

/** Writes {@link latestPerEntitySql} to `outParquet` (atomically), for the online loader. */
export async function latestPerEntity(
  view: FeatureView,
  offlineFile: string,
  outParquet: string,
  options: LatestOptions = {},
): Promise<{ rowCount: number; schema: ColumnType[] }> {
  const sql = latestPerEntitySql(view, offlineFile, options);
  return withDuckDb((conn) => copyToParquet(conn, sql, outParquet));
}
