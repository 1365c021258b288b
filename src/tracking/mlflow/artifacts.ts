import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Express, Request, Response } from "express";
import type { Logger } from "pino";
import { NotFoundError } from "../../kernel/errors";
import { httpContext, receiveBody } from "../../kernel/http";
import { type MutationScope, prepareMutation, runMutation } from "../../kernel/mutation";
import type { AppServices } from "../../kernel/context";
import type { ArtifactStore } from "../../artifacts/store";
import type { Database } from "../../db/data-source";
import type { TrackingService } from "../tracking.service";
import type { RequestRateLimiter } from "../../kernel/rate-limit";
import { artifactFor } from "../../artifacts/record";
import { Permission } from "../../kernel/roles";
import { MlflowError, sendMlflowError } from "./errors";

export const ARTIFACTS_PREFIX = "/api/2.0/mlflow-artifacts/artifacts";

/** `<experimentId>/<runId>/artifacts/<path>`, as a run's `mlflow-artifacts:` artifact URI lays files out. */
export function parseArtifactPath(raw: string): { experimentId: string; runId: string; file: string } | null {
  const m = /^\/*([^/]+)\/([^/]+)\/artifacts\/(.+)$/.exec(raw);
  if (!m) return null;
  const file = m[3]!.replace(/\/+$/, "");
  if (file.split("/").some((part) => part === ".." || part === "." || part === "")) return null;
  return { experimentId: m[1]!, runId: m[2]!, file };
}

/**
 * MLflow's artifact proxy, the part a client needs to log files to a run: `PUT` a file (the body),
 * `GET` it back, and `GET …/artifacts?path=<run folder>` to list. Files go into Sluice's
 * artifact store (content-addressed; `.onnx` files as Model artifacts, so `runs:/<run>/<path>`
 * can become a model version) and the run records path → artifact.
 */
export function registerMlflowArtifacts(
  app: Express,
  deps: {
    services: AppServices;
    tracking: TrackingService;
    artifacts: ArtifactStore;
    db: Database;
    limiter: RequestRateLimiter;
    log: Logger;
    maxBytes: number;
  },
): void {
  app.put(`${ARTIFACTS_PREFIX}/*path`, async (req: Request, res: Response) => {
    let scratch: string | undefined;
    try {
      const ctx = await httpContext(deps, req, res);
      const where = parseArtifactPath(decodeURIComponent(req.path.slice(ARTIFACTS_PREFIX.length)));
      if (!where) throw new MlflowError("INVALID_PARAMETER_VALUE", "Artifact paths are <experiment_id>/<run_id>/artifacts/<file>");
      const run = await deps.tracking.run(where.runId);
      const scope: MutationScope = {
        action: "tracking.run.logArtifact",
        permission: Permission.WRITE,
        projectId: run?.projectId,
        input: { runId: where.runId, path: where.file },
      };
      const stored = await prepareMutation(ctx, scope, async () => {
        if (!run) throw new NotFoundError("Run", where.runId);
        scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-mlflow-artifact-"));
        const file = path.join(scratch, path.basename(where.file));
        await receiveBody(req, file, deps.maxBytes);
        return deps.artifacts.put(file, { move: true });
      });
      await runMutation(ctx, scope, async (tx) => {
        const artifact = await artifactFor(tx.manager, undefined, {
          projectId: run!.projectId,
          kind: where.file.endsWith(".onnx") ? "Model" : "File",
          stored,
          metadata: { trackingRunId: run!.id, path: where.file },
        });
        await deps.tracking.recordArtifact(tx, run!.id, where.file, artifact.id);
        return { value: null, targetId: artifact.id, result: { artifactId: artifact.id } };
      });
      res.status(200).json({});
    } catch (err) {
      sendMlflowError(res, err, deps.log);
    } finally {
      if (scratch) await fs.rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  });

  app.get(`${ARTIFACTS_PREFIX}/*path`, async (req: Request, res: Response) => {
    try {
      const ctx = await httpContext(deps, req, res);
      const where = parseArtifactPath(decodeURIComponent(req.path.slice(ARTIFACTS_PREFIX.length)));
      if (!where) throw new MlflowError("INVALID_PARAMETER_VALUE", "Artifact paths are <experiment_id>/<run_id>/artifacts/<file>");
      const run = await deps.tracking.run(where.runId);
      ctx.authz.require(Permission.READ, run?.projectId);
      const artifactId = run?.artifacts[where.file];
      if (!run || !artifactId) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", `No artifact at ${where.file} in run ${where.runId}`);
      const row = await deps.db.dataSource.query(`SELECT uri FROM artifacts WHERE id = $1`, [artifactId]);
      const file = await deps.artifacts.localPath(row[0].uri);
      res.setHeader("content-type", "application/octet-stream");
      res.setHeader("content-length", String((await fs.stat(file)).size));
      createReadStream(file).pipe(res);
    } catch (err) {
      sendMlflowError(res, err, deps.log);
    }
  });

  app.get(ARTIFACTS_PREFIX, async (req: Request, res: Response) => {
    try {
      const ctx = await httpContext(deps, req, res);
      const raw = typeof req.query.path === "string" ? req.query.path : "";
      const m = /^\/*([^/]+)\/([^/]+)\/artifacts\/?(.*)$/.exec(raw);
      if (!m) throw new MlflowError("INVALID_PARAMETER_VALUE", "List a run's folder: path=<experiment_id>/<run_id>/artifacts[/<folder>]");
      const run = await deps.tracking.run(m[2]!);
      ctx.authz.require(Permission.READ, run?.projectId);
      if (!run) throw new NotFoundError("Run", m[2]!);
      const folder = m[3]!.replace(/\/+$/, "");
      const prefix = folder ? `${folder}/` : "";
      const sizes = new Map<string, number>();
      const ids = Object.values(run.artifacts);
      if (ids.length > 0) {
        const rows: Array<{ id: string; size: string }> = await deps.db.dataSource.query(
          `SELECT id, size FROM artifacts WHERE id = ANY($1::uuid[])`,
          [ids],
        );
        for (const r of rows) sizes.set(r.id, Number(r.size));
      }
      const entries = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
      for (const [p, id] of Object.entries(run.artifacts)) {
        if (!p.startsWith(prefix)) continue;
        const rest = p.slice(prefix.length);
        const slash = rest.indexOf("/");
        if (slash >= 0) entries.set(rest.slice(0, slash), { path: rest.slice(0, slash), is_dir: true });
        else entries.set(rest, { path: rest, is_dir: false, file_size: sizes.get(id) });
      }
      const files = [...entries.values()].sort((a, b) => a.path.localeCompare(b.path));
      res.json(files.length > 0 ? { files } : {});
    } catch (err) {
      sendMlflowError(res, err, deps.log);
    }
  });
}
