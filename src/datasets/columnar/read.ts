import fs from "node:fs/promises";
import path from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { InvalidInputError } from "../../kernel/errors";
import { checkInsideRoots, isGlob, resolveInsideRoots, shownPath } from "../sources/roots";
import type { ColumnSchema, FileSourceConfig } from "../types";
import { queryJson, sqlString, withDuckDb } from "./duckdb";
import { redactSandboxMessage, withSandbox } from "./sandbox";
import { refuseUserExpression } from "./user-sql";
import { describeQuery, isWidening, typeKind } from "./schema";
import { locateRecordValue, locateSyntaxError } from "./syntax-error";

/** What reading a source into one Parquet file produced. */
export interface MaterializedFiles {
  rowCount: number;
  schema: ColumnSchema[];
  /** Every file read, in the order read (sorted, so the same files give the same bytes). */
  files: string[];
}

/** DuckDB's reader call for `files` in `format`, with the source's options. */
export function readerSql(files: readonly string[], config: Pick<FileSourceConfig, "format" | "hivePartitioning" | "csv">): string {
  const list = `[${files.map(sqlString).join(", ")}]`;
  // Files of one source may add columns over time; they are matched by name, missing ones null.
  const extra = (config.hivePartitioning ? ", hive_partitioning = true" : "") + (files.length > 1 ? ", union_by_name = true" : "");
  switch (config.format) {
    case "parquet":
      return `read_parquet(${list}${extra})`;
    // records = true: every row is an object (its keys the columns); other values are refused,
    // rather than read as one column named "json". Nested objects and arrays stay STRUCT and LIST.
    case "json":
      // 'auto': an array of objects, or objects one after another (one per line or pretty-printed).
      return `read_json(${list}, format = 'auto', records = true${extra})`;
    case "jsonl":
      return `read_json(${list}, format = 'newline_delimited', records = true${extra})`;
    case "csv": {
      const o = config.csv ?? {};
      const opts = [
        // strict_mode makes a ragged or unterminated row an error; fixing the dialect's defaults
        // (comma, double quote, a header, no skipped rows) stops the sniffer from "explaining" a
        // broken file as a one-column file with another delimiter, or by skipping its bad rows.
        "strict_mode = true",
        "skip = 0",
        `delim = ${sqlString(o.delimiter ?? ",")}`,
        `header = ${o.header ?? true}`,
        `quote = ${sqlString(o.quote ?? '"')}`,
        o.escape !== undefined ? `escape = ${sqlString(o.escape)}` : "",
        o.nullString !== undefined ? `nullstr = ${sqlString(o.nullString)}` : "",
      ].filter(Boolean);
      return `read_csv(${list}, ${opts.join(", ")}${extra})`;
    }
  }
}

/** The files a source's paths and globs name, checked against the roots; sorted, no repeats. */
export async function expandPaths(conn: DuckDBConnection, config: FileSourceConfig, roots: readonly string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const [i, p] of config.paths.entries()) {
    const field = `config.paths[${i}]`;
    const absolute = resolveInsideRoots(p, roots, field);
    if (isGlob(absolute)) {
      const matched = (await queryJson(conn, `SELECT file FROM glob(${sqlString(absolute)}) ORDER BY file`)).map((r) => String(r.file));
      if (matched.length === 0) throw new InvalidInputError([{ field, message: `${p} matches no files` }]);
      checkInsideRoots(matched, roots, field);
      matched.forEach((f) => files.add(f));
    } else {
      const stat = await fs.stat(absolute).catch(() => null);
      if (!stat) throw new InvalidInputError([{ field, message: `${p} does not exist` }]);
      if (stat.isDirectory()) {
        // A folder is read whole, partitions included: every file of the format below it.
        // JSON and JSON Lines files share the .json name in the wild; readableAs tells them apart.
        // (DuckDB's glob has no {a,b} alternatives, so one glob per extension.)
        const exts = config.format === "jsonl" || config.format === "json" ? ["json", "jsonl", "ndjson"] : [config.format];
        const matched: string[] = [];
        for (const ext of exts) {
          const pattern = path.join(absolute, "**", `*.${ext}`);
          for (const r of await queryJson(conn, `SELECT file FROM glob(${sqlString(pattern)}) ORDER BY file`)) matched.push(String(r.file));
        }
        if (matched.length === 0)
          throw new InvalidInputError([{ field, message: `${p} holds no ${exts.map((e) => `.${e}`).join(", ")} files` }]);
        checkInsideRoots(matched, roots, field);
        matched.forEach((f) => files.add(f));
      } else files.add(absolute);
    }
  }
  const sorted = [...files].sort();
  for (const f of sorted) {
    const stat = await fs.stat(f);
    if (stat.size === 0) throw new InvalidInputError([{ field: "config.paths", message: `${shownPath(f, roots)} is empty` }]);
  }
  return sorted;
}

