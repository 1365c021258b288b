import path from "node:path";
import os from "node:os";
import type { Command } from "commander";

export interface RunnerFlags {
  server?: string;
  token?: string;
  labels?: string;
  concurrency?: string;
  name?: string;
  workDir?: string;
  baseDir?: string;
  drainGrace?: string;
}

/** Adds `sluice runner`: a remote runner agent (runners/remote). */
export function registerRunnerCommand(program: Command): void {
  program
    .command("runner")
    .description("run pipeline stages for a Sluice server on this machine, as a remote runner (needs a RUNNER token)")
    .option("--server <url>", "the Sluice server (env SLUICE_URL, default http://localhost:4000)")
    .option("--token <token>", "a token of a principal with the RUNNER role (env SLUICE_TOKEN)")
    .option(
      "--labels <labels>",
      "comma-separated labels this runner offers; it takes stages whose labels are all among them (default local)",
    )
    .option("--concurrency <n>", "stage attempts run at once (default 1)")
    .option("--name <name>", "the runner's unique name (default the host name)")
    .option("--work-dir <dir>", "input cache and attempt scratch folders (default <tmp>/sluice-agent-<name>)")
    .option("--base-dir <dir>", "resolve stage modules and command cwd here instead of the pipeline's baseDir on the server")
    .option("--drain-grace <ms>", "on SIGTERM, how long running stages may finish before they are given back (default 30000)")
    .action(runnerCommand);
}

/**
 * `sluice runner`: registers with the server and runs the stages it leases until SIGTERM or
 * SIGINT, then drains (stops leasing, lets running stages finish up to the grace period, gives
 * back the rest, deregisters) and exits 0. A second signal exits at once with 1; a refused token
 * exits 1; bad flags exit 2.
 */
export async function runnerCommand(flags: RunnerFlags): Promise<void> {
  // Loaded on demand, so the other commands do not pay for the runners' modules.
  const { AuthError, createRemoteAgent } = require("../../runners/remote") as typeof import("../../runners/remote");
  const { DATA_PLANE_OPERATORS } = require("../operators/catalog") as typeof import("../operators/catalog");
  const { createLogger } = require("../kernel/logger") as typeof import("../kernel/logger");
  const server = flags.server ?? process.env.SLUICE_URL ?? "http://localhost:4000";
  const token = flags.token ?? process.env.SLUICE_TOKEN;
  if (!token) throw new Error("give a RUNNER token with --token or SLUICE_TOKEN");
  const labels = (flags.labels ?? "local")
    .split(",")
    .map((l) => l.trim())
    .filter(Boolean);
  const concurrency = positiveInt(flags.concurrency ?? "1", "--concurrency");
  const drainGraceMs = flags.drainGrace !== undefined ? positiveInt(flags.drainGrace, "--drain-grace", 0) : undefined;
  const log = createLogger(process.env.LOG_LEVEL || "info").child({ component: "runner" });
  // The token is read; a stage must not inherit it (the sandbox keeps it from /proc as well).
  delete process.env.SLUICE_TOKEN;
  const { loadConfig } = require("../app/config") as typeof import("../app/config");
  const { stageIsolation } = require("../runs/engine/isolation") as typeof import("../runs/engine/isolation");
  const config = loadConfig(process.env);
  // An agent given --base-dir hosts the pipeline's code there; otherwise SLUICE_CODE_ROOTS (default: here).
  const codeRoots = flags.baseDir && !process.env.SLUICE_CODE_ROOTS ? [...config.codeRoots, path.resolve(flags.baseDir)] : config.codeRoots;
  const isolation = stageIsolation({ ...config, codeRoots }, [], log);
  const agent = createRemoteAgent({
    isolation,
    server,
    token,
    name: flags.name ?? os.hostname(),
    labels,
    concurrency,
    workDir: flags.workDir,
    baseDir: flags.baseDir,
    drainGraceMs,
    log,
    operators: { ...DATA_PLANE_OPERATORS },
    warmPool: { idleMs: config.sandboxPoolIdleMs, max: config.sandboxPoolMax, perProject: config.sandboxPoolPerProject },
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal while draining: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "draining");
    agent.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "drain failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  try {
    await agent.start();
  } catch (err) {
    if (stopping) return;
    process.stderr.write(`sluice: ${err instanceof AuthError ? `the server refused the token: ${err.message}` : (err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`Sluice runner ${agent.name} (${agent.runnerId}) is taking stages labelled ${labels.join(",")} from ${server}\n`);
  agent.done.catch((err: unknown) => {
    process.stderr.write(`sluice: ${err instanceof AuthError ? `the server refused the token: ${err.message}` : String(err)}\n`);
    process.exit(1);
  });
}

function positiveInt(value: string, flag: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} ${value} is not a whole number of at least ${min}`);
  return n;
}
