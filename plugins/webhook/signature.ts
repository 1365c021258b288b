import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric scheme): the content
 * signed is `<webhook-id>.<webhook-timestamp>.<body>`, with HMAC-SHA256 keyed by the secret's
 * bytes; the `webhook-signature` header is a space-separated list of `v1,<base64 signature>`.
 * Pure: no I/O. Receivers may import `verifyWebhook` from here (or copy the few lines of it).
 */

/** The secret's text form: `whsec_` then base64 of 24 to 64 random bytes. */
export const SECRET_PREFIX = "whsec_";
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
/** Timestamps further than this from the receiver's clock are refused (replays, skew). @default 5 minutes */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** Why a secret is not a Standard Webhooks secret, or undefined when it is one. Never echoes the value. */
export function secretProblem(secret: string): string | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return `must start with ${SECRET_PREFIX} (a Standard Webhooks secret)`;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return `must be ${SECRET_PREFIX} followed by base64`;
  const n = Buffer.from(b64, "base64").length;
  if (n < MIN_SECRET_BYTES || n > MAX_SECRET_BYTES) return `must hold ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes (it holds ${n})`;
  return undefined;
}

/** The HMAC key of a `whsec_` secret. @throws Error when the secret is malformed. */
export function secretKey(secret: string): Buffer {
  const problem = secretProblem(secret);
  if (problem) throw new Error(`Webhook secret ${problem}`);
  return Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
}

/** A new random secret, e.g. for `openssl rand -base64 32`'s role in a setup script or a test. */
export function generateSecret(bytes = 32): string {
  return SECRET_PREFIX + Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString("base64");
}

/** The base64 HMAC-SHA256 of `id.timestamp.body`. */
function hmac(key: Buffer, id: string, timestamp: number, body: string | Buffer): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** The `webhook-signature` header value for one message: `v1,<base64>`. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${hmac(secretKey(secret), id, timestamp, body).toString("base64")}`;
}

/** A webhook that does not verify; `reason` says which check failed. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: "MISSING_HEADER" | "BAD_TIMESTAMP" | "TIMESTAMP_OUT_OF_TOLERANCE" | "NO_MATCHING_SIGNATURE",
    message: string,
  ) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export interface VerifyOptions {
  /** Seconds the timestamp may differ from `now`. @default 300 */
  toleranceSeconds?: number;
  /** The receiver's clock, in seconds since the epoch. @default Date.now() / 1000 */
  now?: number;
}

/** Header lookup that accepts Node's `IncomingHttpHeaders`, a fetch `Headers`, or a plain record. */
type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const v = rec[name] ?? Object.entries(rec).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Verifies a received webhook: the three headers are present, the timestamp is within the
 * tolerance of the receiver's clock (so a captured request cannot be replayed later), and one
 * of the `v1` signatures matches, compared in constant time. `body` must be the raw body as
 * received (bytes or text), not JSON parsed and serialized again.
 *
 * @returns the message id (an idempotency key: store it to drop duplicates) and the timestamp.
 * @throws WebhookVerificationError when any check fails.
 */
export function verifyWebhook(
  secret: string,
  headers: HeaderSource,
  body: string | Buffer,
  options: VerifyOptions = {},
): { id: string; timestamp: number } {
  const id = header(headers, "webhook-id");
  const ts = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !ts || !signatures)
    throw new WebhookVerificationError("MISSING_HEADER", "webhook-id, webhook-timestamp and webhook-signature are required");
  if (!/^\d{1,12}$/.test(ts))
    throw new WebhookVerificationError("BAD_TIMESTAMP", "webhook-timestamp must be whole seconds since the epoch");
  const timestamp = Number(ts);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError("TIMESTAMP_OUT_OF_TOLERANCE", `webhook-timestamp is more than ${tolerance} s from now`);
  }
  const expected = hmac(secretKey(secret), id, timestamp, body);
  for (const part of signatures.split(" ")) {
    const [version, sig] = part.split(",", 2);
    if (version !== "v1" || !sig) continue;
    const given = Buffer.from(sig, "base64");
    // timingSafeEqual needs equal lengths; a length mismatch says nothing about the key.
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { id, timestamp };
  }
  throw new WebhookVerificationError("NO_MATCHING_SIGNATURE", "no v1 signature matches");
}
