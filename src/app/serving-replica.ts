/**
 * A serving replica (`sluice serve`): a stateless process that answers inference and nothing
 * else — the OIP v2 routes, `/healthz`, `/readyz` and `/metrics` on its own port — over the
 * control plane's PostgreSQL database. It runs no migrations, no run engine, no triggers, gates,
 * notifications or leases: it reads endpoints, models and approvals from the database and follows
 * their changes through the event stream (LISTEN/NOTIFY), so any number of replicas can run
 * beside the server and each other. Model files are read from the artifact store, so
 * `SLUICE_ARTIFACT_DIR` must name the server's store (a shared volume).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { keepConnectionsAlive, probeAllowed } from "../kernel/http";
import type { SluiceConfig } from "./config";
import { type Logger, createLogger } from "../kernel/logger";
import { ServerMetrics } from "./metrics";
import { RequestRateLimiter } from "../kernel/rate-limit";
import { type Services, openServices } from "./services";
import { AUTH_CHANGED } from "../auth/auth.service";
import { openDatabase } from "../db/data-source";
import { entities } from "./entities";
import { migrationsApplied } from "../db/migrate";
import { registerServingRoutes } from "../serving/routes";

/** Why a replica cannot start: said to the operator as it is. */
export class ReplicaStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplicaStartError";
  }
}

export interface RunningReplica {
  url: string;
  port: number;
  services: Services;
  /** Stops taking requests, finishes those in flight, closes the database. */
  close(): Promise<void>;
}

export async function startServingReplica(config: SluiceConfig, options: { log?: Logger } = {}): Promise<RunningReplica> {
  const log = options.log ?? createLogger(config.logLevel);
  if (!config.databaseUrl) {
    throw new ReplicaStartError(
      "sluice serve needs the control plane's PostgreSQL database (set DATABASE_URL): the embedded PGlite database " +
        "belongs to one process, so a separate serving process cannot share it. Without PostgreSQL, `sluice server` serves models itself.",
    );
  }
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, entities });
  let opened: Awaited<ReturnType<typeof openServices>> | undefined;
  try {
    if (!(await migrationsApplied(db))) {
      throw new ReplicaStartError(
        "the database's schema is not up to date: start (or upgrade) `sluice server` first — a serving replica never migrates",
      );
    }
    opened = await openServices(config, db, log);
  } catch (err) {
    await db.close();
    throw err;
  }
  const { services } = opened;
  const forgetAuth = (async () => {
    for await (const _ of services.events.subscribe({ types: [AUTH_CHANGED] })) services.auth.invalidate();
  })();

  const metrics = new ServerMetrics(() => db.poolStats());
  services.serving.instrument(metrics.registry);
  const limiter = new RequestRateLimiter(config.rateLimitPerSecond, config.rateLimitBurst);
  const probeAccess = { tokens: services.tokens, limiter, publicEndpoints: config.publicEndpoints };
  let draining = false;
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", role: "serve" });
  });
  app.get("/readyz", async (req, res) => {
    if (!(await probeAllowed(probeAccess, "readyz", req, res))) return;
    let database = false;
    try {
      await db.dataSource.query("SELECT 1");
      database = true;
    } catch (err) {
      log.warn({ err }, "readiness check failed");
    }
    const ready = database && !draining;
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready", checks: { database, accepting: !draining } });
  });
  app.get("/metrics", async (req, res) => {
    if (!(await probeAllowed(probeAccess, "metrics", req, res))) return;
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  registerServingRoutes(app, {
    auth: services.auth,
    projects: services.projects,
    serving: services.serving,
    limiter,
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    isReady: () => !draining,
  });
  app.use((_req, res) => {
    res.status(404).json({ error: "a serving replica answers only /v2, /healthz, /readyz and /metrics" });
  });

  const httpServer = http.createServer(app);
  keepConnectionsAlive(httpServer);
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  log.info({ port }, "sluice serving replica listening");

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    services,
    close() {
      closing ??= (async () => {
        draining = true;
        await new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeIdleConnections();
          // Requests still running after the shutdown timeout are cut.
          setTimeout(() => httpServer.closeAllConnections(), config.shutdownTimeoutMs).unref();
        });
        await opened!.close();
        await forgetAuth.catch(() => undefined);
        await db.close();
        log.info("serving replica stopped");
      })();
      return closing;
    },
  };
}
