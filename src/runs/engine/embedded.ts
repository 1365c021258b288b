import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import type { Runner } from "../../../runners/contract";
import type { OperatorRef } from "../../../runners/local";
import type { ArtifactStore } from "../../artifacts/store";
import { createLocalRunner } from "../../../runners/local";
import { createProcessRunner } from "../../../runners/process";
import { type IsolationSettings, stageIsolation } from "./isolation";
import { type EngineDeps, RunEngine } from "./engine";
import type { LogService } from "../streams/logs";
import type { MetricsService } from "../streams/metrics.service";

/** The server's settings the embedded runners read (`SLUICE_RUNNERS`, `SLUICE_RUNNER_LABELS`, …). */
export interface EmbeddedEngineSettings extends IsolationSettings {
  dataDir: string;
  embeddedRunners: ReadonlySet<string>;
  embeddedLabels: readonly string[];
  localThreads: number | undefined;
  sandboxPoolIdleMs: number;
  sandboxPoolMax: number;
  sandboxPoolPerProject: number;
  leaseMs: number;
  labelLimits: Readonly<Record<string, number>>;
  logRetentionDays: number;
}

/**
 * The run engine with the runners this server hosts itself (`SLUICE_RUNNERS`): worker threads
 * for TypeScript stages and operators, child processes for commands. Both offer the labels of
 * `SLUICE_RUNNER_LABELS` (`local` by default). A server with none still serves the API and takes back expired leases; remote agents
 * then do the work.
 */
export function startEmbeddedEngine(
  services: EngineDeps & { artifacts: ArtifactStore; logs: LogService; metrics: MetricsService },
  config: EmbeddedEngineSettings,
  folders: { workRoot: string; artifactRoot: string },
  log: Logger,
  /** The built-in operators the local runner hosts (the app's catalogue). */
  operators: Record<string, OperatorRef>,
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
        operators: { ...operators },
        isolation,
        warmPool: { idleMs: config.sandboxPoolIdleMs, max: config.sandboxPoolMax, perProject: config.sandboxPoolPerProject },
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
