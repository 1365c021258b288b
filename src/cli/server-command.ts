import { loadConfig } from "../app/config";
import { createLogger } from "../app/logger";
import { startServer } from "../app/server";
import { forgetServerSecrets } from "../app/server-secrets";

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
  const config = loadConfig(process.env, {
    port: flags.port !== undefined ? parsePort(flags.port) : undefined,
    host: flags.host,
    dataDir: flags.dataDir,
  });
  forgetServerSecrets();
  const log = createLogger(config.logLevel);
  const server = await startServer(config, { log });
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
  if (flags.demo && !["off", "0", "false", "no"].includes(String(process.env.SLUICE_DEMO ?? "").toLowerCase())) {
    // Loaded on demand, like this module: a server without the demo need not load it.
    const { startDemo } = require("../demo") as typeof import("../demo");
    void startDemo(server, config, (line) => process.stdout.write(`${line}\n`));
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

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port ${value} is not a port number (0-65535)`);
  return n;
}
