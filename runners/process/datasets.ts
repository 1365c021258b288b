/**
 * Datasets as tables for command stages, whose programs may have no Parquet reader (Debian's
 * Python has no pyarrow): before the program starts, each Dataset input is also written as JSON
 * lines (`.sluice/tables/<input>.jsonl`, with its columns in the inputs file); after it ends
 * well, a Dataset output it wrote as `outputs/<name>.jsonl` or `outputs/<name>.csv` instead of
 * `outputs/<name>` is converted to Parquet there. The helper `python/sluice_stage.py` (on the
 * stage's `PYTHONPATH`) reads and writes these for Python. See `runners/PROTOCOL.md`
 * ("Datasets as tables").
 * @internal used by `index.ts`.
 */
import { existsSync } from "node:fs";
import { copyFile, lstat, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { StageTask } from "../contract";
import { outputPath } from "../outputs";
import { TableSession, parquetRelation, sqlString, toParquet } from "../tables";
import type { TableColumn } from "../local/stage";

/** Dataset inputs larger than this (bytes of Parquet) are not written as JSON lines: a program reads their Parquet itself. */
export const DEFAULT_TABLE_JSONL_MAX_BYTES = 256 * 1024 * 1024;

/** What the inputs file says of a Dataset input's JSON-lines copy (`table`). */
export type InputTable =
  { jsonl: string; columns: TableColumn[]; rowCount: number } | { jsonl: null; reason: string; columns?: TableColumn[] };

/** The folder of `sluice_stage.py`: beside the compiled runner (a packaged build copies it there), else in the source tree. */
export function pythonHelperDir(): string | undefined {
  const candidates = [path.join(__dirname, "python"), path.resolve(__dirname, "../../../runners/process/python")];
  return candidates.find((dir) => existsSync(path.join(dir, "sluice_stage.py")));
}

/**
 * Writes every Dataset input of `task` up to `maxBytes` as JSON lines under
 * `workDir/.sluice/tables/`, one object per row (DuckDB's JSON: numbers stay numbers, timestamps
 * are ISO-like strings, BIGINTs exact). Returns what the inputs file records, by input name.
 */
export async function materializeInputTables(task: StageTask, maxBytes: number): Promise<Record<string, InputTable>> {
  const datasets = Object.entries(task.inputs).filter(([, input]) => input.kind === "Dataset");
  if (datasets.length === 0) return {};
  const dir = path.join(task.workDir, ".sluice", "tables");
  await mkdir(dir, { recursive: true });
  const session = new TableSession(task.workDir);
  const tables: Record<string, InputTable> = {};
  try {
    for (const [index, [name, input]] of datasets.entries()) {
      if (input.size > maxBytes) {
        tables[name] = { jsonl: null, reason: `the input is ${input.size} bytes of Parquet, over the runner's ${maxBytes} for JSON lines` };
        continue;
      }
      // Numbered, not named after the input: a name is any single path segment.
      const jsonl = path.join(dir, `input-${index}.jsonl`);
      try {
        const relation = parquetRelation(input.path, (await lstat(input.path)).isDirectory());
        const conn = await session.connection();
        await conn.run(`COPY (SELECT * FROM ${relation}) TO ${sqlString(jsonl)} (FORMAT json)`);
        const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
        const columns = (described.getRowObjectsJson() as Array<{ column_name: string; column_type: string }>).map((r) => ({
          name: r.column_name,
          type: r.column_type,
        }));
        const counted = await conn.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${relation}`);
        tables[name] = { jsonl, columns, rowCount: Number(counted.getRowObjectsJS()[0]?.n as bigint) };
      } catch (err) {
        // Not Parquet after all (a Dataset artifact uploaded by hand, say): the program still has its path.
        await rm(jsonl, { force: true });
        tables[name] = { jsonl: null, reason: `the input could not be read as Parquet: ${firstLine(err)}` };
      }
    }
  } finally {
    await session.closed();
  }
  return tables;
}

/** A Dataset output converted from what the program wrote, or why it could not be. */
export type ConvertedOutput = { name: string; from: "jsonl" | "csv"; rowCount: number } | { name: string; error: string };

/**
 * Converts each declared Dataset output that the program wrote as `outputs/<name>.jsonl` or
 * `outputs/<name>.csv` (and not as `outputs/<name>`) to Parquet at `outputs/<name>`; the source
 * file is removed. Only a regular file is read (never a link the program left there), from a
 * copy in a folder of the runner's own, since the program chose the file's content, not its path.
 */
export async function convertOutputTables(task: StageTask): Promise<ConvertedOutput[]> {
  const converted: ConvertedOutput[] = [];
  let session: TableSession | undefined;
  let scratch: string | undefined;
  try {
    for (const [name, output] of Object.entries(task.outputs)) {
      if (output.kind !== "Dataset") continue;
      const target = outputPath(task.workDir, name);
      if (await present(target)) continue;
      for (const from of ["jsonl", "csv"] as const) {
        const source = `${target}.${from}`;
        const info = await lstat(source).catch(() => undefined);
        if (!info) continue;
        if (!info.isFile()) {
          converted.push({ name, error: `outputs/${name}.${from} is not a regular file` });
          break;
        }
        scratch ??= await mkdtemp(path.join(tmpdir(), "sluice-table-"));
        const copy = path.join(scratch, `output.${from}`);
        await copyFile(source, copy);
        session ??= new TableSession(scratch);
        try {
          const shape = await toParquet(session, copy, from, target);
          await rm(source, { force: true });
          converted.push({ name, from, rowCount: shape.rowCount });
        } catch (err) {
          await rm(target, { force: true });
          converted.push({ name, error: `outputs/${name}.${from} could not be read as a table: ${firstLine(err)}` });
        } finally {
          await rm(copy, { force: true });
        }
        break;
      }
    }
  } finally {
    await session?.closed();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  return converted;
}

async function present(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => undefined)) !== undefined;
}

/** DuckDB's message without the runner's scratch path. */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0]!.replace(/\/[^\s"']*sluice-table-[^\s"']*/g, "<file>");
}
