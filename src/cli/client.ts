import { createClient, type Client as WsClient } from "graphql-ws";
import WebSocket from "ws";
import { networkErrorDetail, SluiceClient as SdkClient, type GraphQLErrorEntry, type RequestFailure } from "../../packages/sdk/src/client";

/**
 * The client side of the `sluice` commands that talk to a server: connection settings, a GraphQL
 * client (the SDK's for queries and mutations over HTTP, graphql-ws for subscriptions) and the
 * errors the commands exit with. Only the public API is used.
 */

/** A failure a command reports as `sluice: <message>` (and `details`, one per line), exiting `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A usage or configuration mistake found before talking to a server: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, details: string[] = []) {
    super(message, 2, details);
    this.name = "UsageError";
  }
}

export const DEFAULT_SERVER = "http://localhost:4000";

/** The connection flags every client command takes. */
export interface ConnectionFlags {
  server?: string;
  token?: string;
  project?: string;
}

export interface ConnectionSettings {
  /** The GraphQL endpoint, `http(s)://host:port/graphql`. */
  url: string;
  /** The same endpoint for WebSocket subscriptions. */
  wsUrl: string;
  token: string;
  /** The project name, when one was given. */
  project?: string;
}

/**
 * Settings from flags, then `SLUICE_URL`, `SLUICE_TOKEN` and `SLUICE_PROJECT`. The server URL may
 * name the `/graphql` path or not.
 *
 * @throws UsageError naming the flag and the variable when the token is missing or the URL is not one.
 */
export function connectionSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  const server = (flags.server ?? env.SLUICE_URL ?? "").trim() || DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server / SLUICE_URL: "${server}" is not a URL (expected e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--server / SLUICE_URL: "${server}" is not an http:// or https:// URL`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  url.pathname = path.endsWith("/graphql") ? path : `${path}/graphql`;
  url.search = "";
  url.hash = "";
  const token = (flags.token ?? env.SLUICE_TOKEN ?? "").trim();
  if (!token) {
    throw new UsageError("no API token: pass --token or set SLUICE_TOKEN (the server prints an admin token on its first start)");
  }
  const project = (flags.project ?? env.SLUICE_PROJECT ?? "").trim() || undefined;
  const http = url.toString();
  return { url: http, wsUrl: http.replace(/^http/, "ws"), token, project };
}

/** The project name, or a usage error saying how to give one. */
export function requireProject(settings: ConnectionSettings): string {
  if (!settings.project) throw new UsageError("no project: pass --project NAME or set SLUICE_PROJECT");
  return settings.project;
}

/** The client error for the errors of a GraphQL response (the first one decides the wording). */
export function graphqlErrors(errors: readonly GraphQLErrorEntry[], server: string): CliError {
  const first = errors[0]!;
  const code = typeof first.extensions?.code === "string" ? first.extensions.code : undefined;
  const more = errors.slice(1).map((e) => e.message);
  const problems = Array.isArray(first.extensions?.problems)
    ? (first.extensions.problems as Array<{ field?: string; message?: string }>).map((p) => `${p.field}: ${p.message}`)
    : [];
  switch (code) {
    case "UNAUTHENTICATED":
      return new CliError(`${server} refused the token (--token / SLUICE_TOKEN): ${first.message}`);
    case "FORBIDDEN":
      return new CliError(`not allowed: ${first.message}`, 1, more);
    case "RATE_LIMITED":
      return new CliError(`rate limited by the server: ${first.message}`);
    case "INTERNAL":
      return new CliError(`the server failed: ${first.message} (the details are in the server's log)`);
    default:
      return new CliError(first.message, 1, [...problems, ...more]);
  }
}

/** Fields to select on a mutation's result union so that {@link unwrap} can explain its errors. */
export const ERROR_FIELDS = `__typename
  ... on Error { code message }
  ... on InvalidInputError { problems { field message } }
  ... on ConflictError { field }
  ... on NotFoundError { resourceType resourceId }`;

/** A mutation result union as selected with {@link ERROR_FIELDS}. */
export interface ResultUnion {
  __typename: string;
  message?: string;
  problems?: Array<{ field: string; message: string }>;
}

/**
 * The success member of a result union, or a CliError for its error member: an
 * `InvalidInputError` becomes one detail line per field.
 */
export function unwrap<T>(result: ResultUnion, expected: string, what: string): T {
  if (result.__typename === expected) return result as unknown as T;
  if (result.__typename === "InvalidInputError") {
    throw new CliError(
      `${what}: invalid input`,
      1,
      (result.problems ?? []).map((p) => `${p.field}: ${p.message}`),
    );
  }
  throw new CliError(`${what}: ${result.message ?? result.__typename}`);
}

