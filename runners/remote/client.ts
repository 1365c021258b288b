/**
 * How the remote agent talks to the server: GraphQL over HTTP for the runner API, plain HTTP for
 * artifact bytes, every request with the runner's bearer token. Transient trouble — the server
 * unreachable, restarting (503), overloaded (429), failing (5xx) — is retried with exponential
 * backoff and jitter; a refused token is fatal; anything else is the caller's to handle.
 * @internal used by `runners/remote/index.ts`
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Something went wrong that may well go right later: retry. */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransientError";
  }
}

/** The server refused the token (UNAUTHENTICATED) or its permissions (FORBIDDEN): retrying cannot help. */
export class AuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

/** A GraphQL error that is neither transient nor about the token (a bug, or bad input). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The minimal logger the agent writes to (pino's shape). */
export interface AgentLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface RetryPolicy {
  /** Give up (rethrowing the last transient error) after this long; `Infinity` retries until `signal` aborts. */
  retryForMs: number;
  signal?: AbortSignal;
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** The agent's connection to one server. */
export class AgentClient {
  readonly origin: URL;

  constructor(
    server: string,
    private readonly token: string,
    private readonly log: AgentLogger,
    private readonly maxBackoffMs: number,
  ) {
    // `--server` may be given as the GraphQL endpoint too (as the CLI accepts): the API's
    // routes all hang off the folder above it.
    const base = server.replace(/\/+$/, "").replace(/\/graphql$/, "");
    this.origin = new URL(`${base}/`);
  }

  /** `path` (absolute, like `/graphql`) against the server's origin, keeping a path prefix of `--server`. */
  url(path: string): URL {
    return new URL(path.replace(/^\//, ""), this.origin);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  /**
   * Runs `attempt` until it succeeds, retrying TransientErrors with backoff (200 ms doubling up
   * to `maxBackoffMs`, full jitter) for as long as `policy` allows. Other errors pass through.
   */
  async retrying<T>(what: string, policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + policy.retryForMs;
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof TransientError) || policy.signal?.aborted) throw err;
        const delay = Math.random() * Math.min(this.maxBackoffMs, 200 * 2 ** Math.min(n, 16));
        if (Date.now() + delay > giveUpAt) throw err;
        if (n === 0 || n % 10 === 9)
          this.log.warn({ err: err.message, retryInMs: Math.round(delay) }, `${what}: server unreachable; retrying`);
        try {
          await sleep(delay, undefined, { signal: policy.signal });
        } catch {
          throw err; // aborted while waiting
        }
      }
    }
  }

  /** Sends one GraphQL operation; returns `data`. */
  async gql<T = Record<string, any>>(query: string, variables: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url("/graphql"), {
        method: "POST",
        headers: this.headers({ "content-type": "application/json" }),
        body: JSON.stringify({ query, variables }),
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new TransientError(`cannot reach ${this.origin.origin}: ${causeOf(err)}`, { cause: err });
    }
    let body: { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> } | undefined;
    try {
      body = (await res.json()) as typeof body;
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new TransientError(`the server answered ${res.status} without a GraphQL body`, { cause: err });
    }
    const first = body?.errors?.[0];
    const code = first?.extensions?.code ?? "";
    if (res.status === 401 || code === "UNAUTHENTICATED" || code === "FORBIDDEN") {
      throw new AuthError(code || "UNAUTHENTICATED", first?.message ?? `HTTP ${res.status}`);
    }
    if (TRANSIENT_STATUS.has(res.status) || code === "RATE_LIMITED" || code === "INTERNAL") {
      throw new TransientError(`the server answered ${res.status}${first ? `: ${first.message}` : ""}`);
    }
    if (first || !body?.data) throw new ApiError(code || "UNKNOWN", first?.message ?? `HTTP ${res.status} without data`);
    return body.data;
  }

  /** `GET path` as a byte stream; a non-2xx answer throws (transient for 5xx and 429). */
  async download(path: string, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.url(path), { headers: this.headers(), signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new TransientError(`cannot reach ${this.origin.origin}: ${causeOf(err)}`, { cause: err });
    }
    if (res.ok && res.body) return res;
    const problem = await problemOf(res);
    if (TRANSIENT_STATUS.has(res.status)) throw new TransientError(`download ${path}: ${res.status} ${problem.message}`);
    if (res.status === 401) throw new AuthError("UNAUTHENTICATED", problem.message);
    throw new ApiError(problem.code, `download ${path}: ${res.status} ${problem.message}`);
  }

  /**
   * `PUT path` with a streamed body made by `body()` (called again for each retry). Resolves the
   * JSON answer of a 2xx; otherwise throws, with the answer's `error` fields on an ApiError.
   */
  async upload(
    path: string,
    contentType: string,
    body: () => ReadableStream<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await fetch(this.url(path), {
        method: "PUT",
        headers: this.headers({ "content-type": contentType }),
        body: body(),
        signal,
        duplex: "half",
      } as RequestInit);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new TransientError(`cannot reach ${this.origin.origin}: ${causeOf(err)}`, { cause: err });
    }
    if (res.ok) return (await res.json()) as Record<string, unknown>;
    const problem = await problemOf(res);
    if (TRANSIENT_STATUS.has(res.status)) throw new TransientError(`upload: ${res.status} ${problem.message}`);
    if (res.status === 401) throw new AuthError("UNAUTHENTICATED", problem.message);
    throw Object.assign(new ApiError(problem.code, problem.message), { status: res.status, details: problem });
  }
}

async function problemOf(res: Response): Promise<{ code: string; message: string; reason?: string }> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; reason?: string } };
    return { code: body.error?.code ?? String(res.status), message: body.error?.message ?? res.statusText, reason: body.error?.reason };
  } catch {
    return { code: String(res.status), message: res.statusText };
  }
}

/** The useful part of a fetch failure (undici hides the system error in `cause`). */
function causeOf(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
