import type { ApolloServerPlugin } from "@apollo/server";
import type { RequestContext } from "../context";
import { ErrorCode, SluiceError } from "../errors";
import type { ServerMetrics } from "../metrics";
import { costError, operationCost } from "./guards";

/** What the HTTP access log learns about the GraphQL operation a request carried. */
export interface OperationTrace {
  name?: string;
  type?: string;
}

/**
 * Counts operations, their latency and their error codes (as clients receive them, after
 * formatting), and records the operation on the request's trace for the access log.
 */
export function observabilityPlugin(metrics: ServerMetrics): ApolloServerPlugin<RequestContext & { trace?: OperationTrace }> {
  return {
    async contextCreationDidFail({ error }) {
      const code =
        error instanceof SluiceError
          ? error.code
          : String((error as { extensions?: { code?: unknown } }).extensions?.code ?? ErrorCode.INTERNAL);
      metrics.graphqlErrors.inc({ code });
    },
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operation, operationName, response, contextValue }) {
          const type = operation?.operation ?? "invalid";
          const name = metrics.operationLabel(operationName);
          if (contextValue.trace) Object.assign(contextValue.trace, { name: operationName ?? undefined, type });
          metrics.graphqlRequests.inc({ operation: name, type });
          metrics.graphqlDuration.observe({ operation: name, type }, Number(process.hrtime.bigint() - started) / 1e9);
          if (response.body.kind === "single") {
            for (const e of response.body.singleResult.errors ?? [])
              metrics.graphqlErrors.inc({ code: String(e.extensions?.code ?? ErrorCode.INTERNAL) });
          }
        },
      };
    },
  };
}

/** Refuses operations whose estimated cost exceeds `maxCost`, before they execute. */
export function costLimitPlugin(maxCost: number): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operationName, schema }) {
          const cost = operationCost(schema, document, request.variables, operationName);
          if (cost > maxCost) throw costError(cost, maxCost);
        },
      };
    },
  };
}

/** Closes WebSocket subscriptions when Apollo drains, so shutdown waits for nothing open. */
export function drainSubscriptionsPlugin(dispose: () => Promise<void>): ApolloServerPlugin<RequestContext> {
  return {
    async serverWillStart() {
      return {
        async drainServer() {
          await dispose();
        },
      };
    },
  };
}
