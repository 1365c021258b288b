import type { Response } from "express";
import type { Logger } from "pino";
import { ConflictError, ErrorCode, InvalidInputError, NotFoundError, SluiceError } from "../../kernel/errors";

/** MLflow's error codes that Sluice answers with, and MLflow's HTTP status for each (mlflow/exceptions.py). */
export const MLFLOW_STATUS = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  REQUEST_LIMIT_EXCEEDED: 429,
  INVALID_STATE: 500,
  INTERNAL_ERROR: 500,
} as const;
export type MlflowErrorCode = keyof typeof MLFLOW_STATUS;

const SLUICE_CODE: Partial<Record<MlflowErrorCode, ErrorCode>> = {
  INVALID_PARAMETER_VALUE: ErrorCode.BAD_USER_INPUT,
  BAD_REQUEST: ErrorCode.BAD_USER_INPUT,
  RESOURCE_ALREADY_EXISTS: ErrorCode.CONFLICT,
  RESOURCE_DOES_NOT_EXIST: ErrorCode.NOT_FOUND,
};

/** An error raised by the MLflow layer itself, with MLflow's code and message (a Sluice error too, for the audit log). */
export class MlflowError extends SluiceError {
  constructor(
    readonly errorCode: MlflowErrorCode,
    message: string,
  ) {
    super(SLUICE_CODE[errorCode] ?? ErrorCode.INTERNAL, message, { mlflowCode: errorCode });
  }
}

export const missingParam = (name: string) =>
  new MlflowError(
    "INVALID_PARAMETER_VALUE",
    `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`,
  );

/** MLflow's message for a missing resource, in MLflow's words where Sluice knows them. */
function notFoundMessage(err: NotFoundError): string {
  switch (err.resourceType) {
    case "Run":
      return `Run with id=${err.resourceId} not found`;
    case "Experiment":
      return `No Experiment with id=${err.resourceId} exists`;
    case "RegisteredModel":
      return `Registered Model with name=${err.resourceId} not found`;
    case "Tag":
      return err.resourceId;
    default:
      return err.message;
  }
}

/** A Sluice or MLflow-layer error as MLflow's `{ error_code, message }` and status. */
export function toMlflowError(err: unknown): { status: number; body: { error_code: MlflowErrorCode; message: string } } | null {
  let code: MlflowErrorCode;
  let message: string;
  if (err instanceof MlflowError) {
    code = err.errorCode;
    message = err.message;
  } else if (err instanceof NotFoundError) {
    code = "RESOURCE_DOES_NOT_EXIST";
    message = notFoundMessage(err);
  } else if (err instanceof InvalidInputError) {
    code = "INVALID_PARAMETER_VALUE";
    message = err.message;
  } else if (err instanceof ConflictError) {
    // Taken names are MLflow's RESOURCE_ALREADY_EXISTS; other clashes (an alias on an archived
    // version) are the caller's input, answered 400 rather than MLflow's 500 INVALID_STATE.
    const explicit = err.details.mlflowCode as MlflowErrorCode | undefined;
    const field = err.details.field;
    code = explicit ?? (field === "name" || field === "newName" ? "RESOURCE_ALREADY_EXISTS" : "INVALID_PARAMETER_VALUE");
    message = err.message;
  } else if (err instanceof SluiceError) {
    code =
      err.code === ErrorCode.UNAUTHENTICATED
        ? "UNAUTHENTICATED"
        : err.code === ErrorCode.FORBIDDEN
          ? "PERMISSION_DENIED"
          : err.code === ErrorCode.RATE_LIMITED
            ? "REQUEST_LIMIT_EXCEEDED"
            : err.code === ErrorCode.NOT_FOUND
              ? "RESOURCE_DOES_NOT_EXIST"
              : err.code === ErrorCode.BAD_USER_INPUT
                ? "INVALID_PARAMETER_VALUE"
                : "INTERNAL_ERROR";
    message = err.message;
  } else return null;
  return { status: MLFLOW_STATUS[code], body: { error_code: code, message } };
}

export function sendMlflowError(res: Response, err: unknown, log: Logger): void {
  if (res.headersSent) return;
  const mapped = toMlflowError(err);
  if (mapped) {
    if (err instanceof SluiceError && err.code === ErrorCode.RATE_LIMITED)
      res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
    res.status(mapped.status).json(mapped.body);
    return;
  }
  log.error({ err }, "an MLflow API call failed");
  res.status(500).json({ error_code: "INTERNAL_ERROR", message: "Internal server error; the server logged the details" });
}
