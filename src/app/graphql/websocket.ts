import type { IncomingMessage } from "node:http";
import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import {
  type DocumentNode,
  type ExecutionArgs,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import { CloseCode } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "pino";
import type { Caller } from "../../kernel/principal";
import { authenticate } from "../../kernel/authenticate";
import { Authorizer, type RequestContext, type ResolverContainer } from "../../kernel/context";
import { SluiceError } from "../../kernel/errors";
import { formatGraphQLError, toGraphQLError } from "../../kernel/graphql/errors";
import type { ServerMetrics } from "../metrics";
import type { RequestRateLimiter } from "../../kernel/rate-limit";
import type { Services } from "../services";
import { depthLimitRule, noIntrospectionRule, operationSize, sizeError } from "./guards";
import { inputError, inputProblems, rootFieldNames } from "../../kernel/graphql/input-check";
import { auditRefusedOperation } from "./plugins";

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
  /** The server's resolver instances, carried on each operation's context. */
  resolvers: ResolverContainer;
  limiter: RequestRateLimiter;
  metrics: ServerMetrics;
  log: Logger;
}): SubscriptionServer {
  const { services, resolvers, limiter, metrics, log, schema } = options;
  const config = services.config;
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: config.bodyLimitBytes });
  const states = new WeakMap<object, ConnectionState>();
  const rules = [...specifiedRules, depthLimitRule(config.maxQueryDepth), ...(config.introspection ? [] : [noIntrospectionRule])];
  /** The same checks, in the same order, as HTTP: validation (depth), input, size. */
  const checkOperation = (
    document: DocumentNode,
    variables: Record<string, unknown> | undefined,
    operationName: string | null | undefined,
  ): GraphQLError[] | undefined => {
    const errors = validate(schema, document, rules);
    if (errors.length > 0)
      return errors.map(
        (e) =>
          new GraphQLError(e.message, {
            nodes: e.nodes,
            extensions: { code: "BAD_USER_INPUT", reason: "GRAPHQL_VALIDATION_FAILED", ...e.extensions },
          }),
      );
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) return undefined; // execution names the problem
    const problems = inputProblems(schema, document, operation, variables);
    if (problems.length > 0) return [inputError(problems)];
    try {
      const refusal = sizeError(operationSize(schema, document, variables, operationName), {
        maxCost: config.maxQueryCost,
        maxNodes: config.maxQueryNodes,
      });
      return refusal ? [refusal] : undefined;
    } catch (err) {
      // Variables that do not fit the operation: refuse this operation, keep the connection.
      if (err instanceof GraphQLError) return [err];
      throw err;
    }
  };
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
          state.caller = await authenticate(services.tokens, limiter, state);
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
          caller = await authenticate(services.tokens, limiter, state);
        } catch (err) {
          if (err instanceof SluiceError) return [toGraphQLError(err)];
          throw err;
        }
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [new GraphQLError((err as Error).message, { extensions: { code: "BAD_USER_INPUT", reason: "GRAPHQL_PARSE_FAILED" } })];
        }
        const contextValue: RequestContext = {
          requestId: randomUUID(),
          authz: new Authorizer(caller),
          services,
          resolvers,
          log: log.child({ principal: caller.principalName }),
        };
        const refusal = checkOperation(document, payload.variables ?? undefined, payload.operationName);
        if (refusal) {
          // A mutation refused before it ran is audited as over HTTP.
          const operation = getOperationAST(document, payload.operationName ?? undefined);
          if (operation?.operation === "mutation")
            await auditRefusedOperation(contextValue, rootFieldNames(document, operation), payload.variables, refusal[0]);
          return refusal;
        }
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
