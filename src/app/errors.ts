import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { registerEnumType } from "type-graphql";
import { hideServerPaths, hideServerPathsIn } from "./server-paths";

/**
 * The one list of error codes. It is `extensions.code` on top-level GraphQL errors and the
 * `code` field of the typed error members of mutation result unions.
 */
export enum ErrorCode {
  BAD_USER_INPUT = "BAD_USER_INPUT",
  UNAUTHENTICATED = "UNAUTHENTICATED",
  FORBIDDEN = "FORBIDDEN",
  NOT_FOUND = "NOT_FOUND",
  CONFLICT = "CONFLICT",
  RATE_LIMITED = "RATE_LIMITED",
  INTERNAL = "INTERNAL",
}

registerEnumType(ErrorCode, { name: "ErrorCode", description: "Why an operation did not succeed." });

/** The HTTP status that goes with each code, for plain-HTTP endpoints and Apollo alike. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

/**
 * An error meant for the caller: its message says what was wrong and what to do.
 * Services throw these; resolvers turn them into union members or top-level errors.
 */
export class SluiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SluiceError";
  }

  /** The same error as a top-level GraphQL error with its code and HTTP status. */
  toGraphQLError(): GraphQLError {
    return new GraphQLError(this.message, {
      extensions: { code: this.code, ...this.details, http: { status: HTTP_STATUS[this.code] } },
    });
  }
}

/** A named thing does not exist (or the caller may not know it exists). */
export class NotFoundError extends SluiceError {
  constructor(
    readonly resourceType: string,
    readonly resourceId: string,
  ) {
    super(ErrorCode.NOT_FOUND, `${resourceType} ${JSON.stringify(resourceId)} was not found`, { resourceType, resourceId });
  }
}

/** The request clashes with what is stored (a taken name, a state that forbids the change). */
export class ConflictError extends SluiceError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.CONFLICT, message, details);
  }
}

/** One field of an input that was refused, and why. */
export interface InputProblem {
  field: string;
  message: string;
}

/** Input that fails validation: names each offending field. */
export class InvalidInputError extends SluiceError {
  constructor(readonly problems: InputProblem[]) {
    super(ErrorCode.BAD_USER_INPUT, problems.map((p) => `${p.field}: ${p.message}`).join("; "), { problems });
  }
}

/**
 * Input refused for its size (too many rows, outputs too large): BAD_USER_INPUT in GraphQL,
 * 413 on plain-HTTP endpoints that answer it (`httpStatus`).
 */
export class PayloadTooLargeError extends InvalidInputError {
  readonly httpStatus = 413;
}

export class UnauthenticatedError extends SluiceError {
  constructor(message: string) {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ForbiddenError extends SluiceError {
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class RateLimitedError extends SluiceError {
  constructor(retryAfterSeconds: number) {
    super(ErrorCode.RATE_LIMITED, `Too many requests for this token; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
  }
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
