import express, { type Express, type NextFunction, type Request, type Response, Router } from "express";
import type { Logger } from "pino";
import type { AppServices, RequestContext } from "../../kernel/context";
import { httpContext } from "../../kernel/http";
import { type MutationTx, runMutation } from "../../kernel/mutation";
import type { RequestRateLimiter } from "../../kernel/rate-limit";
import { Permission } from "../../kernel/roles";
import type { ProjectRow } from "../../projects";
import type { ArtifactStore } from "../../artifacts/store";
import type { RegistryService } from "../../registry/registry.service";
import type { TrackingService } from "../tracking.service";
import { MlflowError, missingParam, sendMlflowError } from "./errors";
import { type ProjectScopeDeps, findProject, resolveProject, resolveProjectForRead, resolveProjectForWrite } from "./project-scope";
import { registerMlflowArtifacts } from "./artifacts";
import { registerRegistryEndpoints } from "./registry-endpoints";
import { registerTrackingEndpoints } from "./tracking-endpoints";

export const MLFLOW_PREFIX = "/api/2.0/mlflow";

/** What the MLflow API uses: its endpoints reach these through `call.deps`. */
export interface MlflowDeps extends ProjectScopeDeps {
  tracking: TrackingService;
  registry: RegistryService;
  artifacts: ArtifactStore;
}

/** One MLflow call: its context, its parameters (query and JSON body merged), its project. */
export class MlflowCall {
  private projectRow: Promise<ProjectRow> | undefined;

  constructor(
    readonly ctx: RequestContext,
    readonly deps: MlflowDeps,
    readonly req: Request,
    readonly params: Record<string, unknown>,
  ) {}

  /** The project the call is scoped to (see project-scope.ts); refused when none can be chosen. */
  project(): Promise<ProjectRow> {
    return (this.projectRow ??= resolveProject(this.deps, this.ctx, this.req));
  }

  /** The project a write creating something goes to; on a server with no project, `default` (project-scope.ts). */
  projectForWrite(): Promise<ProjectRow> {
    return (this.projectRow ??= resolveProjectForWrite(this.deps, this.ctx, this.req));
  }

  /** The project a read looks in, or null on a server with no project at all (nothing to read yet). */
  projectForRead(): Promise<ProjectRow | null> {
    return resolveProjectForRead(this.deps, this.ctx, this.req);
  }

  /** The project if one can be chosen, for authorizing a lookup of something that is missing. */
  async projectIdIfAny(): Promise<string | undefined> {
    return (await findProject(this.deps, this.ctx, this.req).catch(() => undefined))?.id;
  }

  /** A string parameter; required ones missing answer MLflow's "Missing value for required parameter". */
  str(name: string, required: true): string;
  str(name: string, required?: false): string | undefined;
  str(name: string, required = false): string | undefined {
    const v = this.params[name];
    if (v === undefined || v === null || v === "") {
      if (required) throw missingParam(name);
      return undefined;
    }
    if (typeof v === "object")
      throw new MlflowError("INVALID_PARAMETER_VALUE", `Invalid value ${JSON.stringify(v)} for parameter '${name}' supplied.`);
    return String(v);
  }

  /** A repeated parameter: a JSON array, or repeated query parameters. */
  list(name: string): string[] {
    const v = this.params[name];
    if (v === undefined || v === null || v === "") return [];
    return (Array.isArray(v) ? v : [v]).map(String);
  }

  /** A list of `{ key, value }` objects (tags, params). */
  keyValues(name: string): Array<{ key: string; value: string }> {
    const v = this.params[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v))
      throw new MlflowError("INVALID_PARAMETER_VALUE", `Invalid value for parameter '${name}': expected a list of {key, value}`);
    return v.map((item) => {
      const o = (item ?? {}) as { key?: unknown; value?: unknown };
      return { key: o.key as string, value: o.value === undefined || o.value === null ? "" : String(o.value) };
    });
  }

  /** Runs a write as a Sluice mutation: authorized, in one transaction, audited. */
  mutate<T>(action: string, projectId: string | undefined, work: (tx: MutationTx) => Promise<{ value: T; targetId?: string }>): Promise<T> {
    return runMutation(this.ctx, { action, permission: Permission.WRITE, projectId, input: this.params }, async (tx) => {
      const out = await work(tx);
      return { value: out.value, targetId: out.targetId, result: out.targetId ? { id: out.targetId } : {} };
    });
  }
}

export type Endpoint = (call: MlflowCall) => Promise<Record<string, unknown>>;
export type Method = "get" | "post" | "patch" | "delete";

export interface EndpointTable {
  add(method: Method | Method[], path: string, endpoint: Endpoint): void;
}

/**
 * MLflow's REST API (2.0) under `/api/2.0/mlflow/`: the tracking and registry subset, with
 * MLflow's field names, JSON shapes, error bodies and statuses, authenticated like every
 * other route (bearer token, rate limit). Tracking endpoints are in tracking-endpoints.ts,
 * registry endpoints (over Sluice's own registry) in registry-endpoints.ts.
 */
export function registerMlflowApi(
  app: Express,
  deps: MlflowDeps & { services: AppServices; limiter: RequestRateLimiter; log: Logger; bodyLimitBytes: number; maxBytes: number },
): void {
  const router = Router();
  router.use(express.json({ limit: deps.bodyLimitBytes }));
  const table: EndpointTable = {
    add(methods, path, endpoint) {
      for (const method of Array.isArray(methods) ? methods : [methods]) {
        router[method](`/${path}`, async (req: Request, res: Response) => {
          try {
            const ctx = await httpContext(deps, req, res);
            const body = req.body && typeof req.body === "object" && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
            const call = new MlflowCall(ctx, deps, req, { ...(req.query as Record<string, unknown>), ...body });
            res.status(200).json(await endpoint(call));
          } catch (err) {
            sendMlflowError(res, err, deps.log);
          }
        });
      }
    },
  };
  registerTrackingEndpoints(table);
  registerRegistryEndpoints(table);
  router.use((req: Request, res: Response) => {
    res
      .status(404)
      .json({ error_code: "ENDPOINT_NOT_FOUND", message: `No MLflow endpoint ${req.method} ${MLFLOW_PREFIX}${req.path} in Sluice` });
  });
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const e = err as { type?: string; message?: string };
    if (res.headersSent) return next(err);
    if (e.type === "entity.too.large") {
      res.status(400).json({
        error_code: "INVALID_PARAMETER_VALUE",
        message: `Request body is over the limit of ${deps.bodyLimitBytes} bytes (SLUICE_BODY_LIMIT)`,
      });
    } else if (e.type === "entity.parse.failed") {
      res.status(400).json({ error_code: "BAD_REQUEST", message: `Malformed request: ${e.message ?? "the body is not JSON"}` });
    } else sendMlflowError(res, err, deps.log);
  });
  app.use(MLFLOW_PREFIX, router);
  registerMlflowArtifacts(app, deps);
}
