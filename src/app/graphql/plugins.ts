import type { ApolloServerPlugin } from "@apollo/server";
import type { RequestContext } from "../../kernel/context";
import { ErrorCode, SluiceError } from "../../kernel/errors";
import type { ServerMetrics } from "../metrics";
import { getOperationAST } from "graphql";
import { auditRefusedAttempt, mutationResolverRan } from "../../kernel/mutation";
import { type SizeLimits, operationSize, sizeError } from "./guards";
import { inputError, inputProblems, rootFieldNames } from "../../kernel/graphql/input-check";

/** What the HTTP access log learns about the GraphQL operation a request carried. */
export interface OperationTrace {
  name?: string;
  type?: string;
  /** The root fields the operation selects (e.g. `["me"]`): what an anonymous operation did. */
  fields?: string[];
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
        async willSendResponse({ operation, operationName, document, response, contextValue }) {
          const type = operation?.operation ?? "invalid";
          const name = metrics.operationLabel(operationName);
          if (contextValue.trace) {
            const fields = operation && document ? rootFieldNames(document, operation).slice(0, 5) : undefined;
            Object.assign(contextValue.trace, { name: operationName ?? undefined, type, fields });
          }
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

/**
 * Checks each operation before it executes: its input (NUL bytes, invalid Unicode, malformed ids;
 * see input-check.ts), then its size (nodes and cost, each fragment measured once). A mutation
 * refused here, or anywhere before its resolvers ran (validation, variables), is still audited,
 * once per root field, with the variables as its input.
 */
export function operationGuardPlugin(limits: SizeLimits): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation, schema }) {
          if (!operation) return; // execution names the problem
          const problems = inputProblems(schema, document, operation, request.variables);
          if (problems.length > 0) throw inputError(problems);
          const refusal = sizeError(operationSize(schema, document, request.variables, request.operationName), limits);
          if (refusal) throw refusal;
        },
        async didEncounterErrors({ errors, operation, document, request, contextValue }) {
          if (!document || mutationResolverRan(contextValue)) return;
          const op = operation ?? getOperationAST(document, request.operationName ?? undefined);
          if (op?.operation !== "mutation") return;
          await auditRefusedOperation(contextValue, rootFieldNames(document, op), request.variables, errors[0]);
        },
      };
    },
  };
}

/** Audits, per root field, a mutation operation refused before any of its resolvers ran. */
export async function auditRefusedOperation(
  ctx: RequestContext,
  fields: string[],
  variables: Record<string, unknown> | null | undefined,
  error: unknown,
): Promise<void> {
  const code = String((error as { extensions?: { code?: unknown } } | undefined)?.extensions?.code ?? "");
  // Whatever stops an operation before execution is the caller's input, unless it is our fault.
  const refusal =
    error instanceof SluiceError
      ? error
      : code === ErrorCode.INTERNAL
        ? error
        : new SluiceError(
            code in ErrorCode ? (code as ErrorCode) : ErrorCode.BAD_USER_INPUT,
            error instanceof Error ? error.message : "refused",
          );
  for (const field of fields) await auditRefusedAttempt(ctx, field, variables ?? {}, refusal);
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
