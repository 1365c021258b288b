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
import { SchemaPolicyError } from "./dataset.errors";
import { FILE_FORMATS, formatFromName, isFileFormat } from "./file-format";
import { expandUpload } from "./upload-expansion";
import type { DatasetService } from "./dataset.service";
import type { IngestionService } from "./ingestion.service";

/**
 * `POST /datasets/:id/uploads?format=csv&name=january.csv` — the request body is a file, streamed
 * to disk (never held in memory, at most SLUICE_UPLOAD_LIMIT bytes, and at most that many again
 * after decompression when it is gzip: upload-expansion.ts) and ingested as the dataset's
 * next version like a source would be: Parquet, profile, schema policy, dedupe by content.
 * `format` (csv, parquet, json, jsonl) may be left out when `name`'s extension says it.
 * Answers 201 `{ versionId, version, created: true, rowCount }`, or 200 with `created: false`
 * when the content is already a version; errors as `{ error: { code, message, problems } }`.
 */
export function registerDatasetUploads(
  app: Express,
  deps: {
    services: AppServices;
    datasets: DatasetService;
    ingestion: IngestionService;
    limiter: RequestRateLimiter;
    log: Logger;
    maxBytes: number;
  },
): void {
  app.post("/datasets/:id/uploads", async (req, res) => {
    let scratch: string | undefined;
    try {
      const ctx = await httpContext(deps, req, res);
      const given = typeof req.query.name === "string" && req.query.name ? path.basename(req.query.name) : undefined;
      const format = req.query.format === undefined && given ? formatFromName(given) : req.query.format;
      if (!isFileFormat(format)) {
        throw new InvalidInputError([
          {
            field: "format",
            message: `must be given as ?format= one of ${FILE_FORMATS.join(", ")}, or said by the extension of ?name=`,
          },
        ]);
      }
      const name = given ?? `upload.${format}`;
      const dataset = await deps.datasets.get(String(req.params.id));
      const scope: MutationScope = {
        action: "dataset.upload",
        permission: Permission.WRITE,
        projectId: dataset?.projectId,
        input: { datasetId: req.params.id, name, format },
      };
      const data = await prepareMutation(ctx, scope, async () => {
        if (!dataset) throw new NotFoundError("Dataset", String(req.params.id));
        scratch = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-upload-"));
        const file = path.join(scratch, name);
        await receiveBody(req, file, deps.maxBytes);
        // What the body expands to (decompressed, Parquet's encoded rows) is held to the same limit.
        const plain = await expandUpload(file, name, format, deps.maxBytes);
        return deps.ingestion.materializeUpload(plain.file, format, name);
      });
      const result = await runMutation(ctx, scope, async (tx) => {
        const r = await deps.datasets.registerVersion(tx, dataset!.id, data, {});
        return { value: r, targetId: r.version.id, result: { versionId: r.version.id, version: r.version.version, created: r.created } };
      });
      res.status(result.created ? 201 : 200).json({
        versionId: result.version.id,
        version: result.version.version,
        created: result.created,
        rowCount: Number(result.version.rowCount),
      });
    } catch (err) {
      if (err instanceof SchemaPolicyError) {
        res
          .status(409)
          .json({ error: { code: err.code, message: err.message, policy: err.policy, violations: err.violations, diff: err.diff } });
      } else sendError(res, err, deps.log);
    } finally {
      if (scratch) await fs.rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  });
}
