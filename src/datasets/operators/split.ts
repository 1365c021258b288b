import fs from "node:fs/promises";
import type { DuckDBConnection } from "@duckdb/node-api";
import type { StageContext, StageOutputResult } from "../../../runners/local/stage";
import { InvalidInputError } from "../../kernel/errors";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { queryJson, sqlIdent, sqlString, withDuckDb } from "../columnar/duckdb";
import { profileParquet } from "../columnar/profile";
import { describeParquet, typeKind } from "../columnar/schema";
import type { ColumnSchema, SchemaPolicy } from "../types";

/** Parameters of the `split` operator (its JSON Schema is in `src/operators/catalog.ts`). */
export interface SplitParams {
  /** The two sides become versions of `<dataset>-train` and `<dataset>-test`. */
  dataset: string;
  /** `fraction`: each row (or key) to a side by a seeded hash; `time`: earlier rows train, later ones test. */
  by: "fraction" | "time";
  /** The share of rows in `test` (`fraction`), or the share of the time range at its end (`time` without `cutoff`). */
  testFraction?: number;
  /** The hash's seed (`fraction`). @default 0 */
  seed?: number;
  /** Columns whose values decide the side (`fraction`), so rows of one key stay together. @default the whole row */
  key?: string[];
  /** The DATE or TIMESTAMP column (`time`). */
  timeColumn?: string;
  /** Rows at or after this instant go to `test` (`time`); without an offset it is UTC. */
  cutoff?: string;
  schemaPolicy?: SchemaPolicy;
}

function bad(field: string, message: string): InvalidInputError {
  return new InvalidInputError([{ field, message }]);
}

/** 2^52: the first 13 hex digits of an MD5 read as a whole number, scaled into [0, 1). */
const HASH_SCALE = 4503599627370496;

/** The alias of the input's rows, so the whole row can be hashed as one value. */
const ROW = "__sluice_row";

/**
 * The SQL condition "this row goes to test" for a fraction split: an MD5 of the seed and the row's
 * text (or its key columns') mapped into [0, 1), below `testFraction`. MD5 rather than DuckDB's
 * `hash()`, which may change between DuckDB versions: the same seed and data give the same split.
 * Each row's side depends on that row alone, so rows added in a later version do not move the others.
 */
function fractionCondition(p: SplitParams, schema: ColumnSchema[]): string {
  const names = new Set(schema.map((c) => c.name));
  for (const [i, k] of (p.key ?? []).entries())
    if (!names.has(k)) throw bad(`params.key[${i}]`, `names ${k}, which is not a column of the input (columns: ${[...names].join(", ")})`);
  const text = p.key?.length ? `CAST(row(${p.key.map((k) => `${ROW}.${sqlIdent(k)}`).join(", ")}) AS VARCHAR)` : `CAST(${ROW} AS VARCHAR)`;
  const seed = sqlString(String(p.seed ?? 0));
  return `CAST(('0x' || left(md5(${seed} || chr(31) || ${text}), 13)) AS BIGINT) / ${HASH_SCALE}.0 < ${p.testFraction}`;
}

/** An ISO date or date-time as epoch milliseconds, read as UTC when it carries no offset. */
function cutoffMs(cutoff: string): number {
  const iso = /[T ]\d/.test(cutoff) ? cutoff.replace(" ", "T") : `${cutoff}T00:00:00`;
  const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(iso) ? iso : `${iso}Z`);
  if (!Number.isFinite(ms)) throw bad("params.cutoff", `${cutoff} is not a date or date-time`);
  return ms;
}

