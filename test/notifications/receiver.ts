import http from "node:http";
import type { AddressInfo } from "node:net";
import { eventually } from "../helpers/eventually";

/** One request a receiver got, with the raw body as sent (what a signature covers). */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
  at: number;
}

/**
 * A real local HTTP server standing in for a webhook receiver. Each path answers with its
 * scripted statuses in turn (the last one repeating; 200 when none is scripted) and keeps what
 * it received.
 */
export class TestReceiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server!: http.Server;
  private port = 0;

  static async start(): Promise<TestReceiver> {
    const r = new TestReceiver();
    r.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "/";
        r.received.push({ path, headers: req.headers, rawBody: Buffer.concat(chunks), at: Date.now() });
        const script = r.scripts.get(path) ?? [];
        const status = script.length > 1 ? script.shift()! : (script[0] ?? 200);
        res.writeHead(status, { "content-type": "text/plain" }).end(status >= 400 ? `refused with ${status}` : "ok");
      });
    });
    await new Promise<void>((resolve) => r.server.listen(0, "127.0.0.1", resolve));
    r.port = (r.server.address() as AddressInfo).port;
    return r;
  }

  /** The URL of `path` on this receiver, answering `statuses` in turn. */
  url(path: string, statuses: number[] = []): string {
    this.scripts.set(path, [...statuses]);
    return `http://127.0.0.1:${this.port}${path}`;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  return eventually(
    async () => {
      const value = await probe();
      if (value === undefined) throw new Error(`waiting for ${what}`);
      return value;
    },
    { timeoutMs, intervalMs: 25 },
  );
}
