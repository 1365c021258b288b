import "reflect-metadata";
import { createClient, type Client as WsClient } from "graphql-ws";
import WebSocket from "ws";
import { loadConfig } from "../../src/app/config";
import { createLogger } from "../../src/kernel/logger";
import { type RunningServer, startServer } from "../../src/app/server";
import type { Database } from "../../src/db/data-source";
import { createTestDatabase, type TestDatabase } from "./database";

/** A GraphQL response as the client receives it. */
export interface GqlResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data?: T;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

export interface TestServer {
  url: string;
  wsUrl: string;
  adminToken: string;
  server: RunningServer;
  /** Sends one GraphQL operation over HTTP; `token` null sends no Authorization header. */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GqlResponse<T>>;
  /** A graphql-ws client authenticated with `token` (the admin's by default). */
  ws(token?: string | null): WsClient;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Environment for `loadConfig`, over the test defaults. */
  env?: Record<string, string | undefined>;
  /** Reuse a database (to restart a server on the same data). */
  db?: Database;
  testDb?: TestDatabase;
  /** The server's logger; silent (or TEST_LOG_LEVEL) by default. */
  log?: ReturnType<typeof createLogger>;
}

/**
 * Starts a real server on a random port over a fresh database: in-memory PGlite, or a new
 * PostgreSQL database when DATABASE_URL is set. Rate limiting is off unless a test sets it.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const testDb = options.testDb ?? (await createTestDatabase());
  const adminToken = "slc_test_admin_token_0123456789abcdefghijkl";
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    SLUICE_DATA_DIR: "memory://",
    SLUICE_RATE_LIMIT: "0",
    SLUICE_ADMIN_TOKEN: adminToken,
    DATABASE_URL: testDb.url,
    // Most tests' stages touch scratch files outside their work folder: they run project code as
    // trusted, unsandboxed. test/security/stage-sandbox.test.ts and the examples turn the sandbox on.
    SLUICE_SANDBOX_BWRAP: "none",
    SLUICE_TRUSTED_CODE: "1",
    ...options.env,
  });
  const server = await startServer(config, { log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? "silent"), db: options.db });
  const wsUrl = `${server.url.replace(/^http/, "ws")}/graphql`;
  const clients: WsClient[] = [];
  return {
    url: server.url,
    wsUrl,
    adminToken: config.adminToken ?? adminToken,
    server,
    async gql(query, variables, token) {
      const useToken = token === undefined ? (config.adminToken ?? adminToken) : token;
      const res = await fetch(`${server.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(useToken ? { authorization: `Bearer ${useToken}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: any };
      return { status: res.status, headers: res.headers, data: body.data ?? undefined, errors: body.errors };
    },
    ws(token) {
      const useToken = token === undefined ? (config.adminToken ?? adminToken) : token;
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: useToken ? { authorization: `Bearer ${useToken}` } : {},
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) await c.dispose();
      await server.close();
      if (!options.testDb) await testDb.drop();
    },
  };
}

/** Unwraps a successful response, failing the test with the errors otherwise. */
export function dataOf<T = Record<string, any>>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}
