/**
 * The server's own secrets in its environment: read once into the frozen config, then removed
 * from `process.env`, so that no process the server starts (a stage, a tool) inherits them and
 * no code of this process reads them later by accident. (The kernel's copy of the initial
 * environment, `/proc/<pid>/environ`, stays: the stage sandbox is what keeps stages from it.)
 */

/** Variables holding credentials of the server itself. */
export const SERVER_SECRET_VARIABLES: readonly string[] = Object.freeze([
  "SLUICE_ADMIN_TOKEN",
  "SLUICE_SECRET_KEY",
  "DATABASE_URL",
  "SLUICE_TOKEN",
]);

/** Deletes the server's secret variables from `env` (the process environment by default). Call after `loadConfig`. */
export function forgetServerSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SERVER_SECRET_VARIABLES) delete env[name];
}