export interface SubscriptionHandlers<T> {
  next(data: T): void;
  /** The subscription ended with an error (already a CliError); it is over. */
  error(err: CliError): void;
  complete?(): void;
}

/** Close codes after which reconnecting cannot help (bad token, refused operation, protocol misuse). */
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406, 4409, 4429, 4500]);

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === "object" && value !== null && "code" in value && typeof (value as { code: unknown }).code === "number";
}

/**
 * Talks to one server: queries and mutations over HTTP with the SDK's client (its request, 429
 * retries and error mapping), failures reported as {@link CliError}s with the command line's
 * hints; subscriptions over one lazy WebSocket.
 */
export class SluiceClient extends SdkClient {
  private ws: WsClient | undefined;

  constructor(readonly settings: ConnectionSettings) {
    super({ url: settings.url, token: settings.token, timeoutMs: 60_000 });
  }

  /** A failed request as the commands report it: what went wrong and which flag to check. */
  protected override failure(failure: RequestFailure): CliError {
    switch (failure.kind) {
      case "unreachable":
        return this.unreachable(failure.detail);
      case "not-graphql":
        return new CliError(
          `${this.settings.url} answered HTTP ${failure.status} without a GraphQL response; is --server / SLUICE_URL right?`,
        );
      case "no-data":
        return new CliError(`${this.settings.url} answered HTTP ${failure.status} without data`);
      case "graphql":
        return graphqlErrors(failure.errors, this.server);
    }
  }

  /**
   * Runs the mutation `field(input: $i)`, `$i` of GraphQL type `inputType`, selecting `select` on
   * its `expected` result member and {@link ERROR_FIELDS} on the others: the `expected` member, or a
   * CliError for an error member (see {@link unwrap}). Members named in `accept` come back as they are.
   */
  override async mutate<T = Record<string, any>>(
    field: string,
    inputType: string,
    input: Record<string, unknown>,
    expected: string,
    select: string,
    accept: readonly string[] = [],
  ): Promise<T> {
    const data = await this.request<Record<string, ResultUnion>>(
      `mutation($i: ${inputType}!) { ${field}(input: $i) { ${ERROR_FIELDS} ... on ${expected} { ${select} } } }`,
      { i: input },
    );
    const result = data[field]!;
    return accept.includes(result.__typename) ? (result as unknown as T) : unwrap<T>(result, expected, field);
  }

  /**
   * Subscribes over graphql-ws (the token in `connection_init`); returns a function that
   * unsubscribes. A dropped connection is retried a few times; the operation is then sent again
   * with the same variables, so a handler should skip what it has already seen (by cursor).
   */
  subscribe<T = Record<string, any>>(query: string, variables: Record<string, unknown>, handlers: SubscriptionHandlers<T>): () => void {
    let over = false;
    const unsubscribe = this.wsClient().subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (over) return;
          if (result.errors?.length) {
            over = true;
            handlers.error(graphqlErrors(result.errors as GraphQLErrorEntry[], this.server));
            return;
          }
          if (result.data) handlers.next(result.data as T);
        },
        error: (err) => {
          if (over) return;
          over = true;
          handlers.error(this.subscriptionError(err));
        },
        complete: () => {
          if (over) return;
          over = true;
          handlers.complete?.();
        },
      },
    );
    return () => {
      over = true;
      unsubscribe();
    };
  }

  /** Closes the WebSocket, if one was opened. */
  async close(): Promise<void> {
    const ws = this.ws;
    this.ws = undefined;
    if (ws) await ws.dispose();
  }

  private wsClient(): WsClient {
    this.ws ??= createClient({
      url: this.settings.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.settings.token}` },
      lazy: true,
      keepAlive: 15_000,
      retryAttempts: 5,
      shouldRetry: (e) => !(isCloseEvent(e) && FATAL_CLOSE_CODES.has(e.code)),
    });
    return this.ws;
  }

  private subscriptionError(err: unknown): CliError {
    if (Array.isArray(err)) return graphqlErrors(err as GraphQLErrorEntry[], this.server);
    if (isCloseEvent(err)) {
      if (err.code === 4401 || err.code === 4403) {
        return new CliError(`${this.server} refused the token (--token / SLUICE_TOKEN): ${err.reason || "unauthenticated"}`);
      }
      return new CliError(`the connection to ${this.settings.wsUrl} closed (${err.code}${err.reason ? `: ${err.reason}` : ""})`);
    }
    return this.unreachable(networkErrorDetail(err));
  }

  private unreachable(detail: string): CliError {
    return new CliError(`cannot reach the Sluice server at ${this.server} (${detail}); set --server or SLUICE_URL`);
  }
}
