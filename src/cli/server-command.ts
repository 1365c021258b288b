import { loadConfig, type SluiceConfig } from "../app/config";
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import { type Logger, createLogger, logFormatFor, prettyDestination } from "../kernel/logger";
import { startServer } from "../app/server";
import { forgetServerSecrets } from "../app/server-secrets";
import { probeSandbox, resolveProgram } from "../../runners/sandbox";
import { SluiceClient } from "./client";

export interface ServerFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  /** Run the flights demo against this server once it is up (`npm start`); `SLUICE_DEMO=off` overrides. */
  demo?: boolean;
}

/**
 * `sluice server`: serves until SIGTERM or SIGINT, then drains and exits 0. A second signal
 * during the drain exits at once with 1.
 */
export async function serverCommand(flags: ServerFlags): Promise<void> {
  const demo = flags.demo && !["off", "0", "false", "no"].includes(String(process.env.SLUICE_DEMO ?? "").toLowerCase());
  const loaded = loadConfig(process.env, {
    port: flags.port !== undefined ? parsePort(flags.port) : undefined,
    host: flags.host,
    dataDir: flags.dataDir,
  });
  const config = demo ? demoConfig(loaded, flags.host !== undefined || process.env.HOST !== undefined) : loaded;
  forgetServerSecrets();
  const format = logFormatFor(config.logFormat, process.stdout, config.mode === "production");
  const log = createLogger(config.logLevel, format === "pretty" ? prettyDestination(process.stdout) : undefined);
  const access = demo ? demoAccessLog(config, log) : undefined;
  const server = await startServer(config, { log, accessLog: access?.log });
  if (server.bootstrapToken && !config.adminToken) {
    process.stdout.write(
      [
        "",
        "  An admin token was created for this new database. It is shown only now; keep it safe:",
        "",
        `    ${server.bootstrapToken}`,
        "",
        `  Try:  curl -s ${server.url}/graphql -H 'Authorization: Bearer ${server.bootstrapToken}' \\`,
        `          -H 'Content-Type: application/json' -d '{"query":"{ me { principal { name } } }"}'`,
        "",
      ].join("\n") + "\n",
    );
  }
  process.stdout.write(`Sluice is serving GraphQL at ${server.url}/graphql (database: ${server.services.db.kind})\n`);
  if (access) process.stdout.write(`${access.where}\n`);
  if (demo) {
    // Loaded on demand, like this module: a server without the demo need not load it.
    const { startDemo } = require("../demo") as typeof import("../demo");
    // The demo is a client of the public API, through this command line's client.
    void startDemo(
      server,
      config,
      (line) => process.stdout.write(`${line}\n`),
      (settings) => new SluiceClient(settings),
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal during shutdown: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/**
 * The demo sends ~2,000 requests, one log line each, which would bury its progress: in demo mode
 * the request lines go to `<data dir>/server.log` (JSON, for `tail -f`/`jq`), or, with an
 * in-memory database, to the server's log at `warn` and above only (a request line is `info`, so
 * they are dropped). Everything else the server logs still reaches the terminal.
 */
function demoAccessLog(config: SluiceConfig, log: Logger): { log: Logger; where: string } {
  if (config.dataDir === "memory://") {
    return {
      log: log.child({}, { level: "warn" }),
      where: "Request logs are off during the demo (an in-memory database has no data dir).",
    };
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, "server.log");
  const where = `Request logs (one JSON line per request) go to ${path.relative(process.cwd(), file) || file} during the demo.`;
  return { log: createLogger(config.logLevel, pino.destination({ dest: file, append: true, sync: true })), where };
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port ${value} is not a port number (0-65535)`);
  return n;
}

/**
 * `npm start` is the local demo, and its pipeline has a module stage: on a machine without
 * bubblewrap it would be refused. Unless the operator said otherwise, the demo trusts project code
 * when no sandbox works (a sandbox is still used when there is one) and then listens on the
 * loopback only, so nobody else can reach a server that runs code unsandboxed.
 */
function demoConfig(config: SluiceConfig, hostChosen: boolean): SluiceConfig {
  if (process.env.SLUICE_TRUSTED_CODE !== undefined) return config;
  const bwrap = config.sandboxBwrap === "none" ? undefined : resolveProgram(config.sandboxBwrap);
  if (bwrap && probeSandbox(bwrap) === undefined) return config;
  const host = hostChosen ? config.host : "127.0.0.1";
  process.stdout.write(
    "No sandbox (bubblewrap) works on this machine: the demo runs its project code unsandboxed and listens on " +
      `${host} only. Install bubblewrap (apt-get install bubblewrap) to sandbox it; SLUICE_TRUSTED_CODE=0 refuses project code.\n`,
  );
  return Object.freeze({ ...config, trustedCode: true, host });
}