/**
 * A DuckDB message with the absolute paths it quotes replaced by what the client knows: each
 * input file relative to its data root, the server's converted copy as "the converted copy".
 */
function withShownPaths(message: string, files: readonly string[], roots: readonly string[], outFile?: string): string {
  let text = outFile ? message.split(outFile).join("the converted copy") : message;
  for (const file of [...files].sort((a, b) => b.length - a.length)) text = text.split(file).join(shownPath(file, roots));
  return text;
}

/**
 * DuckDB's message without its "Invalid Input Error:" prefix and the hints after it: those name
 * reader options (`format='auto'`, `strict_mode=false`, `ignore_errors`) the user never set and
 * cannot set, so they would only mislead.
 */
export function duckMessage(err: unknown): string {
  const text = redactSandboxMessage(err instanceof Error ? err.message : String(err));
  const lines = text.split("\n").filter((l) => l.trim());
  const hint =
    /^\s*(\*|LINE \d|Possible (fixes|Solution)|Try |Consider |The search space|Delimiter Candidates|Quote\/Escape|Comment Candidates|Encoding:)/i;
  const kept: string[] = [];
  // DuckDB puts the what on the first line and, for CSV, the where and why on the next ones.
  for (const line of lines.slice(0, 4)) {
    if (hint.test(line)) break;
    kept.push(line.trim());
  }
  return kept
    .join(" ")
    .replace(/^[A-Za-z ]*Error: /, "")
    .replace(/\s*(Try|Consider) (setting|using|auto-detecting|unsetting)\b.*$/i, "")
    .trim();
}

/** The first byte of `file` that is not JSON whitespace (or a byte-order mark), as a character. */
async function firstSignificantChar(file: string): Promise<string> {
  const handle = await fs.open(file, "r");
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer
      .subarray(0, bytesRead)
      .toString("utf8")
      .replace(/^\uFEFF/, "");
    return text.trimStart().charAt(0);
  } finally {
    await handle.close();
  }
}

/**
 * The source as it can be read: a `jsonl` source whose files include a JSON array (a file whose
 * first non-space character is `[`, as `.json` files often are) is read as `json`, which reads
 * JSON Lines too; anything else as declared.
 */
export async function readableAs(config: FileSourceConfig, files: readonly string[]): Promise<FileSourceConfig> {
  if (config.format !== "jsonl") return config;
  for (const file of files) if ((await firstSignificantChar(file)) === "[") return { ...config, format: "json" };
  return config;
}

/**
 * Why DuckDB could not read `files`, in the user's terms: the file, line and column of the first
 * malformed record of a CSV, JSON or JSON Lines file, found by scanning the files again (the one
 * DuckDB's message names first); else DuckDB's own first sentence, paths shown as the client
 * knows them, without its hints about reader options.
 */
export async function explainReadError(
  err: unknown,
  files: readonly string[],
  config: Pick<FileSourceConfig, "format" | "csv">,
  roots: readonly string[],
  outFile?: string,
): Promise<string> {
  const raw = err instanceof Error ? err.message : String(err);
  if (config.format !== "parquet") {
    const conversion = conversionError(raw, config.format);
    if (conversion) {
      const named = files.filter((f) => raw.includes(f));
      for (const file of named.length ? named : files) {
        const found = await locateRecordValue(file, config.format, conversion.record, conversion.value, conversion.problem).catch(
          () => null,
        );
        if (found) return `${shownPath(file, roots)}: line ${found.line}, column ${found.column}: ${found.problem}`;
      }
    }
    const named = files.filter((f) => raw.includes(f));
    for (const file of [...named, ...files.filter((f) => !named.includes(f))]) {
      const found = await locateSyntaxError(file, config.format, config.csv).catch(() => null);
      if (found) return `${shownPath(file, roots)}: line ${found.line}, column ${found.column}: ${found.problem}`;
    }
  }
  return withShownPaths(duckMessage(err), files, roots, outFile);
}

/**
 * A value DuckDB could not convert to the type it gave its column from the rows before, as
 * DuckDB reports it: the record (a line of CSV or JSON Lines, an element of a JSON array), the
 * value as the file writes it, and the problem in the user's terms.
 */
