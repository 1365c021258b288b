import fs from "node:fs/promises";
import path from "node:path";
import type { StageContext, StageInput, StageOutputResult } from "../../../runners/local/stage";
import { InvalidInputError } from "../../kernel/errors";
import { required, withInputErrorsFinal } from "../../kernel/operator-errors";
import { sqlIdent, sqlString, queryJson } from "../columnar/duckdb";
import { profileParquet } from "../columnar/profile";
import { redactSandboxMessage, SandboxLimitError, withSandbox } from "../columnar/sandbox";
import { describeParquet } from "../columnar/schema";
import { refuseUserQuery, trimQuery } from "../columnar/user-query";
import type { SchemaPolicy } from "../types";

/** Parameters of the `transform` operator (its JSON Schema is in `src/operators/catalog.ts`). */
export interface TransformParams {
  /** The dataset the result becomes a version of; created in the run's project when missing. */
  dataset: string;
  /** One SELECT query over the stage's dataset inputs, each a table named after its input. */
  sql: string;
  /** The policy of a dataset this stage creates. @default FAIL_ON_BREAKING */
  schemaPolicy?: SchemaPolicy;
}

/** Input kinds a query reads as tables (both are Parquet); other inputs only order the stage. */
const TABLE_KINDS = new Set(["Dataset", "FeatureSet"]);

/** The Parquet files of one input: the file itself, or every `.parquet` below a folder. */
async function parquetFilesOf(input: StageInput): Promise<string[]> {
  const stat = await fs.stat(input.path);
  if (!stat.isDirectory()) return [input.path];
  const entries = await fs.readdir(input.path, { recursive: true });
  return entries
    .filter((e) => e.endsWith(".parquet"))
    .map((e) => path.join(input.path, e))
    .sort();
}

/**
 * DuckDB's message for a failed query, as the user should read it: the first lines (what went
 * wrong and DuckDB's hint, such as candidate columns), never the `LINE n:` excerpt (which quotes
 * the server's wrapper around the query), with the server's file paths replaced by input names.
 */
export function queryFailureMessage(err: unknown, paths: ReadonlyMap<string, string>): string {
  let text = redactSandboxMessage(err instanceof Error ? err.message : String(err));
  for (const [file, shown] of [...paths].sort((a, b) => b[0].length - a[0].length)) text = text.split(file).join(shown);
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (/^LINE \d+:/.test(line)) break;
    if (line.trim()) lines.push(line.trim());
  }
  return lines.slice(0, 2).join(" ");
}

/**
 * Runs `sql` over `files` (input name → Parquet files, each a view named after its input) in the
 * user-SQL sandbox, writing the result to `outFile`; returns its row count. A refused query, a
 * DuckDB error and a sandbox limit are InvalidInputErrors on `params.sql`: the same query would
 * fail the same way again, so the stage is not retried.
 */
async function runQuery(sql: string, files: ReadonlyMap<string, string[]>, outFile: string): Promise<number> {
  const shown = new Map<string, string>([[outFile, "the output"]]);
  for (const [name, list] of files) for (const f of list) shown.set(f, `input ${name}`);
  try {
    return await withSandbox({ read: [...files.values()].flat(), write: [outFile] }, async (conn) => {
      const why = await refuseUserQuery(conn, sql, [...files.keys()]);
      if (why) throw new InvalidInputError([{ field: "params.sql", message: why }]);
      for (const [name, list] of files) {
        if (list.length === 0) throw new InvalidInputError([{ field: `inputs.${name}`, message: "holds no Parquet file to read" }]);
        await conn.run(`CREATE VIEW ${sqlIdent(name)} AS SELECT * FROM read_parquet([${list.map(sqlString).join(", ")}])`);
      }
      try {
        // New lines around the query, so a comment on its last line cannot swallow the parenthesis.
        const copy = `COPY (\n${trimQuery(sql)}\n) TO ${sqlString(outFile)} (FORMAT parquet, COMPRESSION zstd)`;
        const [{ Count }] = await queryJson(conn, copy);
        return Number(Count);
      } catch (err) {
        throw new InvalidInputError([{ field: "params.sql", message: `the query failed: ${queryFailureMessage(err, shown)}` }]);
      }
    });
  } catch (err) {
    await fs.rm(outFile, { force: true });
    if (err instanceof SandboxLimitError) throw new InvalidInputError([{ field: "params.sql", message: err.message }]);
    throw err;
  }
}

/**
 * `transform`: runs one SQL query over the stage's dataset inputs — each visible as a table named
 * after its input (`inputs: { weather: … }` is `FROM weather`) — and writes the result as the
 * `data` output (kind Dataset), a Parquet file with its schema and profile. The query is checked
 * (one SELECT reading only its inputs, user-query.ts) and run in the user-SQL sandbox, which can
 * read only the inputs' files and write only the output. When the stage succeeds the server
 * records the output as the next version of `dataset`, like `ingest`'s, with the input dataset
 * versions as its lineage (`origin.inputs`).
 */
export async function transform(ctx: StageContext): Promise<Record<string, StageOutputResult>> {
  const p = ctx.params as unknown as TransformParams;
  const out = required(ctx.outputs, "data", "output", "transform");
  return withInputErrorsFinal(async () => {
    const tables = Object.entries(ctx.inputs)
      .filter(([, input]) => TABLE_KINDS.has(input.kind))
      .sort(([a], [b]) => a.localeCompare(b));
    const files = new Map<string, string[]>();
    for (const [name, input] of tables) files.set(name, await parquetFilesOf(input));
    const started = performance.now();
    const rowCount = await runQuery(p.sql, files, out.path);
    const seconds = (performance.now() - started) / 1000;
    const schema = await describeParquet(out.path);
    const profile = await profileParquet(out.path);
    ctx.log(
      `transformed ${[...files.keys()].join(", ") || "no inputs"} into ${rowCount} rows in ${seconds.toFixed(2)} s for dataset ${p.dataset}`,
    );
    ctx.metric("rows", rowCount);
    return {
      data: {
        metadata: {
          dataset: p.dataset,
          rowCount,
          format: "parquet",
          register: {
            type: "datasetVersion",
            dataset: p.dataset,
            schemaPolicy: p.schemaPolicy ?? "FAIL_ON_BREAKING",
            rowCount,
            schema,
            profile,
            // The server adds each input's dataset version (`origin.inputs`) when it records this.
            lineage: [...files.keys()],
            origin: { kind: "TRANSFORM", sql: p.sql },
          },
        },
      },
    };
  });
}
