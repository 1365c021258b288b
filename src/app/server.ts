import { startGateKeeper } from "../governance/gates";
import { randomUUID } from "node:crypto";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type NextFunction, type Request, type Response } from "express";
import { AUTH_CHANGED } from "../auth/auth.service";
import { type Database, openDatabase } from "../db/data-source";
import { entities } from "./entities";
import { migrate, migrationsApplied } from "../db/migrate";
import { type RunEngine, startEmbeddedEngine, registerArtifactTransfer } from "../runs";
import { DATA_PLANE_OPERATORS } from "../operators/catalog";
import { type TriggerService, EVENT_HOOK_PATH, registerEventHook, startTriggerService } from "../triggers";
import { registerDatasetUploads } from "../datasets/upload";
import { registerModelFileRoutes } from "../registry/routes";
import { startNotificationDispatcher } from "../notifications";
import { MonitoringLoop } from "../monitoring/monitoring-loop";
import { BudgetLoop } from "../costs";
import { SlaLoop } from "../slas";
import { registerMlflowApi } from "../tracking/mlflow/api";
import { startMlflowMirror } from "../../plugins/mlflow";
import { registerServingRoutes } from "../serving/routes";
import { StageHealthMetrics } from "../health/stage-metrics";
import { authenticate } from "../kernel/authenticate";
import { keepConnectionsAlive, probeAllowed } from "../kernel/http";
import type { SluiceConfig } from "./config";
import { Authorizer, type RequestContext } from "../kernel/context";
import { ErrorCode, SluiceError } from "../kernel/errors";
import { formatGraphQLError, toGraphQLError } from "../kernel/graphql/errors";
import { depthLimitRule, noIntrospectionRule, noSubscriptionOverHttpRule } from "./graphql/guards";
import { type OperationTrace, drainSubscriptionsPlugin, observabilityPlugin, operationGuardPlugin } from "./graphql/plugins";
import { buildSluiceSchema } from "./graphql/schema";
import { resolverContainer } from "./graphql/resolver-container";
import { attachSubscriptions } from "./graphql/websocket";
import { type Logger, createLogger } from "../kernel/logger";
import { ServerMetrics } from "./metrics";
import { RequestRateLimiter } from "../kernel/rate-limit";
import { type Services, openServices } from "./services";

/** A started server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  url: string;
  port: number;
  services: Services;
  /** The run engine of this process, when it hosts runners. */
  engine: RunEngine | undefined;
  /** Fires schedules and event rules while this process is the trigger leader. */
  triggers: TriggerService;
  /** Stage health in /metrics (counted while this process leads). */
  stageMetrics: StageHealthMetrics;
  /** The admin token created at this start (empty database), to print once; else undefined. */
  bootstrapToken: string | undefined;
  /**
   * Graceful stop: refuse new connections, let in-flight requests finish (up to the shutdown
   * timeout), close subscriptions, then the event listener and the database.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where the one line per HTTP request goes; `log` by default (`sluice server --demo` sends it to a file). */
  accessLog?: Logger;
  /** An already open database (tests share one across restarts); opened from config otherwise. */
  db?: Database;
}

type SluiceContext = RequestContext & { trace: OperationTrace };

