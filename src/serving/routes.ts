/**
 * The Open Inference Protocol v2 REST routes:
 *
 * - `GET /v2/health/live`, `GET /v2/health/ready` — open, like `/healthz` (Kubernetes probes).
 * - `GET /v2` — server metadata.
 * - `GET /v2/models/{name}[/versions/{v}]` — model metadata (platform `onnxruntime`, tensors with -1 for variable dimensions).
 * - `GET /v2/models/{name}[/versions/{v}]/ready` — 200 `{name, ready: true}`, or 503 with `ready: false` and the reason.
 * - `POST /v2/models/{name}[/versions/{v}]/infer` — OIP `inputs` or records `instances`.
 *
 * Models live in projects, so a request names its project with `X-Sluice-Project` (id or name);
 * without it, a token that can read exactly one project uses that one, and on a server with
 * exactly one project any token uses it (still needing READ there); otherwise it is refused. Model routes need READ on
 * the project. Errors are OIP's `{"error": "…"}` with 400 (bad request), 401/403, 404 (unknown
 * model), 409 (the version is not APPROVED), 413 (a body over SLUICE_BODY_LIMIT, more rows than
 * SLUICE_SERVING_MAX_ROWS, or outputs over SLUICE_SERVING_MAX_OUTPUT_BYTES) or 500.
 *
 * Inference is authenticated but not counted against `SLUICE_RATE_LIMIT` (which meters API
 * operations, not prediction traffic); failed authentications still count per client address.
 */
import fs from "node:fs";
import path from "node:path";
import express, { type Express, type Request, type Response } from "express";
import type { Logger } from "pino";
import { Authorizer } from "../kernel/context";
import type { AuthService } from "../auth/auth.service";
import type { ProjectService } from "../projects/project.service";
import type { ServingService } from "./serving.service";
import {
  ErrorCode,
  HTTP_STATUS,
  InvalidInputError,
  NotFoundError,
  PayloadTooLargeError,
  SluiceError,
  UnauthenticatedError,
} from "../kernel/errors";
import type { RequestRateLimiter } from "../kernel/rate-limit";
import type { Caller } from "../kernel/principal";
import { Permission, allowedProjects } from "../kernel/roles";
import { bearerToken } from "../kernel/token";
import type { ServedModelRef } from "./serving-registry";

/** The header naming the project whose models a request means. */
export const PROJECT_HEADER = "x-sluice-project";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME_CACHE_MS = 10_000;

export function registerServingRoutes(
  app: Express,
  deps: {
    auth: AuthService;
    projects: ProjectService;
    serving: ServingService;
    limiter: RequestRateLimiter;
    log: Logger;
    bodyLimitBytes: number;
    isReady: () => boolean;
  },
): void {
  const { log } = deps;
  const projectIds = new Map<string, { id: string | null; until: number }>();

  async function caller(req: Request): Promise<Caller> {
    const token = bearerToken(req.headers.authorization);
    try {
      if (!token) throw new UnauthenticatedError("Authentication required: send 'Authorization: Bearer <token>'");
      return await deps.auth.authenticate(token);
    } catch (err) {
      await deps.limiter.consume(`ip:${req.ip ?? "unknown"}`);
      throw err;
    }
  }

  /** The project a request means (header, or the token's only project), checked for READ. */
  async function scope(req: Request): Promise<{ projectId: string; authz: Authorizer }> {
    const authz = new Authorizer(await caller(req));
    const header = req.headers[PROJECT_HEADER];
    let projectId: string | undefined;
    if (typeof header === "string" && header.trim() !== "") {
      const given = header.trim();
      if (UUID.test(given)) projectId = given;
      else {
        // Names are looked up (and kept briefly: a rename shows within NAME_CACHE_MS).
        let cached = projectIds.get(given);
        if (!cached || cached.until < Date.now()) {
          const row = await deps.projects.getByName(given);
          cached = { id: row?.id ?? null, until: Date.now() + NAME_CACHE_MS };
          projectIds.set(given, cached);
        }
        if (!cached.id) throw new NotFoundError("Project", given);
        projectId = cached.id;
      }
    } else {
      const readable = allowedProjects(authz.caller!.grants, Permission.READ);
      if (readable !== "all" && readable.length === 1) projectId = readable[0];
      // A global token on a server with one project means that project (as the MLflow API does).
      else projectId = (await deps.projects.onlyProject())?.id;
      if (!projectId) {
        throw new InvalidInputError([
          {
            field: "X-Sluice-Project",
            message: "send this header with the project's id or name: the token can read more than one project",
          },
        ]);
      }
    }
    authz.require(Permission.READ, projectId);
    return { projectId: projectId!, authz };
  }

  async function ref(req: Request): Promise<ServedModelRef> {
    const { projectId } = await scope(req);
    const version = req.params.version === undefined ? undefined : String(req.params.version);
    return { projectId, name: String(req.params.name), version };
  }

  app.get("/v2/health/live", (_req, res) => {
    res.json({ live: true });
  });
  app.get("/v2/health/ready", (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ ready });
  });
  app.get("/v2", (_req, res) => {
    res.json({ name: "sluice", version: serverVersion(), extensions: [] });
  });

  for (const base of ["/v2/models/:name", "/v2/models/:name/versions/:version"]) {
    app.get(base, async (req, res) => {
      try {
        res.json(await deps.serving.metadata(await ref(req)));
      } catch (err) {
        sendOipError(res, err, log);
      }
    });
    app.get(`${base}/ready`, async (req, res) => {
      try {
        const r = await ref(req);
        const state = await deps.serving.ready(r);
        res.status(state.ready ? 200 : 503).json({ name: r.name, ready: state.ready, ...(state.reason ? { error: state.reason } : {}) });
      } catch (err) {
        sendOipError(res, err, log);
      }
    });
    const json = express.json({ limit: deps.bodyLimitBytes });
    app.post(
      `${base}/infer`,
      // Body errors answered in OIP's shape, not the GraphQL one the server's handler uses.
      (req, res, next) => json(req, res, (err?: unknown) => (err ? sendBodyError(res, err, deps.bodyLimitBytes) : next())),
      async (req, res) => {
        try {
          res.json(await deps.serving.infer(await ref(req), req.body));
        } catch (err) {
          sendOipError(res, err, log);
        }
      },
    );
  }
}

let version: string | undefined;
/** This package's version (from package.json, found upwards from this file). */
function serverVersion(): string {
  if (version === undefined) {
    version = "unknown";
    for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const file = path.join(dir, "package.json");
      if (fs.existsSync(file)) {
        version = String((JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version ?? "unknown");
        break;
      }
    }
  }
  return version;
}

/** OIP's error object: `{"error": "<what was wrong>"}` with the status of its code. */
export function sendOipError(res: Response, err: unknown, log: Logger): void {
  if (res.headersSent) return;
  if (err instanceof SluiceError) {
    if (err.code === ErrorCode.RATE_LIMITED) res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
    res.status(err instanceof PayloadTooLargeError ? err.httpStatus : HTTP_STATUS[err.code]).json({ error: err.message });
    return;
  }
  log.error({ err }, "an inference route failed");
  res.status(500).json({ error: "Internal server error; the server logged the details" });
}

function sendBodyError(res: Response, err: unknown, limit: number): void {
  const e = err as { type?: string; message?: string };
  if (e.type === "entity.too.large") res.status(413).json({ error: `the body is over the limit of ${limit} bytes (SLUICE_BODY_LIMIT)` });
  else res.status(400).json({ error: `the body is not valid JSON: ${e.message ?? "parse error"}` });
}
