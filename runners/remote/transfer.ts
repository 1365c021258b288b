/**
 * Artifact bytes on the agent's side: inputs downloaded once into a content-addressed cache
 * (checked against their hash before use), outputs uploaded as raw bytes (a file) or a gzipped
 * tar stream (a folder). runners/PROTOCOL.md ("Remote agent") describes the endpoints.
 * @internal used by `runners/remote/index.ts`
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import * as tar from "tar";
import { hashPath } from "../../src/artifacts/hash";
import { removeTree } from "../../src/artifacts/tree";
import type { LeasedInput, UploadedOutput } from "./wire";
import { ApiError, type AgentClient } from "./client";

/** Downloaded inputs, by content hash: `<dir>/<64 hex>`, a file or a folder. Shared by every attempt. */
export class InputCache {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly client: AgentClient,
    private readonly dir: string,
  ) {}

  /** The local path of `input`, downloading and checking it first unless the cache holds it. */
  async fetch(input: LeasedInput, signal: AbortSignal): Promise<string> {
    const hex = /^sha256:([0-9a-f]{64})$/.exec(input.hash)?.[1];
    if (!hex) throw new Error(`input ${input.name} has a malformed hash ${JSON.stringify(input.hash)}`);
    const final = path.join(this.dir, hex);
    if (await exists(final)) return final;
    let pending = this.inflight.get(hex);
    if (!pending) {
      pending = this.download(input, final, signal).finally(() => this.inflight.delete(hex));
      this.inflight.set(hex, pending);
    }
    return pending;
  }

  private async download(input: LeasedInput, final: string, signal: AbortSignal): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true });
    const staged = path.join(this.dir, `.tmp-${randomUUID()}`);
    try {
      await this.client.retrying(`download input ${input.name}`, { retryForMs: 60_000, signal }, async () => {
        await removeTree(staged);
        const res = await this.client.download(input.downloadUrl, signal);
        const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
        if (input.isDirectory) {
          await fs.mkdir(staged);
          const unpack = tar.x({ cwd: staged, strict: true, preserveOwner: false });
          await new Promise<void>((resolve, reject) => {
            unpack.on("error", reject);
            unpack.on("close", () => resolve());
            body.on("error", reject);
            body.pipe(unpack as unknown as NodeJS.WritableStream);
          });
        } else await pipeline(body, createWriteStream(staged));
      });
      const got = await hashPath(staged);
      if (got.hash !== input.hash) {
        throw new Error(`input ${input.name} (artifact ${input.artifactId}) downloaded as ${got.hash}, not ${input.hash}`);
      }
      try {
        await fs.rename(staged, final);
      } catch (err) {
        // Another attempt placed the same content first.
        if (!(await exists(final))) throw err;
      }
      return final;
    } finally {
      await removeTree(staged).catch(() => undefined);
    }
  }
}

/** Why an output could not be uploaded, and whether trying again could help. */
export class UploadRefused extends Error {
  constructor(
    message: string,
    readonly type: "OUTPUT_REFUSED" | "OUTPUT_TOO_LARGE" | "LEASE_LOST",
  ) {
    super(message);
  }
}

/**
 * Uploads the output at `localPath` for lease `epoch` of `stageRunId`; resolves what the server
 * stored. Retries while the server is unreachable (for up to `retryForMs`).
 * @throws UploadRefused when the server refuses it (a link inside, too large, the lease lost)
 */
export async function uploadOutput(
  client: AgentClient,
  task: { stageRunId: string; epoch: number },
  name: string,
  localPath: string,
  metadata: Record<string, unknown> | undefined,
  retryForMs: number,
): Promise<UploadedOutput> {
  const st = await fs.lstat(localPath);
  if (!st.isFile() && !st.isDirectory()) throw new UploadRefused(`output ${name} is neither a file nor a folder`, "OUTPUT_REFUSED");
  const url = `/artifacts/uploads?stageRunId=${encodeURIComponent(task.stageRunId)}&epoch=${task.epoch}`;
  const body = (): ReadableStream<Uint8Array> => {
    const source = st.isDirectory()
      ? Readable.from(tar.c({ cwd: localPath, portable: true, gzip: true }, ["."]))
      : createReadStream(localPath);
    return Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>;
  };
  let answer: Record<string, unknown>;
  try {
    answer = await client.retrying(`upload output ${name}`, { retryForMs }, () =>
      client.upload(url, st.isDirectory() ? "application/x-tar" : "application/octet-stream", body),
    );
  } catch (err) {
    if (err instanceof ApiError) {
      const status = (err as ApiError & { status?: number }).status;
      const reason = (err as ApiError & { details?: { reason?: string } }).details?.reason;
      if (reason === "LEASE_LOST" || reason === "NOT_RUNNING") throw new UploadRefused(err.message, "LEASE_LOST");
      throw new UploadRefused(`output ${name}: ${err.message}`, status === 413 ? "OUTPUT_TOO_LARGE" : "OUTPUT_REFUSED");
    }
    throw err;
  }
  return {
    name,
    hash: String(answer.hash),
    uri: String(answer.uri),
    size: Number(answer.size),
    isDirectory: Boolean(answer.isDirectory),
    ...(metadata ? { metadata } : {}),
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}