/** Opens the database, migrates, bootstraps the admin, and serves HTTP and WebSocket. */
export async function startServer(config: SluiceConfig, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const db =
    options.db ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, entities }));
  const applied = await migrate(db);
  if (applied.length > 0) log.info({ migrations: applied }, "applied migrations");
  const opened = await openServices(config, db, log);
  const { services } = opened;
  void forgetAuthOnChange(services);

  const metrics = new ServerMetrics(() => db.poolStats());
  const limiter = new RequestRateLimiter(config.rateLimitPerSecond, config.rateLimitBurst);
  const probeAccess = { tokens: services.tokens, limiter, publicEndpoints: config.publicEndpoints };
  const schema = await buildSluiceSchema();
  // Every resolver is built now with what it uses, so a missing or failing factory stops the start.
  const resolvers = resolverContainer(services);
  const app = express();
  app.disable("x-powered-by");
  const httpServer = http.createServer(app);
  keepConnectionsAlive(httpServer);
  const subscriptions = attachSubscriptions({ httpServer, path: "/graphql", schema, services, resolvers, limiter, metrics, log });
  let draining = false;

  const apollo = new ApolloServer<SluiceContext>({
    schema,
    introspection: true, // enforced by our own rule below, whose message names the setting
    validationRules: [
      noSubscriptionOverHttpRule,
      depthLimitRule(config.maxQueryDepth),
      ...(config.introspection ? [] : [noIntrospectionRule]),
    ],
    includeStacktraceInErrorResponses: false,
    // The CLI owns SIGTERM/SIGINT. Apollo's own handlers would stop it too and then re-send the
    // signal, which the CLI takes for a second signal and exits 1 before the database closes.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => formatGraphQLError(formatted, error, (err) => log.error({ err }, "internal error")),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      drainSubscriptionsPlugin(() => subscriptions.dispose()),
      observabilityPlugin(metrics),
      operationGuardPlugin({ maxCost: config.maxQueryCost, maxNodes: config.maxQueryNodes }),
    ],
  });
  await apollo.start();

  app.use(requestIdAndAccessLog(options.accessLog ?? log, metrics));
  // Inference first: express tries routes in order, and prediction traffic should not be matched
  // against the dozens of MLflow, upload and artifact routes before reaching its own.
  services.serving.instrument(metrics.registry);
  registerServingRoutes(app, {
    auth: services.auth,
    projects: services.projects,
    serving: services.serving,
    limiter,
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    isReady: () => !draining,
  });
  registerArtifactTransfer(app, {
    tokens: services.tokens,
    db: services.db,
    runs: services.runs,
    agents: services.agents,
    artifacts: services.artifacts,
    limiter,
    log,
    stagingDir: path.join(opened.workRoot, "uploads"),
    maxBytes: config.uploadLimitBytes,
  });
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (req, res) => {
    if (!(await probeAllowed(probeAccess, "readyz", req, res))) return;
    // `listener`: this process hears other processes' events (its LISTEN connection is up).
    const checks = { database: false, migrations: false, listener: services.bus.listening, accepting: !draining };
    try {
      await db.dataSource.query("SELECT 1");
      checks.database = true;
      checks.migrations = await migrationsApplied(db);
    } catch (err) {
      log.warn({ err }, "readiness check failed");
    }
    const ready = checks.database && checks.migrations && checks.listener && checks.accepting;
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready", checks });
  });
  app.get("/metrics", async (req, res) => {
    if (!(await probeAllowed(probeAccess, "metrics", req, res))) return;
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(
    "/graphql",
    express.json({ limit: config.bodyLimitBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<SluiceContext> => {
        const requestId = String(res.locals.requestId);
        try {
          const caller = await authenticate(services.tokens, limiter, {
            authorization: req.headers.authorization,
            clientAddress: req.ip ?? "unknown",
          });
          const trace = res.locals.trace as OperationTrace;
          const gone = new AbortController();
          res.on("close", () => {
            if (!res.writableFinished) gone.abort();
          });
          return {
            requestId,
            authz: new Authorizer(caller),
            services,
            resolvers,
            log: log.child({ requestId, principal: caller.principalName }),
            trace,
            signal: gone.signal,
          };
        } catch (err) {
          if (err instanceof SluiceError) {
            const gqlError = toGraphQLError(err);
            if (err.code === ErrorCode.RATE_LIMITED) res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
            throw gqlError;
          }
          throw err;
        }
      },
    }),
  );
  registerEventHook(app, { services, eventRules: services.eventRules, limiter, log, bodyLimitBytes: config.bodyLimitBytes });
  registerDatasetUploads(app, {
    services,
    datasets: services.datasets,
    ingestion: services.ingestion,
    limiter,
    log,
    maxBytes: config.uploadLimitBytes,
  });
  registerModelFileRoutes(app, { services, registry: services.registry, limiter, log, maxBytes: config.uploadLimitBytes });
  registerMlflowApi(app, {
    services,
    projects: services.projects,
    tracking: services.tracking,
    registry: services.registry,
    artifacts: services.artifacts,
    db: services.db,
    defaultProject: config.mlflow.defaultProject,
    limiter,
    log,
    bodyLimitBytes: config.bodyLimitBytes,
    maxBytes: config.uploadLimitBytes,
  });
  app.use(bodyErrorHandler(config.bodyLimitBytes, log));

  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  // Only now, with nothing left that could fail the start, so a new admin token is never lost.
  let bootstrapToken: string | undefined;
  try {
    bootstrapToken = await services.auth.bootstrap(config.adminToken);
  } catch (err) {
    await apollo.stop();
    await opened.close();
    if (!options.db) await db.close();
    throw err;
  }
  const engine = startEmbeddedEngine(services, config, opened, log, DATA_PLANE_OPERATORS);
  // Without an engine of its own, the server still takes back the leases of remote runners that died.
  services.agents.start({ sweepLeases: !engine, log: log.child({ component: "agents" }) });
  const triggers = await startTriggerService(services, log);
  const gates = startGateKeeper(services, log, config.governanceSweepMs);
  const notifications = await startNotificationDispatcher(services, log);
  const mlflowMirror = startMlflowMirror(services, log);
  const monitoring = new MonitoringLoop(
    services,
    () => triggers.isLeader,
    config.monitoringIntervalMs,
    log.child({ component: "monitoring" }),
  );
  monitoring.start();
  // Stage health in /metrics, counted from stage events by the leading process only (see stage-metrics.ts).
  const stageMetrics = new StageHealthMetrics(metrics.registry, {
    db: db.dataSource,
    events: services.events,
    isLeader: () => triggers.isLeader,
    log: log.child({ component: "stage-metrics" }),
  });
  stageMetrics.start();
  const budgets = new BudgetLoop(services, () => triggers.isLeader, config.budgetIntervalMs, log.child({ component: "costs" }));
  budgets.start();
  const slaLoop = new SlaLoop(services, () => triggers.isLeader, config.slaIntervalMs, log.child({ component: "slas" }));
  slaLoop.start();
  const port = (httpServer.address() as AddressInfo).port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  log.info({ port, database: db.kind }, "sluice server listening");

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    services,
    engine,
    triggers,
    stageMetrics,
    bootstrapToken,
    close() {
      closing ??= (async () => {
        draining = true;
        log.info("draining: finishing in-flight requests");
        services.agents.close(); // waiting lease polls answer at once, so they do not hold the drain
        await apollo.stop();
        await engine?.close();
        await monitoring.close();
        await stageMetrics.close();
        await budgets.close();
        await slaLoop.close();
        await triggers.close();
        await gates.close();
        await notifications.close();
        await mlflowMirror?.close();
        await opened.close();
        if (!options.db) await db.close();
        log.info("stopped");
      })();
      return closing;
    },
  };
}

