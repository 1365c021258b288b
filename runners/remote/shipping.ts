/**
 * What a running stage reports, shipped to the server in batches: log lines as chunks through
 * `appendStageLogs` (every 200 ms, or sooner at 256 KiB), metric points through `logMetrics`
 * (every 500 ms, or at 1,000 points). Batches go one after another, so the server stores them in
 * the order the stage wrote them. Reporter calls never block or throw (the runner contract).
 * @internal used by `runners/remote/index.ts`
 */
import { appendStageLogs, logMetrics } from "./api";
import type { AgentClient, AgentLogger } from "./client";

/** A line longer than this is cut (the process runner cuts at 64 KiB too). */
const MAX_LINE_BYTES = 64 * 1024;
const LOG_FLUSH_MS = 200;
const LOG_FLUSH_BYTES = 256 * 1024;
/** The server's limits: chunks per call, bytes per chunk. */
const MAX_CHUNKS = 100;
const MAX_CHUNK_BYTES = 200 * 1024;
const METRIC_FLUSH_MS = 500;
const METRIC_FLUSH_POINTS = 1000;
/** How long a batch is retried while the server is unreachable before it is dropped. */
const SHIP_RETRY_MS = 30_000;

interface Chunk {
  stream: "stdout" | "stderr";
  text: string;
  bytes: number;
}

/** One attempt's log lines on their way to the server. */
export class LogShipper {
  private pending: Chunk[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lost = false;

  constructor(
    private readonly client: AgentClient,
    private readonly task: { stageRunId: string; epoch: number },
    private readonly log: AgentLogger,
    /** Called once when the server says the lease is gone. */
    private readonly onLeaseLost: () => void,
  ) {}

  write(stream: "stdout" | "stderr", line: string): void {
    if (this.lost) return;
    let text = line;
    if (Buffer.byteLength(text) > MAX_LINE_BYTES) {
      const cut = Buffer.from(text).subarray(0, MAX_LINE_BYTES).toString("utf8");
      text = `${cut}… [truncated ${Buffer.byteLength(text) - Buffer.byteLength(cut)} bytes]`;
    }
    text += "\n";
    const bytes = Buffer.byteLength(text);
    const last = this.pending[this.pending.length - 1];
    if (last && last.stream === stream && last.bytes + bytes <= MAX_CHUNK_BYTES) {
      last.text += text;
      last.bytes += bytes;
    } else this.pending.push({ stream, text, bytes });
    this.pendingBytes += bytes;
    if (this.pendingBytes >= LOG_FLUSH_BYTES || this.pending.length >= MAX_CHUNKS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), LOG_FLUSH_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0, MAX_CHUNKS);
    this.pendingBytes -= batch.reduce((n, c) => n + c.bytes, 0);
    if (this.pending.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    this.chain = this.chain.then(() => this.send(batch));
  }

  private async send(batch: Chunk[]): Promise<void> {
    if (this.lost) return;
    try {
      const answer = await this.client.retrying("append logs", { retryForMs: SHIP_RETRY_MS }, () =>
        appendStageLogs(
          this.client,
          this.task.stageRunId,
          this.task.epoch,
          batch.map((c) => ({ stream: c.stream, text: c.text })),
        ),
      );
      if (answer === "lost" && !this.lost) {
        this.lost = true;
        this.onLeaseLost();
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, stageRunId: this.task.stageRunId }, "could not ship a stage's log lines; dropped them");
    }
  }

  /** Ships what is left; resolves when every batch has been answered. */
  async close(): Promise<void> {
    while (this.pending.length > 0) this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }
}

/** One attempt's metric points on their way to the server. */
export class MetricShipper {
  private points: Array<{ key: string; value: number; step?: number; timestamp: string }> = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: AgentClient,
    private readonly task: { runId: string; stageRunId: string },
    private readonly log: AgentLogger,
  ) {}

  add(key: string, value: number, step?: number): void {
    this.points.push(
      step === undefined ? { key, value, timestamp: new Date().toISOString() } : { key, value, step, timestamp: new Date().toISOString() },
    );
    if (this.points.length >= METRIC_FLUSH_POINTS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), METRIC_FLUSH_MS);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.points.length === 0) return;
    const batch = this.points;
    this.points = [];
    this.chain = this.chain.then(async () => {
      try {
        await this.client.retrying("log metrics", { retryForMs: SHIP_RETRY_MS }, () =>
          logMetrics(this.client, this.task.runId, this.task.stageRunId, batch),
        );
      } catch (err) {
        this.log.warn(
          { err: (err as Error).message, stageRunId: this.task.stageRunId },
          "could not ship a stage's metric points; dropped them",
        );
      }
    });
  }

  async close(): Promise<void> {
    this.flush();
    await this.chain;
  }
}
