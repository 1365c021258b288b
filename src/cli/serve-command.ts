import { loadConfig } from "../app/config";
import { createLogger } from "../kernel/logger";
import { startServingReplica } from "../app/serving-replica";

export interface ServeFlags {
  port?: string;
  host?: string;
}

/**
 * `sluice serve`: a stateless serving replica over the control plane's PostgreSQL database
 * (src/app/serving-replica.ts). Serves until SIGTERM or SIGINT, then drains and exits 0; a second
 * signal exits at once with 1.
 */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`--port ${flags.port} is not a port number (0-65535)`);
  }
  const config = loadConfig(process.env, { port, host: flags.host });
  const log = createLogger(config.logLevel);
  const replica = await startServingReplica(config, { log });
  process.stdout.write(`Sluice serving replica at ${replica.url}/v2 (following the control plane's deployments)\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, "shutting down");
    replica.close().then(
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
