import type { IncomingMessage } from "node:http";
import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import { type ExecutionArgs, GraphQLError, type GraphQLSchema, parse, specifiedRules, validate } from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "pino";
import type { Caller } from "../../auth/principal";
import { authenticate } from "../authenticate";
import { Authorizer, type RequestContext } from "../context";
import { SluiceError, formatGraphQLError } from "../errors";
import type { ServerMetrics } from "../metrics";
import type { RequestRateLimiter } from "../rate-limit";
import type { Services } from "../services";
import { costError, depthLimitRule, noIntrospectionRule, operationCost } from "./guards";

interface ConnectionState {
  authorization: string | undefined;
  clientAddress: string;
  caller?: Caller;
}

export interface SubscriptionServer {
  /** Closes every socket (1001 going away) and stops accepting new ones. */
  dispose(): Promise<void>;
}

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? "unknown";
}

/**
 * GraphQL over WebSocket (graphql-ws protocol) on the HTTP server's `/graphql` path.
 * The token travels in `connection_init` (`{ "authorization": "Bearer …" }`); a missing or bad
 * one closes the socket with 4401 and the reason. Each operation re-checks the token (a revoked
 * token stops opening subscriptions at once) and passes the same depth, cost and introspection
 * guards as HTTP.
 */
export function attachSubscriptions(options: {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  services: Services;
  limiter: RequestRateLimiter;
  metrics: ServerMetrics;
  log: Logger;
}): SubscriptionServer {
  const { services, limiter, metrics, log, schema } = options;
  const config = services.config;
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: config.bodyLimitBytes });
  const states = new WeakMap<object, ConnectionState>();
  const rules = [...specifiedRules, depthLimitRule(config.maxQueryDepth), ...(config.introspection ? [] : [noIntrospectionRule])];
  const format = (e: GraphQLError) => formatGraphQLError(e.toJSON(), e, (err) => log.error({ err }, "internal error in a subscription"));

  wss.on("connection", (socket) => {
    metrics.wsConnections.inc();
    socket.once("close", () => metrics.wsConnections.dec());
  });

  const cleanup = useServer(
    {
      schema,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const raw = params.authorization ?? params.Authorization ?? (params.token ? `Bearer ${String(params.token)}` : undefined);
        const state: ConnectionState = {
          authorization: typeof raw === "string" ? raw : undefined,
          clientAddress: clientAddress(ctx.extra.request),
        };
        try {
          state.caller = await authenticate(services, limiter, state);
        } catch (err) {
          const message = err instanceof SluiceError ? `${err.code}: ${err.message}` : "INTERNAL: authentication failed";
          // Close reasons are limited to 123 bytes by the WebSocket protocol.
          ctx.extra.socket.close(CloseCode.Unauthorized, message.slice(0, 120));
          return false;
        }
        states.set(ctx, state);
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const state = states.get(ctx);
        if (!state) return [new GraphQLError("Not connected", { extensions: { code: "UNAUTHENTICATED" } })];
        let caller: Caller;
        try {
          caller = await authenticate(services, limiter, state);
        } catch (err) {
          if (err instanceof SluiceError) return [err.toGraphQLError()];
          throw err;
        }
        let document;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [new GraphQLError((err as Error).message, { extensions: { code: "BAD_USER_INPUT", reason: "GRAPHQL_PARSE_FAILED" } })];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0)
          return errors.map(
            (e) =>
              new GraphQLError(e.message, {
                nodes: e.nodes,
                extensions: { code: "BAD_USER_INPUT", reason: "GRAPHQL_VALIDATION_FAILED", ...e.extensions },
              }),
          );
        let cost: number;
        try {
          cost = operationCost(schema, document, payload.variables ?? undefined, payload.operationName);
        } catch (err) {
          // Variables that do not fit the operation: refuse this operation, keep the connection.
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
        if (cost > config.maxQueryCost) return [costError(cost, config.maxQueryCost)];
        const contextValue: RequestContext = {
          requestId: randomUUID(),
          authz: new Authorizer(caller),
          services,
          log: log.child({ principal: caller.principalName }),
        };
        metrics.subscriptionsActive.inc();
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue,
        };
        return args;
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return;
        return { ...result, errors: result.errors.map(format) };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map(format),
      onComplete: () => {
        metrics.subscriptionsActive.dec();
      },
    },
    wss,
  );

  return {
    async dispose() {
      await cleanup.dispose();
    },
  };
}
