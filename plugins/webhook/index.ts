import http from "node:http";
import https from "node:https";
import type { ConfigProblem, DeliveryResult, Notification, Notifier, NotifierPlugin, OutboundNetwork } from "../notifier";
import { secretProblem, signWebhook } from "./signature";

export { DEFAULT_TOLERANCE_SECONDS, WebhookVerificationError, generateSecret, signWebhook, verifyWebhook } from "./signature";

/** A webhook channel's config. */
export interface WebhookConfig {
  /** Where to POST: an http or https URL without credentials. */
  url: string;
  /** Give up on an attempt after this long (connect, send, and the receiver's answer). @default 10000 */
  timeoutMs: number;
}

/** Longest timeout a channel may set: the Standard Webhooks recommendation is 15 to 30 s. */
export const MAX_TIMEOUT_MS = 30_000;
/** Most characters of a receiver's answer kept in the delivery log, to say why it failed. */
const MAX_ERROR_BODY = 200;

/** The JSON body of every webhook: the event as it is in the stream, with its payload as `data`. */
export function webhookBody(n: Notification): string {
  const e = n.event;
  return JSON.stringify({
    id: e.id,
    type: e.type,
    timestamp: e.createdAt.toISOString(),
    projectId: e.projectId,
    subjectId: e.subjectId,
    actorId: e.actorId,
    data: e.payload,
  });
}

/** Whether an HTTP status is worth trying again: throttled (429) or a server error (5xx). */
export function retryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `Retry-After` as milliseconds: seconds, or an HTTP date. Undefined when absent or unreadable. */
function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function checkConfig(config: WebhookConfig, network: OutboundNetwork): ConfigProblem[] {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    return [{ field: "url", message: "must be an absolute http or https URL" }];
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return [{ field: "url", message: "must use http or https" }];
  if (url.username || url.password) {
    return [
      { field: "url", message: "must not hold credentials (they would be shown to every reader); receivers authenticate by the signature" },
    ];
  }
  const refused = network.hostProblem(url.hostname);
  if (refused) return [{ field: "url", message: refused }];
  return [];
}

/** Bytes of a failed attempt's answer read, at most (the rest is not waited for). */
const MAX_READ_BYTES = 4096;

interface Answer {
  status: number;
  body: string;
  retryAfter: string | null;
}

/**
 * One POST through node:http(s), whose sockets resolve names with the network's `lookup` (so the
 * address connected to is the address checked). Redirects are answers, not followed.
 */
function send(url: URL, headers: Record<string, string>, body: string, network: OutboundNetwork, signal: AbortSignal): Promise<Answer> {
  network.assertLiteralHost(url.hostname);
  const request = url.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: network.lookup,
        signal,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          res.destroy();
          const retryAfter = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            retryAfter: typeof retryAfter === "string" ? retryAfter : null,
          });
        };
        res.on("data", (chunk: Buffer) => {
          if (size >= MAX_READ_BYTES) return;
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_READ_BYTES) finish();
        });
        res.on("end", finish);
        res.on("error", finish);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Sends one signed POST; every outcome, including a timeout, a refused target or connection, is a result. */
async function post(
  config: WebhookConfig,
  secret: string,
  n: Notification,
  network: OutboundNetwork,
  signal?: AbortSignal,
): Promise<DeliveryResult> {
  const body = webhookBody(n);
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  const duration = () => Math.round(performance.now() - started);
  const timeout = AbortSignal.timeout(config.timeoutMs);
  try {
    const res = await send(
      new URL(config.url),
      {
        "content-type": "application/json",
        "user-agent": "Sluice-Webhooks/1",
        "webhook-id": n.messageId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signWebhook(secret, n.messageId, timestamp, body),
      },
      body,
      network,
      signal ? AbortSignal.any([signal, timeout]) : timeout,
    );
    if (res.status >= 200 && res.status < 300) return { ok: true, retryable: false, httpStatus: res.status, durationMs: duration() };
    const snippet = res.body.replace(/\s+/g, " ").trim().slice(0, MAX_ERROR_BODY);
    return {
      ok: false,
      retryable: retryableStatus(res.status),
      httpStatus: res.status,
      // A redirect is a failure, not followed: the receiver should update the channel's URL.
      error: `HTTP ${res.status}`,
      responseExcerpt: snippet || undefined,
      retryAfterMs: retryAfterMs(res.retryAfter),
      durationMs: duration(),
    };
  } catch (err) {
    const e = err as { code?: string; message?: string; name?: string };
    if (e.code === "ESLUICE_REFUSED_TARGET") return { ok: false, retryable: false, error: `refused: ${e.message}`, durationMs: duration() };
    const timedOut = timeout.aborted && !signal?.aborted;
    const error = timedOut
      ? `timed out after ${config.timeoutMs} ms`
      : signal?.aborted
        ? "aborted: the server is stopping"
        : `network error: ${e.code ?? e.message}`;
    return { ok: false, retryable: true, error, durationMs: duration() };
  }
}

/**
 * The signed webhook notifier: an HTTP POST of the event as JSON, signed per Standard Webhooks
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`). A 2xx answer
 * is delivered; 429, 5xx, timeouts and network errors may be retried; other answers (3xx, 4xx) are
 * final failures.
 */
export const webhookNotifier: NotifierPlugin<WebhookConfig> = {
  kind: "webhook",
  description: "HTTP POST of the event as JSON, signed per Standard Webhooks",
  configSchema: {
    type: "object",
    additionalProperties: false,
    required: ["url"],
    properties: {
      url: { type: "string", minLength: 1, maxLength: 2048 },
      timeoutMs: { type: "integer", minimum: 1000, maximum: MAX_TIMEOUT_MS, default: 10_000 },
    },
  },
  checkConfig,
  requiresSecret: true,
  checkSecret: secretProblem,
  create(config: WebhookConfig, secret: string | undefined, network: OutboundNetwork): Notifier {
    if (!secret) throw new Error("A webhook channel needs its signing secret");
    return { send: (n, signal) => post(config, secret, n, network, signal) };
  },
};

export default webhookNotifier;
