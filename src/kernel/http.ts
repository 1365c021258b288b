import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import type { Server } from "node:http";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Request, Response } from "express";
import type { Logger } from "pino";
import { authenticate } from "./authenticate";
import { type AppServices, Authorizer, type RequestContext, type TokenVerifier } from "./context";
import { ErrorCode, HTTP_STATUS, InvalidInputError, SluiceError, UnauthenticatedError } from "./errors";
import type { RequestRateLimiter } from "./rate-limit";
import { hideServerPaths, hideServerPathsIn } from "./server-paths";

/**
 * How long the server keeps an idle keep-alive connection open. Node's default (5 s) races
 * clients that reuse a connection idle for about as long (undici, Node's fetch, keeps one 4 s on
 * that hint): a request written as the server closes the socket fails with ECONNRESET. The
 * demo's replay met it whenever recording outcomes kept its inference connections idle for
 * seconds. 65 s is what load balancers expect of their backends (they close first, at 60 s).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Applies `KEEP_ALIVE_TIMEOUT_MS`; headers must time out after it, or Node closes idle sockets early. */
export function keepConnectionsAlive(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
}

/**
 * The request context of a plain-HTTP route (uploads, webhooks): the bearer token is
 * authenticated and rate-limited exactly as for GraphQL. Throws UNAUTHENTICATED or
 * RATE_LIMITED as SluiceErrors, which `sendError` answers.
 */
export async function httpContext(
  deps: { services: AppServices; limiter: RequestRateLimiter; log: Logger },
  req: Request,
  res: Response,
): Promise<RequestContext> {
  const requestId = typeof res.locals.requestId === "string" ? res.locals.requestId : randomUUID();
  const caller = await authenticate(deps.services.tokens, deps.limiter, {
    authorization: req.headers.authorization,
    clientAddress: req.ip ?? "unknown",
  });
  return {
    requestId,
    authz: new Authorizer(caller),
    services: deps.services,
    log: deps.log.child({ requestId, principal: caller.principalName }),
  };
}

/** A body over a route's size limit: answered 413. */
export class PayloadTooLargeError extends InvalidInputError {
  constructor(limitBytes: number, setting: string, what = "is") {
    super([{ field: "body", message: `${what} over the limit of ${limitBytes} bytes (${setting})` }]);
  }
}

/**
 * Answers an error of a plain-HTTP route as `{ error: { code, message, problems? } }` with the
 * code's status (413 for a body too large, Retry-After on RATE_LIMITED); anything unexpected is
 * logged and answered 500 without its details.
 */
export function sendError(res: Response, err: unknown, log: Logger): void {
  if (res.headersSent) return;
  if (err instanceof InvalidInputError) {
    res
      .status(err instanceof PayloadTooLargeError ? 413 : 400)
      .json({ error: { code: err.code, message: hideServerPaths(err.message), problems: hideServerPathsIn(err.problems) } });
  } else if (err instanceof SluiceError) {
    if (err.code === ErrorCode.RATE_LIMITED) res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
    res
      .status(HTTP_STATUS[err.code])
      .json({ error: { code: err.code, message: hideServerPaths(err.message), ...hideServerPathsIn(err.details) } });
  } else {
    log.error({ err }, "an HTTP route failed");
    res.status(500).json({ error: { code: ErrorCode.INTERNAL, message: "Internal server error; the server logged the details" } });
  }
}

/** Streams the request body into `file`, stopping (and failing) past `maxBytes`. */
export async function receiveBody(req: Request, file: string, maxBytes: number): Promise<void> {
  let seen = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(new PayloadTooLargeError(maxBytes, "SLUICE_UPLOAD_LIMIT"));
      else done(null, chunk);
    },
  });
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new PayloadTooLargeError(maxBytes, "SLUICE_UPLOAD_LIMIT");
  await pipeline(req, limit, createWriteStream(file));
}

/**
 * Whether a request may read the probe `name` (`/readyz`, `/metrics`): open when the endpoint is
 * listed public, else with any valid token. A refusal is answered here (401, or 429 when rate
 * limited) and false returned. The API server and serving replicas share it.
 */
export async function probeAllowed(
  deps: { tokens: TokenVerifier; limiter: RequestRateLimiter; publicEndpoints: ReadonlySet<string> },
  name: "readyz" | "metrics",
  req: Request,
  res: Response,
): Promise<boolean> {
  if (deps.publicEndpoints.has(name)) return true;
  try {
    await authenticate(deps.tokens, deps.limiter, { authorization: req.headers.authorization, clientAddress: req.ip ?? "unknown" });
    return true;
  } catch (err) {
    const e = err instanceof SluiceError ? err : new UnauthenticatedError("Authentication required");
    res.status(e.code === ErrorCode.RATE_LIMITED ? 429 : 401).json({ error: { code: e.code, message: e.message } });
    return false;
  }
}
