import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { registerEnumType } from "type-graphql";
import { ErrorCode, HTTP_STATUS, SluiceError } from "../errors";
import { hideServerPaths, hideServerPathsIn } from "../server-paths";

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description: "Why an operation did not succeed.",
  valuesConfig: {
    UNAUTHENTICATED: { description: "No valid token was presented (HTTP 401)." },
    RATE_LIMITED: { description: "Too many requests; retry later (HTTP 429)." },
    NOT_FOUND: { description: "The thing named does not exist, or the caller may not see it (HTTP 404)." },
    INTERNAL: { description: "An unexpected server failure; the message hides the details (HTTP 500)." },
    FORBIDDEN: { description: "The caller is authenticated but lacks the role the operation needs (HTTP 403)." },
    CONFLICT: { description: "The operation clashes with the current state, e.g. a duplicate name or a stale lease (HTTP 409)." },
    BAD_USER_INPUT: { description: "The input was invalid; the message says which field and why (HTTP 400)." },
  },
});

/** `err` as a top-level GraphQL error with its code and HTTP status. */
export function toGraphQLError(err: SluiceError): GraphQLError {
  return new GraphQLError(err.message, {
    extensions: { code: err.code, ...err.details, http: { status: HTTP_STATUS[err.code] } },
  });
}

/** Apollo's own codes for malformed requests, all of which are the caller's input. */
const INPUT_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Apollo's `formatError`: every error leaves with one of our codes; anything unexpected becomes
 * INTERNAL with a generic message, so stack traces and SQL never reach the client. The original
 * is logged by the caller-supplied `logInternal`.
 */
export function formatGraphQLError(
  formatted: GraphQLFormattedError,
  error: unknown,
  logInternal: (err: unknown) => void,
): GraphQLFormattedError {
  const answer = formatForClient(formatted, error, logInternal);
  return { ...answer, message: hideServerPaths(answer.message), extensions: hideServerPathsIn(answer.extensions) };
}

function formatForClient(formatted: GraphQLFormattedError, error: unknown, logInternal: (err: unknown) => void): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof SluiceError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: original.code, ...original.details },
    };
  }
  const code = String(formatted.extensions?.code ?? "");
  if (KNOWN_CODES.has(code) && code !== ErrorCode.INTERNAL) {
    const { stacktrace: _drop, http: _http, ...rest } = formatted.extensions ?? {};
    return { ...formatted, extensions: rest };
  }
  if (INPUT_CODES.has(code)) {
    // `http` only tells Apollo which status to answer with; it is not for the client.
    const { stacktrace: _drop, code: _code, http: _http, ...rest } = formatted.extensions ?? {};
    return {
      message: formatted.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { ...rest, code: ErrorCode.BAD_USER_INPUT, reason: rest.reason ?? code },
    };
  }
  logInternal(original);
  return {
    message: "Internal server error; the server logged the details",
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL },
  };
}
