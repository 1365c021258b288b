import "reflect-metadata";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../app/config";
import { registerApplyCommand } from "./apply-command";
import { registerDecideCommands } from "./approve-command";
import { registerCancelCommand } from "./cancel-command";
import { registerInitCommand } from "./init-command";
import { registerLogsCommand } from "./logs-command";
import { registerRunCommand } from "./run-command";
import { registerRunsCommand } from "./runs-command";
import { registerRunnerCommand } from "./runner-command";
import type { ServeFlags } from "./serve-command";
import type { ServerFlags } from "./server-command";

/** The `sluice` command. Each subcommand lives in its own module. */
export function buildProgram(): Command {
  const program = new Command("sluice").description("Sluice: a control plane for AI pipelines").showHelpAfterError();
  program.exitOverride(); // usage errors exit 2 (see main); subcommands inherit this
  program
    .command("server")
    .description("serve the GraphQL API, subscriptions, health and metrics (embedded PGlite unless DATABASE_URL is set)")
    .option("-p, --port <port>", "HTTP port (env PORT, default 4000)")
    .option("--host <host>", "interface to bind (env HOST, default 0.0.0.0)")
    .option("--data-dir <dir>", "where the embedded database lives (env SLUICE_DATA_DIR, default .sluice)")
    .option("--demo", "once up, run the flights demo end to end against this server (once per database; SLUICE_DEMO=off skips it)")
    // Loaded on demand: the server's modules take half a second, which the client commands need not wait for.
    .action((flags: ServerFlags) => (require("./server-command") as typeof import("./server-command")).serverCommand(flags));
  program
    .command("serve")
    .description(
      "a stateless serving replica: only the /v2 inference routes, health and metrics, over the server's PostgreSQL (DATABASE_URL), " +
        "following its deployments; run any number (SLUICE_ARTIFACT_DIR must be the server's store)",
    )
    .option("-p, --port <port>", "HTTP port (env PORT, default 4000)")
    .option("--host <host>", "interface to bind (env HOST, default 0.0.0.0)")
    .action((flags: ServeFlags) => (require("./serve-command") as typeof import("./serve-command")).serveCommand(flags));
  // A new repository of pipelines, depending on the SDK (packages/sdk).
  registerInitCommand(program);
  // Clients of a running server (SLUICE_URL, SLUICE_TOKEN, SLUICE_PROJECT).
  registerApplyCommand(program);
  registerRunCommand(program);
  registerRunsCommand(program);
  registerLogsCommand(program);
  registerCancelCommand(program);
  registerDecideCommands(program);
  // A remote runner agent (runners/remote), for another machine.
  registerRunnerCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Commander has printed its message (or the help) already.
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`sluice: ${message}\n`);
    process.exit(2);
  }
}
