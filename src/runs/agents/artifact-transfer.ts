/**
 * Artifact bytes over HTTP for remote runners, beside the GraphQL API (bytes do not belong in
 * GraphQL strings):
 *
 * - `PUT /artifacts/uploads?stageRunId=<id>&epoch=<n>` — a leased stage's output, streamed: the
 *   raw bytes of a file (`Content-Type: application/octet-stream`), or a tar stream of a folder
 *   (`Content-Type: application/x-tar`, gzip inside or not). `Content-Encoding: gzip` is
 *   accepted for either. Only the holder of that lease may upload; the stream is written to a
 *   staging folder, limited to `SLUICE_UPLOAD_LIMIT` decoded bytes, then moved into the artifact
 *   store, which hashes it. Answers 201 `{ hash, uri, size, isDirectory }`, which the agent
 *   passes on in `completeStageRun`.
 * - `GET /artifacts/<id>/content` — an artifact the caller may read (READ or RUN in its
 *   project): a file's bytes, or a folder as a tar stream (gzip-encoded when the client accepts
 *   it). `X-Sluice-Hash` and `X-Sluice-Directory` say what it is.
 *
 * Both take the bearer token like `/graphql`. Refusals are JSON `{ error: { code, message } }`
 * with the HTTP status of the code.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { Express, Request, Response } from "express";
import type { Logger } from "pino";
import * as tar from "tar";
import { authenticate } from "../../kernel/authenticate";
import { Authorizer, type TokenVerifier } from "../../kernel/context";
import type { Database } from "../../db/data-source";
import type { ArtifactStore } from "../../artifacts/store";
import type { RunService } from "../run.service";
import { ErrorCode, HTTP_STATUS, InvalidInputError, NotFoundError, SluiceError } from "../../kernel/errors";
import type { RequestRateLimiter } from "../../kernel/rate-limit";
import { ArtifactRow } from "../../artifacts/artifact.entity";
import { removeTree } from "../../artifacts/tree";
import { Permission } from "../../kernel/roles";
import { type AgentService, isUuid } from "./agent.service";

export interface ArtifactTransferOptions {
  tokens: TokenVerifier;
  db: Database;
  runs: RunService;
  agents: AgentService;
  artifacts: ArtifactStore;
  limiter: RequestRateLimiter;
  log: Logger;
  /** Where uploads are written before they move into the artifact store (best on the store's filesystem). */
  stagingDir: string;
  /** Largest upload, in decoded bytes (`SLUICE_UPLOAD_LIMIT`). */
  maxBytes: number;
}

/** The media type of a folder sent as a tar stream. */
export const TAR_MEDIA_TYPE = "application/x-tar";

/** Adds the upload and download routes to `app`. */
export function registerArtifactTransfer(app: Express, options: ArtifactTransferOptions): void {
  app.put("/artifacts/uploads", (req, res) => void upload(req, res, options));
  app.get("/artifacts/:id/content", (req, res) => void download(req, res, options));
}