/** The SQL condition "this row goes to test" for a time split, at `cutoff` or at the end share of the time range. */
async function timeCondition(conn: DuckDBConnection, p: SplitParams, input: string, schema: ColumnSchema[]): Promise<string> {
  const column = schema.find((c) => c.name === p.timeColumn);
  if (!column) throw bad("params.timeColumn", `names ${p.timeColumn}, which is not a column of the input`);
  if (typeKind(column.type) !== "temporal" || !/^(DATE|TIMESTAMP)/i.test(column.type))
    throw bad("params.timeColumn", `${p.timeColumn} is ${column.type}; a time split needs a DATE or TIMESTAMP column`);
  const ms = `epoch_ms(CAST(${ROW}.${sqlIdent(column.name)} AS ${/TIME ZONE|TZ/i.test(column.type) ? "TIMESTAMPTZ" : "TIMESTAMP"}))`;
  const [range] = await queryJson(
    conn,
    `SELECT count(*) FILTER (WHERE ${ms} IS NULL)::BIGINT AS nulls, min(${ms})::BIGINT AS lo, max(${ms})::BIGINT AS hi FROM ${input} ${ROW}`,
  );
  if (Number(range.nulls) > 0)
    throw bad("params.timeColumn", `${p.timeColumn} is empty in ${String(range.nulls)} row(s); a time split needs a time in every row`);
  const at =
    p.cutoff !== undefined ? cutoffMs(p.cutoff) : Number(range.lo) + (1 - (p.testFraction ?? 0)) * (Number(range.hi) - Number(range.lo));
  return `${ms} >= ${at}`;
}

/**
 * `split`: splits the `data` input into the `train` and `test` outputs (kind Dataset), two new
 * Parquet files with their schemas and profiles that the server records as versions of
 * `<dataset>-train` and `<dataset>-test`, each with the input's version as its lineage.
 * `by: fraction` sends a row to test when a seeded MD5 of the row (or of its `key` columns) falls
 * below `testFraction`: reproducible (the same seed, the same split), about `testFraction` of the
 * rows, and rows of one key together. `by: time` sends the rows at or after `cutoff` (or in the last
 * `testFraction` of the time range) to test. No user SQL runs: columns are quoted names.
 */
export async function split(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as SplitParams;
  const data = required(ctx.inputs, "data", "input", "split");
  const train = required(ctx.outputs, "train", "output", "split");
  const test = required(ctx.outputs, "test", "output", "split");
  return withInputErrorsFinal(async () => {
    const schema = await describeParquet(data.path);
    const input = `read_parquet(${sqlString(data.path)})`;
    const counts = await withDuckDb(async (conn) => {
      const toTest = p.by === "time" ? await timeCondition(conn, p, input, schema) : fractionCondition(p, schema);
      const side = (cond: string, file: string) =>
        queryJson(
          conn,
          `COPY (SELECT ${ROW}.* FROM ${input} ${ROW} WHERE ${cond}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
        );
      const [[{ Count: testRows }], [{ Count: trainRows }]] = [await side(toTest, test.path), await side(`NOT (${toTest})`, train.path)];
      return { train: Number(trainRows), test: Number(testRows) };
    });
    for (const [name, rows] of Object.entries(counts)) {
      if (rows === 0) {
        await Promise.all([fs.rm(train.path, { force: true }), fs.rm(test.path, { force: true })]);
        const field = p.by === "time" && p.cutoff !== undefined ? "params.cutoff" : "params.testFraction";
        throw bad(field, `leaves the ${name} side empty; choose a value that puts rows on both sides`);
      }
    }
    ctx.log(`split ${counts.train + counts.test} rows by ${p.by}: ${counts.train} train, ${counts.test} test`);
    ctx.metric("train_rows", counts.train);
    ctx.metric("test_rows", counts.test);
    const origin = {
      kind: "SPLIT",
      by: p.by,
      ...(p.by === "fraction"
        ? { testFraction: p.testFraction, seed: p.seed ?? 0, key: p.key ?? null }
        : { timeColumn: p.timeColumn, cutoff: p.cutoff ?? null, testFraction: p.testFraction ?? null }),
    };
    const result: Record<string, StageOutputResult> = {};
    for (const [name, file, rowCount] of [
      ["train", train.path, counts.train],
      ["test", test.path, counts.test],
    ] as const) {
      const dataset = `${p.dataset}-${name}`;
      result[name] = {
        metadata: {
          dataset,
          rowCount,
          format: "parquet",
          register: {
            type: "datasetVersion",
            dataset,
            schemaPolicy: p.schemaPolicy ?? "FAIL_ON_BREAKING",
            rowCount,
            schema: await describeParquet(file),
            profile: await profileParquet(file),
            lineage: ["data"],
            origin: { ...origin, side: name },
          },
        },
      };
    }
    return result;
  });
}
