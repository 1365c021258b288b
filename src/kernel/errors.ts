/*
 * The errors every layer throws. This file loads no GraphQL on purpose: pure cores (trainers,
 * drift statistics, spec validation) throw these inside worker threads. `graphql/errors.ts`
 * registers the codes in the schema and turns errors into GraphQL answers.
 */

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