/** An upload over the limit. */
class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The upload is over the limit of ${limit} bytes (SLUICE_UPLOAD_LIMIT)`);
  }
}

/** Passes bytes through, failing once more than `limit` went by. */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) return done(new TooLargeError(this.limit));
    done(null, chunk);
  }
}

async function callerOf(req: Request, o: ArtifactTransferOptions): Promise<Authorizer> {
  const caller = await authenticate(o.tokens, o.limiter, {
    authorization: req.headers.authorization,
    clientAddress: req.ip ?? "unknown",
  });
  return new Authorizer(caller);
}

async function upload(req: Request, res: Response, o: ArtifactTransferOptions): Promise<void> {
  let staged: string | undefined;
  try {
    const authz = await callerOf(req, o);
    const stageRunId = typeof req.query.stageRunId === "string" ? req.query.stageRunId : "";
    const epoch = Number(req.query.epoch);
    const problems = [];
    if (!isUuid(stageRunId)) problems.push({ field: "stageRunId", message: "give the leased stage run's id as ?stageRunId=" });
    if (!Number.isInteger(epoch)) problems.push({ field: "epoch", message: "give the lease epoch as ?epoch=" });
    if (problems.length) throw new InvalidInputError(problems);
    const sr = await o.runs.stageRun(stageRunId);
    const run = sr ? await o.runs.get(sr.runId) : null;
    authz.require(Permission.RUN, run?.projectId);
    if (!sr) throw new NotFoundError("StageRun", stageRunId);
    await o.agents.checkLease(sr, epoch, { principalId: authz.caller!.principalId, isAdmin: authz.can(Permission.ADMIN) });

    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > o.maxBytes) throw new TooLargeError(o.maxBytes);
    const mediaType = (req.headers["content-type"] ?? "application/octet-stream").split(";")[0]!.trim().toLowerCase();
    const isDirectory = mediaType === TAR_MEDIA_TYPE;
    const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
    if (encoding !== "identity" && encoding !== "gzip") {
      res
        .status(415)
        .json({ error: { code: ErrorCode.BAD_USER_INPUT, message: `Content-Encoding ${encoding} is not supported; send gzip or none` } });
      return;
    }
    await fs.mkdir(o.stagingDir, { recursive: true });
    staged = path.join(o.stagingDir, randomUUID());
    const decoded: Readable = encoding === "gzip" ? req.pipe(createGunzip()) : req;
    if (encoding === "gzip") req.on("error", (err) => decoded.destroy(err));
    const limited = decoded.pipe(new SizeLimit(o.maxBytes));
    decoded.on("error", (err) => limited.destroy(err));
    if (isDirectory) await extractTree(limited, staged);
    else await pipeline(limited, createWriteStream(staged, { flags: "wx" }));
    const stored = await o.artifacts.put(staged, { move: true });
    staged = undefined;
    res.status(201).json({ hash: stored.hash, uri: stored.uri, size: stored.size, isDirectory: stored.isDirectory });
  } catch (err) {
    refuse(res, err, o.log);
  } finally {
    if (staged) await removeTree(staged).catch(() => undefined);
  }
}

/** Unpacks a tar stream into the new folder `dir`: files and folders only, nothing outside it. */
async function extractTree(source: Readable, dir: string): Promise<void> {
  await fs.mkdir(dir);
  const refused: string[] = [];
  const unpack = tar.x({
    cwd: dir,
    strict: true, // a malformed archive or an entry escaping `dir` fails the upload
    preserveOwner: false,
    noMtime: true,
    filter: (entryPath, entry) => {
      const type = (entry as tar.ReadEntry).type;
      if (type === "File" || type === "OldFile" || type === "ContiguousFile" || type === "Directory") return true;
      refused.push(`${entryPath} (${String(type)})`);
      return false;
    },
  });
  await new Promise<void>((resolve, reject) => {
    unpack.on("error", reject);
    unpack.on("close", () => resolve());
    source.on("error", reject);
    source.pipe(unpack as unknown as NodeJS.WritableStream);
  });
  if (refused.length > 0) {
    throw new InvalidInputError([
      { field: "body", message: `artifacts hold only files and folders; the archive has ${refused.slice(0, 5).join(", ")}` },
    ]);
  }
}

async function download(req: Request, res: Response, o: ArtifactTransferOptions): Promise<void> {
  try {
    const authz = await callerOf(req, o);
    const id = String(req.params.id);
    const row = isUuid(id) ? await o.db.dataSource.getRepository(ArtifactRow).findOneBy({ id }) : null;
    if (!(row && (authz.can(Permission.RUN, row.projectId) || authz.can(Permission.READ, row.projectId)))) {
      authz.require(Permission.READ, row?.projectId);
    }
    if (!row) throw new NotFoundError("Artifact", id);
    res.setHeader("X-Sluice-Hash", row.hash);
    res.setHeader("X-Sluice-Directory", String(row.isDirectory));
    if (!row.isDirectory) {
      const stream = await o.artifacts.openRead(row.uri);
      res.status(200).type("application/octet-stream").setHeader("Content-Length", row.size);
      await pipeline(stream, res);
      return;
    }
    const folder = await o.artifacts.localPath(row.uri);
    const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    res.status(200).type(TAR_MEDIA_TYPE);
    if (gzip) res.setHeader("Content-Encoding", "gzip");
    const pack = tar.c({ cwd: folder, portable: true, gzip }, ["."]);
    await pipeline(Readable.from(pack), res);
  } catch (err) {
    refuse(res, err, o.log);
  }
}

/** Answers a refusal as JSON with its status; a failure after the body started just cuts the response. */
function refuse(res: Response, err: unknown, log: Logger): void {
  if (res.headersSent) {
    log.warn({ err }, "artifact transfer failed midway");
    res.destroy();
    return;
  }
  if (err instanceof TooLargeError) {
    res.status(413).setHeader("Connection", "close");
    res.json({ error: { code: ErrorCode.BAD_USER_INPUT, reason: "UPLOAD_TOO_LARGE", message: err.message } });
    return;
  }
  if (err instanceof SluiceError) {
    if (err.code === ErrorCode.RATE_LIMITED) res.setHeader("Retry-After", String(err.details.retryAfterSeconds));
    // A LeaseLostError's details carry its `reason` (LEASE_LOST or NOT_RUNNING) and epochs.
    res.status(HTTP_STATUS[err.code]).json({ error: { ...err.details, code: err.code, message: err.message } });
    return;
  }
  const tarCode = (err as { tarCode?: unknown; code?: unknown })?.tarCode ?? (err as { code?: unknown })?.code;
  if (typeof tarCode === "string" && tarCode.startsWith("TAR_")) {
    res
      .status(400)
      .json({ error: { code: ErrorCode.BAD_USER_INPUT, reason: tarCode, message: `Not a valid tar stream: ${(err as Error).message}` } });
    return;
  }
  if ((err as { code?: unknown })?.code === "Z_DATA_ERROR") {
    res.status(400).json({ error: { code: ErrorCode.BAD_USER_INPUT, message: "The body is not valid gzip" } });
    return;
  }
  log.error({ err }, "artifact transfer failed");
  res.status(500).json({ error: { code: ErrorCode.INTERNAL, message: "Internal server error; the server logged the details" } });
}
