import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { PoolStats } from "../db/data-source";

/** Distinct operation names tracked as labels before the rest count as `other`. */
const MAX_OPERATION_LABELS = 500;

/**
 * The Prometheus metrics of one server process. Each server owns its registry (tests start
 * several servers in one process, and a global registry would mix them).
 */
export class ServerMetrics {
  readonly registry = new Registry();

  readonly graphqlRequests = new Counter({
    name: "sluice_graphql_requests_total",
    help: "GraphQL operations executed, by operation name and type",
    labelNames: ["operation", "type"] as const,
    registers: [this.registry],
  });

  readonly graphqlDuration = new Histogram({
    name: "sluice_graphql_request_duration_seconds",
    help: "GraphQL operation latency from parse to response, by operation name",
    labelNames: ["operation", "type"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly graphqlErrors = new Counter({
    name: "sluice_graphql_errors_total",
    help: "Errors returned to GraphQL clients, by extensions.code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: "sluice_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });

  readonly subscriptionsActive = new Gauge({
    name: "sluice_subscriptions_active",
    help: "Open GraphQL subscriptions in this process",
    registers: [this.registry],
  });

  readonly wsConnections = new Gauge({
    name: "sluice_websocket_connections",
    help: "Open WebSocket connections in this process",
    registers: [this.registry],
  });

  private readonly operationNames = new Set<string>();

  /**
   * The label for a client-chosen operation name. Bounded: past `MAX_OPERATION_LABELS`
   * distinct names, new ones count as `other`, so a client cannot grow the registry for ever.
   */
  operationLabel(name: string | null | undefined): string {
    if (!name) return "anonymous";
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return "invalid_name";
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_LABELS) return "other";
    this.operationNames.add(name);
    return name;
  }

  constructor(poolStats: () => PoolStats) {
    collectDefaultMetrics({ register: this.registry, prefix: "sluice_" });
    new Gauge({
      name: "sluice_db_pool_connections",
      help: "Database pool connections by state (PGlite is one session)",
      labelNames: ["state"] as const,
      registers: [this.registry],
      collect() {
        const s = poolStats();
        this.set({ state: "total" }, s.total);
        this.set({ state: "idle" }, s.idle);
        this.set({ state: "waiting" }, s.waiting);
      },
    });
  }
}
