/**
 * What the benchmarks share: a real server started as a child process, a GraphQL client, a
 * fresh PostgreSQL database per run, percentiles and the machine's description.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(REPO_ROOT, "bin", "sluice.js");
export const ADMIN_TOKEN = `slc_bench_admin_${randomBytes(16).toString("hex")}`;
const SERVING = /Sluice is serving GraphQL at (http:\/\/[^\s]+?):(\d+)\/graphql/;

/** Servers still running, stopped on Ctrl-C/SIGTERM before anything else is cleaned up. */
export const liveServers = new Set<ServerProcess>();

export interface ServerProcess {
  url: string;
  /** Log lines at warn or above, and anything else unexpected the server printed. */
  problems: string[];
  /** Counts of JSON log lines by level (at LOG_LEVEL=warn: warn, error, fatal), whole server lifetime. */
  logLevels: Record<string, number>;
  stop(): Promise<void>;
}

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const childEnv: Record<string, string> = {};
  // Only what the process needs to run: never inherit DATABASE_URL or SLUICE_* from the caller.
  for (const key of ["PATH", "HOME", "TMPDIR", "LANG", "NODE_OPTIONS"]) {
    if (process.env[key] !== undefined) childEnv[key] = process.env[key]!;
  }
  Object.assign(childEnv, {
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    SLUICE_RATE_LIMIT: "0",
    SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
    ...env,
  });
  const child: ChildProcess = spawn(process.execPath, [CLI, "server", "--port", "0"], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const problems: string[] = [];
  const logLevels: Record<string, number> = {};
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );

  const url = await new Promise<string>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`server did not report its address within 60 s:\n${problems.join("\n")}`)), 60_000);
    function fail(err: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    }
    const onLine = (line: string, stream: "stdout" | "stderr") => {
      if (!line.trim()) return;
      const m = SERVING.exec(line);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(`${m[1]}:${m[2]}/graphql`);
        return;
      }
      let level: string | undefined;
      try {
        const parsed = JSON.parse(line) as { level?: unknown };
        if (typeof parsed.level === "string") level = parsed.level;
      } catch {
        // not a log line
      }
      if (level) logLevels[level] = (logLevels[level] ?? 0) + 1;
      if (problems.length < 200) problems.push(`[${stream}] ${line.length > 500 ? `${line.slice(0, 500)}…` : line}`);
    };
    const splitter = (stream: "stdout" | "stderr") => {
      let buf = "";
      return (chunk: Buffer) => {
        buf += chunk.toString("utf8");
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          onLine(buf.slice(0, nl), stream);
          buf = buf.slice(nl + 1);
        }
      };
    };
    child.stdout!.on("data", splitter("stdout"));
    child.stderr!.on("data", splitter("stderr"));
    child.once("error", fail);
    void exitPromise.then(() => fail(new Error(`server exited (${JSON.stringify(exited)}) before serving:\n${problems.join("\n")}`)));
  });

  let stopping: Promise<void> | undefined;
  const server: ServerProcess = {
    url,
    problems,
    logLevels,
    /** SIGTERM (the server drains and exits 0), SIGKILL after 15 s; safe to call more than once. */
    stop() {
      stopping ??= (async () => {
        liveServers.delete(server);
        if (exited) return;
        child.kill("SIGTERM");
        const killTimer = setTimeout(() => {
          if (!exited) child.kill("SIGKILL");
        }, 15_000);
        await exitPromise;
        clearTimeout(killTimer);
        // (Re-read: TypeScript narrowed `exited` to undefined before the await.)
        const status = exited as { code: number | null; signal: NodeJS.Signals | null } | undefined;
        if (status && status.code !== 0) {
          problems.push(`server exited with code ${status.code} signal ${status.signal} on SIGTERM`);
        }
      })();
      return stopping;
    },
  };
  liveServers.add(server);
  return server;
}

export async function gql(url: string, query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

export async function createDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `sluice_bench_${Date.now()}_${randomBytes(3).toString("hex")}`;
  const admin = new Client({ connectionString: withDatabase(baseUrl, "postgres") });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(baseUrl, name),
    async drop() {
      const c = new Client({ connectionString: withDatabase(baseUrl, "postgres") });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export function withDatabase(baseUrl: string, db: string): string {
  const u = new URL(baseUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function postgresVersion(baseUrl: string): Promise<string> {
  const c = new Client({ connectionString: withDatabase(baseUrl, "postgres") });
  await c.connect();
  try {
    const r = await c.query<{ server_version: string }>("SHOW server_version");
    return r.rows[0]?.server_version ?? "?";
  } finally {
    await c.end();
  }
}

export function pgliteVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", "@electric-sql", "pglite", "package.json"), "utf8")) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return "?";
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Progress lines go to stderr, so stdout holds only the figures. */
export function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}
