import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

/**
 * A DuckDB instance for SQL a user wrote (feature expressions and filters, ingest filters): the
 * DESIGN.md trust model says such SQL runs "without file or network access, over the tables the
 * server registered". The static check (user-sql.ts) refuses table functions and table
 * references before anything runs; this is the second wall, for whatever that check misses.
 *
 * Each job gets its own in-memory instance whose configuration is set and then locked before the
 * caller sees a connection:
 * - `enable_external_access = false`: no file outside the lists below, no network, no ATTACH,
 *   no INSTALL/LOAD of extensions from disk (and extension autoloading is off);
 * - `allowed_paths`: exactly the input files the server chose (read) and the output file it will
 *   rename into place (write); `allowed_directories`: the job's own spill folder only;
 * - `memory_limit`: `SLUICE_USER_SQL_MEMORY` (@default 4GB), so one expression cannot take the
 *   machine's memory (DuckDB's own default is 80 % of it);
 * - `lock_configuration = true`: no SET/RESET/PRAGMA can undo any of it.
 * A statement is also interrupted after `SLUICE_USER_SQL_TIMEOUT_MS` (@default 600000): the cost of
 * an expression per row is the user's to choose (`repeat('x', 1e9)`), so the time is bounded instead.
 * The server's own trusted work (describing, profiling, copying its artifacts) keeps using the
 * shared instance of duckdb.ts. Creating an instance costs about 10–20 ms (measured on DuckDB 1.5,
 * 2 cores), small next to reading a Parquet file.
 */

export interface SandboxFiles {
  /** Files the SQL may read: the inputs the server registered. */
  read: readonly string[];
  /** Files the SQL may write: the server's own output (a COPY it built), never a user path. */
  write?: readonly string[];
}

function listSql(values: readonly string[]): string {
  return `[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(", ")}]`;
}

/** User SQL stopped by a limit of the sandbox: the message names the limit and its setting. */
export class SandboxLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SandboxLimitError";
  }
}

/** The sandbox's limits, read from the environment each time (operators run in worker threads without the server's config). */
function sandboxLimits(): { memory: string; timeoutMs: number } {
  const memory = process.env.SLUICE_USER_SQL_MEMORY?.trim() || "4GB";
  if (!/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(memory))
    throw new SandboxLimitError(`SLUICE_USER_SQL_MEMORY must be a size such as 4GB or 512MB, not ${JSON.stringify(memory)}`);
  const raw = process.env.SLUICE_USER_SQL_TIMEOUT_MS?.trim();
  const timeoutMs = raw ? Number(raw) : 600_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw new SandboxLimitError(`SLUICE_USER_SQL_TIMEOUT_MS must be a positive whole number of ms, not ${JSON.stringify(raw)}`);
  return { memory, timeoutMs };
}

/** Runs `fn` on a connection of a fresh, locked-down DuckDB instance; everything is closed and removed afterwards. */
export async function withSandbox<T>(files: SandboxFiles, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const limits = sandboxLimits();
  const spill = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-sql-"));
  const threads = process.env.SLUICE_DUCKDB_THREADS;
  let instance: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  try {
    instance = await DuckDBInstance.create(":memory:", {
      ...(threads ? { threads } : {}),
      autoload_known_extensions: "false",
      autoinstall_known_extensions: "false",
    });
    conn = await instance.connect();
    // As the SQL spells them and resolved, since DuckDB compares the path it is given.
    // COPY over an existing file writes `tmp_<name>` beside it first, then renames it into place.
    const writes = (files.write ?? []).flatMap((f) => [f, path.join(path.dirname(f), `tmp_${path.basename(f)}`)]);
    const allowed = [...new Set([...files.read, ...writes].flatMap((f) => [f, path.resolve(f)]))];
    await conn.run(`SET temp_directory = '${spill.replace(/'/g, "''")}'`);
    await conn.run(`SET allowed_directories = ${listSql([`${spill}${path.sep}`])}`);
    await conn.run(`SET allowed_paths = ${listSql(allowed)}`);
    await conn.run(`SET memory_limit = '${limits.memory}'`);
    await conn.run("SET enable_external_access = false");
    await conn.run("SET lock_configuration = true");
    const running = conn;
    timer = setTimeout(() => {
      timedOut = true;
      running.interrupt();
    }, limits.timeoutMs);
    timer.unref();
    try {
      return await fn(conn);
    } catch (err) {
      if (timedOut)
        throw new SandboxLimitError(`user SQL ran longer than ${limits.timeoutMs} ms and was stopped (SLUICE_USER_SQL_TIMEOUT_MS)`);
      if (err instanceof Error && /Out of Memory Error/i.test(err.message))
        throw new SandboxLimitError(`user SQL needed more than ${limits.memory} of memory and was stopped (SLUICE_USER_SQL_MEMORY)`);
      throw err;
    }
  } finally {
    if (timer) clearTimeout(timer);
    conn?.closeSync();
    instance?.closeSync();
    await fs.rm(spill, { recursive: true, force: true }).catch(() => undefined);
  }
}

const DENIED_ACCESS = /Cannot access (file|directory) "[^"]*" - file system operations are disabled by configuration/g;

/**
 * DuckDB's message with any refused file path taken out: the refusal is told to the user, and a
 * server path must never be (the user may have guessed it, but must not learn whether it exists).
 */
export function redactSandboxMessage(message: string): string {
  if (!message.includes("file system operations are disabled by configuration")) return message;
  // The LINE excerpt after the message quotes the SQL, and with it the path: drop it.
  return message.split("\n")[0].replace(DENIED_ACCESS, "file access is not allowed in user SQL");
}

/** Whether DuckDB refused `err`'s statement for touching a file the sandbox does not allow. */
export function isSandboxRefusal(err: unknown): boolean {
  if (err instanceof SandboxLimitError) return true;
  DENIED_ACCESS.lastIndex = 0;
  return err instanceof Error && DENIED_ACCESS.test(err.message);
}
