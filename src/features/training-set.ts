import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "../datasets/columnar";
import { TIMESTAMP_TYPES, validateFeatureView, type ColumnType, type FeatureView } from "./definition";
import { copyToParquet } from "./offline";

/**
 * Training sets: Feast's `get_historical_features`. For each row of an entity file (key columns and
 * an event timestamp T), and each view, the features of the view's feature row with the same key
 * and the latest timestamp `ts <= T` — DuckDB's ASOF LEFT JOIN, which finds it with one sorted
 * merge instead of a range join — nulled when `ts < T - ttl`. As in Feast, a feature row stamped
 * exactly T is used (see compile.ts for why window aggregates at T still do not see T's rows).
 */

export interface TrainingSetView {
  view: FeatureView;
  /** The view's materialized feature table (materializeOffline). */
  offlineFile: string;
  /** Which features to take, by name; all of the view's when absent. */
  features?: string[];
  /** Name the output columns `view__feature` instead of `feature`. */
  prefix?: boolean;
}

export interface TrainingSetRequest {
  /** Parquet with the key columns of every view and a timestamp column; every row comes out once, in order. */
  entityFile: string;
  /** The entity file's timestamp column; `event_timestamp` by default, as in Feast. */
  timestampColumn?: string;
  views: TrainingSetView[];
  outFile: string;
}

export interface TrainingSetResult {
  rowCount: number;
  /** The entity file's columns, then the features, as written. */
  columns: ColumnType[];
}

async function describe(conn: Parameters<Parameters<typeof withDuckDb>[0]>[0], file: string): Promise<ColumnType[]> {
  const rows = await queryJson(conn, `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

/**
 * Builds a point-in-time correct training set into `outFile` (Parquet): the entity file's columns,
 * unchanged and in the same row order, followed by each view's features. Entity rows with no
 * feature row at or before their time, or whose latest one is older than the view's TTL, get NULLs.
 *
 * @throws InvalidInputError when a view is invalid, a column is missing from the entity or offline
 *   file, a requested feature is not in its view, or two output columns would share a name.
 */
export async function buildTrainingSet(request: TrainingSetRequest): Promise<TrainingSetResult> {
  const entityTs = request.timestampColumn ?? "event_timestamp";
  const problems: InputProblem[] = [];
  if (request.views.length === 0) problems.push({ field: "views", message: "must list at least one view" });
  const views = request.views.map((v, i) => {
    try {
      return validateFeatureView(v.view);
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      problems.push(...err.problems.map((p) => ({ field: `views[${i}].view.${p.field}`, message: p.message })));
      return undefined;
    }
  });
  if (problems.length > 0) throw new InvalidInputError(problems);

  return withDuckDb(async (conn) => {
    const entityColumns = await describe(conn, request.entityFile);
    const entityByName = new Map(entityColumns.map((c) => [c.name.toLowerCase(), c]));
    const tsColumn = entityByName.get(entityTs.toLowerCase());
    if (!tsColumn) problems.push({ field: "timestampColumn", message: `${entityTs} is not a column of the entity file` });
    else if (!TIMESTAMP_TYPES.has(tsColumn.type))
      problems.push({ field: "timestampColumn", message: `${entityTs} must be a TIMESTAMP column; it is ${tsColumn.type}` });
    if (entityByName.has("file_row_number"))
      problems.push({ field: "entityFile", message: "must not have a column named file_row_number (used to keep row order)" });

    // Output names, lower-cased as DuckDB compares them, with where each came from.
    const outputs = new Map<string, string>(entityColumns.map((c) => [c.name.toLowerCase(), `entity file column ${c.name}`]));
    const joins: string[] = [];
    const selected: string[] = [];
    for (const [i, spec] of request.views.entries()) {
      const view = views[i]!;
      const alias = `__sluice_f${i}`;
      view.entities.forEach((key, j) => {
        if (!entityByName.has(key.toLowerCase()))
          problems.push({ field: `views[${i}].view.entities[${j}]`, message: `${key} is not a column of the entity file` });
      });
      const offline = new Map((await describe(conn, spec.offlineFile)).map((c) => [c.name.toLowerCase(), c]));
      const names = spec.features ?? view.features.map((f) => f.name);
      const known = new Set(view.features.map((f) => f.name.toLowerCase()));
      names.forEach((name, j) => {
        const field = spec.features ? `views[${i}].features[${j}]` : `views[${i}].view.features`;
        if (!known.has(name.toLowerCase())) problems.push({ field, message: `${name} is not a feature of view ${view.name}` });
        else if (!offline.has(name.toLowerCase()))
          problems.push({ field: `views[${i}].offlineFile`, message: `has no column ${name}; materialize the view again` });
        const out = spec.prefix ? `${view.name}__${name}` : name;
        const other = outputs.get(out.toLowerCase());
        if (other) problems.push({ field, message: `output column ${out} clashes with ${other}; set prefix: true or pick other features` });
        else outputs.set(out.toLowerCase(), `feature ${name} of view ${view.name}`);
      });
      for (const column of [...view.entities, view.timestampColumn]) {
        if (!offline.has(column.toLowerCase()))
          problems.push({ field: `views[${i}].offlineFile`, message: `has no column ${column}; is it this view's feature table?` });
      }
      const f = (c: string) => `${alias}.${sqlIdent(c)}`;
      const fts = `${alias}.__sluice_ts`;
      const on = [...view.entities.map((k) => `e.${sqlIdent(k)} = ${f(k)}`), `e.${sqlIdent(entityTs)} >= ${fts}`];
      const cols = [...view.entities.map(sqlIdent), `${sqlIdent(view.timestampColumn)} AS __sluice_ts`, ...names.map(sqlIdent)];
      joins.push(
        `ASOF LEFT JOIN (SELECT ${cols.join(", ")} FROM read_parquet(${sqlString(spec.offlineFile)})) AS ${alias} ON ${on.join(" AND ")}`,
      );
      // The as-of match is the latest row at or before T, so if it has expired every earlier one has too.
      const fresh = view.ttlSeconds ? `${fts} >= e.${sqlIdent(entityTs)} - INTERVAL ${view.ttlSeconds} SECOND` : undefined;
      for (const name of names) {
        const out = sqlIdent(spec.prefix ? `${view.name}__${name}` : name);
        selected.push(fresh ? `CASE WHEN ${fresh} THEN ${f(name)} END AS ${out}` : `${f(name)} AS ${out}`);
      }
    }
    if (problems.length > 0) throw new InvalidInputError(problems);

    // file_row_number keeps the entity file's order; the joins are free to reorder rows.
    const select = `SELECT e.* EXCLUDE (file_row_number), ${selected.join(", ")}
FROM read_parquet(${sqlString(request.entityFile)}, file_row_number = true) AS e
${joins.join("\n")}
ORDER BY e.file_row_number`;
    const { rowCount, schema } = await copyToParquet(conn, select, request.outFile);
    return { rowCount, columns: schema };
  });
}
