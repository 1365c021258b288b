import "reflect-metadata";
import { Command } from "commander";
import { ConfigError } from "../app/config";
import { serverCommand } from "./server-command";

/** The `sluice` command. Each subcommand lives in its own module. */
export function buildProgram(): Command {
  const program = new Command("sluice").description("Sluice: a control plane for AI pipelines").showHelpAfterError();
  program
    .command("server")
    .description("serve the GraphQL API, subscriptions, health and metrics (embedded PGlite unless DATABASE_URL is set)")
    .option("-p, --port <port>", "HTTP port (env PORT, default 4000)")
    .option("--host <host>", "interface to bind (env HOST, default 0.0.0.0)")
    .option("--data-dir <dir>", "where the embedded database lives (env SLUICE_DATA_DIR, default .sluice)")
    .action(serverCommand);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`sluice: ${message}\n`);
    process.exit(2);
  }
}
