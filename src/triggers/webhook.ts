import { randomUUID } from "node:crypto";
import express, { type Express, type Request, type Response } from "express";
import type { Logger } from "pino";
import { authenticate } from "../kernel/authenticate";
import { type AppServices, Authorizer, type RequestContext } from "../kernel/context";
import { ErrorCode, HTTP_STATUS, InvalidInputError, SluiceError } from "../kernel/errors";
import type { RequestRateLimiter } from "../kernel/rate-limit";
import { emitCustomEvent } from "./event-rule.resolver";
import type { EventRuleService } from "./event-rule.service";

/** Where external systems post events. */
export const EVENT_HOOK_PATH = "/hooks/events";

export interface EventHookOptions {
  /** The request context's services: the hook runs the `emitEvent` mutation. */
  services: AppServices;
  eventRules: EventRuleService;
  limiter: RequestRateLimiter;
  log: Logger;
  /** Largest body accepted, as for /graphql (`SLUICE_BODY_LIMIT`). */
  bodyLimitBytes: number;
}

function refuse(res: Response, status: number, code: ErrorCode, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ error: { code, message, ...extra } });
}

/**
 * `POST /hooks/events`: the `emitEvent` mutation for systems that speak plain HTTP. The bearer
 * token needs EDITOR in the project; the body is `{ "projectId", "type", "payload" }` as JSON.
 * Answers 202 `{ "eventId" }` once the event is stored (rules fire from it shortly after), or an
 * `{ "error": { code, message, problems? } }` with 400 (malformed JSON, a bad field, a reserved
 * type), 401, 403, 404 (no such project), 409 (archived project), 413 (body over the limit) or
 * 429. The call is audited as `event.emit`, like the mutation.
 */
export function registerEventHook(app: Express, options: EventHookOptions): void {
  const { services, eventRules, limiter, log, bodyLimitBytes } = options;
  const parseJson = express.json({ limit: bodyLimitBytes });
  const readBody = (req: Request, res: Response) =>
    new Promise<void>((resolve, reject) => parseJson(req, res, (err?: unknown) => (err ? reject(err) : resolve())));

  app.post(EVENT_HOOK_PATH, async (req, res) => {
    const requestId = typeof res.locals.requestId === "string" ? res.locals.requestId : randomUUID();
    try {
      // Authentication first, so an anonymous caller learns nothing about the body it sent.
      const caller = await authenticate(services.tokens, limiter, {
        authorization: req.headers.authorization,
        clientAddress: req.ip ?? "unknown",
      });
      if (!req.is("application/json")) {
        refuse(res, 400, ErrorCode.BAD_USER_INPUT, "Send the event as JSON with 'Content-Type: application/json'", { reason: "NOT_JSON" });
        return;
      }
      try {
        await readBody(req, res);
      } catch (err) {
        const e = err as { type?: string; message?: string; length?: number };
        if (e.type === "entity.too.large") {
          refuse(res, 413, ErrorCode.BAD_USER_INPUT, `Request body is over the limit of ${bodyLimitBytes} bytes (SLUICE_BODY_LIMIT)`, {
            reason: "BODY_TOO_LARGE",
          });
        } else {
          refuse(res, 400, ErrorCode.BAD_USER_INPUT, `Request body is not valid JSON: ${e.message ?? "parse error"}`, {
            reason: "MALFORMED_JSON",
          });
        }
        return;
      }
      const input = checkBody(req.body);
      const ctx: RequestContext = {
        requestId,
        authz: new Authorizer(caller),
        services,
        log: log.child({ requestId, principal: caller.principalName }),
      };
      const row = await emitCustomEvent(eventRules, ctx, input);
      res.status(202).json({ eventId: row.id });
    } catch (err) {
      if (err instanceof InvalidInputError) {
        refuse(res, 400, err.code, err.message, { problems: err.problems });
      } else if (err instanceof SluiceError) {
        if (err.code === ErrorCode.RATE_LIMITED) res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
        refuse(res, HTTP_STATUS[err.code], err.code, err.message);
      } else {
        log.error({ err, requestId }, "the event webhook failed");
        refuse(res, 500, ErrorCode.INTERNAL, "Internal server error; the server logged the details");
      }
    }
  });
}

/** The body must be `{ projectId: string, type: string, payload?: object }`. */
function checkBody(body: unknown): { projectId: string; type: string; payload: Record<string, unknown> } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new InvalidInputError([{ field: "body", message: 'must be a JSON object: { "projectId", "type", "payload" }' }]);
  }
  const { projectId, type, payload } = body as Record<string, unknown>;
  const problems = [];
  if (typeof projectId !== "string" || projectId === "") problems.push({ field: "projectId", message: "must be a project id" });
  if (typeof type !== "string" || type === "") problems.push({ field: "type", message: "must be an event type such as deploy.finished" });
  if (payload !== undefined && (payload === null || typeof payload !== "object" || Array.isArray(payload)))
    problems.push({ field: "payload", message: "must be a JSON object" });
  if (problems.length) throw new InvalidInputError(problems);
  return { projectId: projectId as string, type: type as string, payload: (payload ?? {}) as Record<string, unknown> };
}