function conversionError(raw: string, format: "csv" | "json" | "jsonl"): { record: number; value: string; problem: string } | null {
  if (format === "csv") {
    const line = /CSV Error on Line: (\d+)/.exec(raw);
    const value = /Could not convert string "(.*?)" to '([^']+)'/.exec(raw);
    if (!line || !value) return null;
    const column = /converting column "([^"]*)"/.exec(raw)?.[1];
    return {
      record: Number(line[1]),
      value: value[1],
      problem: `"${value[1]}"${column ? ` in column ${column}` : ""} is not a ${value[2]}, the type the rows before it gave the column`,
    };
  }
  const at = /JSON transform error in file ".*?", in (?:line|record\/value) (\d+): (.*)/.exec(raw);
  if (!at) return null;
  const why = at[2].split("\n")[0].trim();
  const value = /: ("(?:[^"\\]|\\.)*"|\S+)$/.exec(why)?.[1] ?? "";
  return {
    record: Number(at[1]),
    value,
    problem: `${why.charAt(0).toLowerCase()}${why.slice(1)} (the records before it gave this key another type)`,
  };
}

/**
 * Refuses files of one source whose columns disagree in a way no reader should paper over: the
 * same column as a number in one file and text in another. Numeric widenings (BIGINT vs DOUBLE,
 * as CSV sniffing produces) are fine: DuckDB unifies them.
 */
async function checkTypesAgree(conn: DuckDBConnection, files: string[], config: FileSourceConfig, roots: readonly string[]): Promise<void> {
  if (files.length < 2) return;
  const seen = new Map<string, { type: string; file: string }>();
  for (const file of files) {
    let cols: ColumnSchema[];
    try {
      cols = await describeQuery(conn, `SELECT * FROM ${readerSql([file], config)}`);
    } catch (err) {
      const why = await explainReadError(err, [file], config, roots);
      throw new InvalidInputError([
        {
          field: "config.paths",
          message: why.startsWith(shownPath(file, roots)) ? why : `${shownPath(file, roots)} cannot be read as ${config.format}: ${why}`,
        },
      ]);
    }
    for (const col of cols) {
      const first = seen.get(col.name);
      if (!first) {
        seen.set(col.name, { type: col.type, file });
        continue;
      }
      const compatible =
        first.type === col.type ||
        (typeKind(first.type) === "numeric" && typeKind(col.type) === "numeric") ||
        isWidening(first.type, col.type) ||
        isWidening(col.type, first.type);
      if (!compatible) {
        throw new InvalidInputError([
          {
            field: "config.paths",
            message: `column ${col.name} is ${first.type} in ${path.basename(first.file)} but ${col.type} in ${path.basename(file)}`,
          },
        ]);
      }
    }
  }
}

/**
 * Reads a file source (CSV, Parquet, JSON or JSON Lines; paths, globs, partitioned folders) into one
 * Parquet file at `outFile`. DuckDB streams the files to the output, so nothing is held in
 * JavaScript and inputs larger than memory work. `where` is a SQL condition over the rows. Unreadable, empty or clashing input is an
 * InvalidInputError naming the file; `outFile` is then not written.
 */
export async function materializeFiles(
  config: FileSourceConfig,
  outFile: string,
  opts: { roots: readonly string[]; where?: string },
): Promise<MaterializedFiles> {
  return withDuckDb(async (conn) => {
    const files = await expandPaths(conn, config, opts.roots);
    config = await readableAs(config, files);
    await checkTypesAgree(conn, files, config, opts.roots);
    // A filter (an `ingest` stage's `where`, e.g. one month of a larger file) is applied while reading.
    const select = `SELECT * FROM ${readerSql(files, config)}${opts.where ? ` WHERE (${opts.where})` : ""}`;
    const copy = `COPY (${select}) TO ${sqlString(outFile)} (FORMAT parquet, COMPRESSION zstd)`;
    let rowCount: number;
    try {
      const [{ Count }] =
        opts.where === undefined
          ? await queryJson(conn, copy)
          : // The filter is user SQL: checked, then run where it can read these files and write outFile only.
            await withSandbox({ read: files, write: [outFile] }, async (sandboxed) => {
              const why = await refuseUserExpression(sandboxed, opts.where!);
              if (why) throw new InvalidInputError([{ field: "params.where", message: `where: ${why}` }]);
              return queryJson(sandboxed, copy);
            });
      rowCount = Number(Count);
    } catch (err) {
      if (err instanceof InvalidInputError) throw err;
      await fs.rm(outFile, { force: true });
      throw new InvalidInputError([
        {
          field: "config.paths",
          message: `cannot read the ${config.format} input: ${await explainReadError(err, files, config, opts.roots, outFile)}`,
        },
      ]);
    }
    if (rowCount === 0) {
      await fs.rm(outFile, { force: true });
      throw new InvalidInputError([{ field: "config.paths", message: "the source holds no rows" }]);
    }
    const schema = await describeQuery(conn, `SELECT * FROM read_parquet(${sqlString(outFile)})`);
    return { rowCount, schema, files };
  });
}