/** Every cached authentication is dropped when any process changes tokens or bindings. */
async function forgetAuthOnChange(services: Services): Promise<void> {
  for await (const _ of services.events.subscribe({ types: [AUTH_CHANGED] })) services.auth.invalidate();
}

/** Gives each request an id (from `X-Request-Id` when sent), and logs it when it ends. */
function requestIdAndAccessLog(log: Logger, metrics: ServerMetrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers["x-request-id"];
    const requestId = typeof incoming === "string" && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.locals.trace = {} satisfies OperationTrace;
    res.setHeader("X-Request-Id", requestId);
    const started = process.hrtime.bigint();
    // Taken now: a router mounted on a path (`/graphql`) strips it from `req.path` while it runs.
    const path = req.path;
    res.on("finish", () => {
      const route =
        path === "/graphql" || path === "/healthz" || path === "/readyz" || path === "/metrics" || path === EVENT_HOOK_PATH
          ? path
          : "other";
      metrics.httpRequests.inc({ route, status: String(res.statusCode) });
      const trace = res.locals.trace as OperationTrace;
      log.info(
        {
          requestId,
          method: req.method,
          path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          operation: trace.name,
          operationType: trace.type,
          fields: trace.fields,
        },
        "request",
      );
    });
    next();
  };
}

/**
 * Errors from reading the body (malformed JSON, too large) answered in the GraphQL error shape,
 * so clients parse one format for every refusal.
 */
function bodyErrorHandler(limitBytes: number, log: Logger) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string; length?: number };
    if (res.headersSent) return next(err);
    if (e.type === "entity.too.large") {
      res.status(413).json({
        errors: [
          {
            message: `Request body is ${e.length ?? "over the limit in"} bytes; the limit is ${limitBytes} bytes (SLUICE_BODY_LIMIT)`,
            extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "BODY_TOO_LARGE" },
          },
        ],
      });
      return;
    }
    if (e.type === "entity.parse.failed") {
      res.status(400).json({
        errors: [
          {
            message: `Request body is not valid JSON: ${e.message ?? "parse error"}`,
            extensions: { code: ErrorCode.BAD_USER_INPUT, reason: "MALFORMED_JSON" },
          },
        ],
      });
      return;
    }
    if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ errors: [{ message: e.message ?? "Bad request", extensions: { code: ErrorCode.BAD_USER_INPUT } }] });
      return;
    }
    log.error({ err }, "unhandled HTTP error");
    res.status(500).json({ errors: [{ message: "Internal server error", extensions: { code: ErrorCode.INTERNAL } }] });
  };
}
