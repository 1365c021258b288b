import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Express } from "express";
import type { Logger } from "pino";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import { httpContext, receiveBody, sendError } from "../kernel/http";
import { type MutationScope, prepareMutation, runMutation } from "../kernel/mutation";
import type { AppServices } from "../kernel/context";
import type { RequestRateLimiter } from "../kernel/rate-limit";
import { Permission } from "../kernel/roles";
import type { RegistryService } from "./registry.service";

/**
 * The model files over HTTP, not through GraphQL strings:
 *
 * - `POST /registered-models/:id/versions?description=…` — the body is an ONNX file (at most
 *   SLUICE_UPLOAD_LIMIT bytes), checked by onnxruntime, stored content-addressed and recorded as
 *   the model's next version (PENDING_APPROVAL). Answers 201 `{ versionId, version, signature }`.
 * - `GET /model-versions/:id/model.onnx` — the file, for a token that may read the project.
 */
export function registerModelFileRoutes(
  app: Express,
  deps: { services: AppServices; registry: RegistryService; limiter: RequestRateLimiter; log: Logger; maxBytes: number },
): void {
  app.post("/registered-models/:id/versions", async (req, res) => {
    let scratch: string | undefined;
    try {
      const ctx = await httpContext(deps, req, res);
      const model = await deps.registry.model(String(req.params.id));
      const description = typeof req.query.description === "string" ? req.query.description : undefined;
      // Metrics and tags ride in the query string as JSON objects, since the body is the file.
      const metrics = jsonQuery(req.query.metrics, "metrics");
      const tags = jsonQuery(req.query.tags, "tags");
      const scope: MutationScope = {
        action: "model.version.upload",
        permission: Permission.WRITE,
        projectId: model?.projectId,
        input: { registeredModelId: req.params.id, description, metrics, tags },
      };
      const prepared = await prepareMutation(ctx, scope, async () => {
        if (!model) throw new NotFoundError("RegisteredModel", String(req.params.id));
        scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-model-"));
        const file = path.join(scratch, "model.onnx");
        await receiveBody(req, file, deps.maxBytes);
        return deps.registry.prepareUpload(file, await fs.readFile(file));
      });
      const row = await runMutation(ctx, scope, async (tx) => {
        const v = await deps.registry.createVersion(tx, model!.id, prepared, { description, metrics, tags });
        return { value: v, targetId: v.id, result: { versionId: v.id, version: v.version } };
      });
      res.status(201).json({ versionId: row.id, version: row.version, status: row.status, signature: row.signature });
    } catch (err) {
      sendError(res, err, deps.log);
    } finally {
      if (scratch) await fs.rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  });

  app.get("/model-versions/:id/model.onnx", async (req, res) => {
    try {
      const ctx = await httpContext(deps, req, res);
      const v = await deps.registry.version(String(req.params.id));
      ctx.authz.require(Permission.READ, v?.projectId);
      if (!v) throw new NotFoundError("ModelVersion", String(req.params.id));
      const file = await deps.registry.versionFile(v);
      const stat = await fs.stat(file);
      res.setHeader("content-type", "application/octet-stream");
      res.setHeader("content-length", String(stat.size));
      res.setHeader("content-disposition", `attachment; filename="model-v${v.version}.onnx"`);
      createReadStream(file).pipe(res);
    } catch (err) {
      sendError(res, err, deps.log);
    }
  });
}

/** A query parameter holding a JSON object, e.g. `?metrics={"auc":0.91}`; absent gives undefined. */
function jsonQuery(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = typeof value === "string" ? JSON.parse(value) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidInputError([{ field: name, message: 'must be a JSON object in the query string, e.g. {"auc":0.91}' }]);
  }
  return parsed as Record<string, unknown>;
}
