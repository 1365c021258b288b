import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import type { Runner } from "../../runners/contract";
import { createLocalRunner } from "../../runners/local";
import { DATA_PLANE_OPERATORS } from "../operators/catalog";
import { createProcessRunner } from "../../runners/process";
import { probeSandbox, type StageIsolation } from "../../runners/sandbox";
import type { SluiceConfig } from "../app/config";
import type { Services } from "../app/services";
import { RunEngine } from "./engine";

/**
 * The run engine with the runners this server hosts itself (`SLUICE_RUNNERS`): worker threads
 * for TypeScript stages and operators, child processes for commands. Both offer the labels of
 * `SLUICE_RUNNER_LABELS` (`local` by default). A server with none still serves the API and takes back expired leases; remote agents
 * then do the work.
 */
export function startEmbeddedEngine(
  services: Services,
  config: SluiceConfig,
  folders: { workRoot: string; artifactRoot: string },
  log: Logger,
): RunEngine {
  const { workRoot } = folders;
  const runners: Runner[] = [];
  const isolation =
    config.embeddedRunners.size > 0
      ? stageIsolation(config, [...(config.dataDir === "memory://" ? [] : [config.dataDir]), folders.artifactRoot, workRoot], log)
      : undefined;
  if (config.embeddedRunners.has("local")) {
    const threads = config.localThreads ?? Math.max(1, availableParallelism() - 1);
    // More attempts than threads may be leased: short stages then queue for a worker here
    // instead of paying a database round trip each.
    runners.push(
      createLocalRunner({
        labels: [...config.embeddedLabels],
        threads,
        capacity: Math.max(16, threads * 8),
        operators: { ...DATA_PLANE_OPERATORS },
        isolation,
      }),
    );
  }
  if (config.embeddedRunners.has("process")) runners.push(createProcessRunner({ labels: [...config.embeddedLabels], isolation }));
  // With no runners of its own the engine still sweeps expired leases (of remote agents).
  const engine = new RunEngine(services, {
    owner: `server:${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
    runners,
    store: services.artifacts,
    logs: services.logs,
    metrics: services.metrics,
    workRoot,
    leaseMs: config.leaseMs,
    labelLimits: config.labelLimits,
    logRetentionDays: config.logRetentionDays,
    log: log.child({ component: "engine" }),
  });
  engine.start();
  return engine;
}

/**
 * How this server hosts project code, said once in its log: sandboxed when bubblewrap passes its
 * probe; otherwise unsandboxed if `SLUICE_TRUSTED_CODE` says every EDITOR is trusted, else not at
 * all. `hide` are the server's own folders, kept out of every sandbox.
 */
export function stageIsolation(config: SluiceConfig, hide: string[], log: Logger): StageIsolation {
  const problem = config.sandboxBwrap === "none" ? "SLUICE_SANDBOX_BWRAP=none" : probeSandbox(config.sandboxBwrap);
  if (!problem) {
    log.info({ bwrap: config.sandboxBwrap }, "project code (command and module stages) runs sandboxed with bubblewrap");
    return { mode: "sandbox", bwrap: config.sandboxBwrap, hide };
  }
  if (config.trustedCode) {
    log.warn({ problem }, "no sandbox for project code; SLUICE_TRUSTED_CODE=1: command and module stages run unsandboxed");
    return { mode: "trusted" };
  }
  log.error(
    { problem },
    "no sandbox for project code: command and module stages will be refused (SANDBOX_UNAVAILABLE); install bubblewrap, or set SLUICE_TRUSTED_CODE=1 if every EDITOR is trusted with this server",
  );
  return { mode: "refuse" };
}
