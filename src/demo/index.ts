/**
 * `sluice server --demo` (what `npm start` runs): once the server is up, the flights demo runs
 * in the background against it (see flights-demo.ts) while the server keeps serving. It runs once
 * per database: a database that already has the demo's project is left alone.
 */
import path from "node:path";
import type { SluiceConfig } from "../app/config";
import type { RunningServer } from "../app/server";
import { DEMO_PROJECT, type DemoOptions, runFlightsDemo } from "./flights-demo";

/** Knobs, from the environment: `SLUICE_DEMO_FLIGHTS_PER_MONTH`, `SLUICE_DEMO_WINDOW`, `SLUICE_DEMO_TRAINING_SAMPLE`. */
export function demoSettings(env: NodeJS.ProcessEnv) {
  const int = (name: string, fallback: number, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, not ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    perMonth: int("SLUICE_DEMO_FLIGHTS_PER_MONTH", 20_000, 1000),
    windowSize: int("SLUICE_DEMO_WINDOW", 5_000, 100),
    trainingSample: int("SLUICE_DEMO_TRAINING_SAMPLE", 100_000, 1000),
  };
}

/** Where this package lives (examples/ and node_modules/vega-datasets are found from here). */
export function repoRoot(): string {
  // dist/src/demo → the package root
  return path.resolve(__dirname, "../../..");
}

/**
 * Where the demo lands its files: in the data dir, when stage code may read there. The `ingest`
 * operator reads inside `SLUICE_DATA_ROOTS` as set in the environment, else the working directory
 * (it cannot know the server's --data-dir), so a data dir elsewhere gets `.sluice-demo/` here.
 */
function demoWorkDir(config: SluiceConfig): string {
  const fromEnv = process.env.SLUICE_DATA_ROOTS?.trim();
  const roots = fromEnv ? fromEnv.split(",").map((r) => path.resolve(r.trim())) : [process.cwd()];
  const inside = (dir: string) => roots.some((r) => dir === r || dir.startsWith(r + path.sep));
  const preferred = config.dataDir === "memory://" ? undefined : path.join(config.dataDir, "demo");
  return preferred && inside(preferred) ? preferred : path.join(roots[0]!, ".sluice-demo");
}

/**
 * Runs the demo unless it ran in this database before or there is no admin token to run it with,
 * talking to `server` through the API clients `connect` makes (the command line's).
 * Never rejects: a failure is printed, and the server goes on serving.
 */
export async function startDemo(
  server: RunningServer,
  config: SluiceConfig,
  out: (line: string) => void,
  connect: DemoOptions["connect"],
): Promise<void> {
  if (await server.services.projects.getByName(DEMO_PROJECT)) {
    out(
      `[demo] project ${DEMO_PROJECT} exists in this database: the demo ran before. To run it again, start on a new data dir (SLUICE_DATA_DIR).`,
    );
    return;
  }
  const token = server.bootstrapToken ?? config.adminToken;
  if (!token) {
    out(
      "[demo] not run: this database has an admin already and its token is not known here; set SLUICE_ADMIN_TOKEN to it, or use a new data dir.",
    );
    return;
  }
  const root = repoRoot();
  const workDir = demoWorkDir(config);
  try {
    await runFlightsDemo({ baseUrl: server.url, token, connect, repoRoot: root, workDir, out, ...demoSettings(process.env) });
    out("[demo] done; the server keeps running (Ctrl-C stops it).");
  } catch (err) {
    out(`[demo] stopped: ${whyStopped(err)}`);
    // A CliError from the API client carries one line per invalid field.
    for (const detail of (err as { details?: string[] }).details ?? []) out(`[demo]   ${detail}`);
  }
}

/** The error's message and, for a network failure (`fetch failed`), the cause that says what failed. */
function whyStopped(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (!cause) return message;
  return `${message} (${[cause.code, cause.message].filter(Boolean).join(": ")})`;
}
