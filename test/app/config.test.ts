import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/app/config";

/** Asserts that `env` is refused with a ConfigError whose message names `variable`. */
function assertRefused(env: Record<string, string>, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `${JSON.stringify(env)} should throw a ConfigError, got ${String(caught)}`);
  assert.equal(caught.name, "ConfigError");
  assert.ok(caught.message.includes(variable), `the message should name ${variable}: ${caught.message}`);
  return caught;
}

describe("loadConfig", () => {
  it("uses the documented defaults when the environment is empty", () => {
    const c = loadConfig({});
    assert.equal(c.port, 4000);
    assert.equal(c.host, "0.0.0.0");
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.dataDir, path.resolve(".sluice"));
    assert.equal(c.mode, "development");
    assert.equal(c.introspection, true);
    assert.equal(c.adminToken, undefined);
    assert.equal(c.bodyLimitBytes, 1024 * 1024);
    assert.equal(c.maxQueryDepth, 12);
    assert.equal(c.maxQueryCost, 10_000);
    assert.equal(c.rateLimitPerSecond, 100);
    assert.equal(c.rateLimitBurst, 200);
    assert.deepEqual([...c.publicEndpoints].sort(), ["healthz", "metrics", "readyz"]);
    assert.equal(c.logLevel, "info");
    assert.equal(c.shutdownTimeoutMs, 10_000);
    assert.equal(c.dbPoolSize, 10);
  });

  it("treats empty variables as unset", () => {
    const c = loadConfig({
      PORT: "",
      SLUICE_BODY_LIMIT: "",
      SLUICE_INTROSPECTION: "",
      SLUICE_PUBLIC_ENDPOINTS: "",
      SLUICE_ADMIN_TOKEN: "",
      DATABASE_URL: "",
    });
    assert.equal(c.port, 4000);
    assert.equal(c.bodyLimitBytes, 1024 * 1024);
    assert.equal(c.introspection, true);
    assert.equal(c.publicEndpoints.size, 3);
    assert.equal(c.adminToken, undefined);
    assert.equal(c.databaseUrl, undefined);
  });

  it("returns a frozen object", () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { port: number }).port = 1;
    }, TypeError);
  });

  it("reads every setting from the environment", () => {
    const c = loadConfig({
      PORT: "8080",
      HOST: "127.0.0.1",
      DATABASE_URL: "postgres://u@db:5432/sluice",
      SLUICE_DATA_DIR: "memory://",
      SLUICE_ADMIN_TOKEN: "a".repeat(24),
      SLUICE_BODY_LIMIT: "512kb",
      SLUICE_MAX_DEPTH: "7",
      SLUICE_MAX_COST: "250",
      SLUICE_RATE_LIMIT: "0",
      SLUICE_RATE_LIMIT_BURST: "5",
      SLUICE_PUBLIC_ENDPOINTS: "healthz, metrics",
      LOG_LEVEL: "warn",
      SLUICE_SHUTDOWN_TIMEOUT_MS: "2500",
      SLUICE_DB_POOL_SIZE: "3",
    });
    assert.equal(c.port, 8080);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.databaseUrl, "postgres://u@db:5432/sluice");
    assert.equal(c.dataDir, "memory://");
    assert.equal(c.adminToken, "a".repeat(24));
    assert.equal(c.bodyLimitBytes, 512 * 1024);
    assert.equal(c.maxQueryDepth, 7);
    assert.equal(c.maxQueryCost, 250);
    assert.equal(c.rateLimitPerSecond, 0);
    assert.equal(c.rateLimitBurst, 5);
    assert.deepEqual([...c.publicEndpoints].sort(), ["healthz", "metrics"]);
    assert.equal(c.logLevel, "warn");
    assert.equal(c.shutdownTimeoutMs, 2500);
    assert.equal(c.dbPoolSize, 3);
  });

  it("accepts body limits in bytes, kb and mb", () => {
    assert.equal(loadConfig({ SLUICE_BODY_LIMIT: "2048" }).bodyLimitBytes, 2048);
    assert.equal(loadConfig({ SLUICE_BODY_LIMIT: "4kb" }).bodyLimitBytes, 4096);
    assert.equal(loadConfig({ SLUICE_BODY_LIMIT: "2MB" }).bodyLimitBytes, 2 * 1024 * 1024);
  });

  it("reads SLUICE_INTROSPECTION as a boolean in its usual spellings", () => {
    for (const yes of ["1", "true", "YES", "on"])
      assert.equal(loadConfig({ SLUICE_INTROSPECTION: yes, NODE_ENV: "production" }).introspection, true, yes);
    for (const no of ["0", "false", "No", "off"]) assert.equal(loadConfig({ SLUICE_INTROSPECTION: no }).introspection, false, no);
  });

  it("closes every optional endpoint with SLUICE_PUBLIC_ENDPOINTS=none", () => {
    assert.equal(loadConfig({ SLUICE_PUBLIC_ENDPOINTS: "none" }).publicEndpoints.size, 0);
  });

  it("resolves a relative data directory to an absolute path and keeps memory:// as is", () => {
    assert.equal(loadConfig({ SLUICE_DATA_DIR: "some/dir" }).dataDir, path.resolve("some/dir"));
    assert.equal(loadConfig({ SLUICE_DATA_DIR: "memory://" }).dataDir, "memory://");
  });

  describe("refuses a bad value with a ConfigError naming the variable", () => {
    it("PORT=abc", () => {
      assertRefused({ PORT: "abc" }, "PORT");
    });

    it("PORT out of range", () => {
      assertRefused({ PORT: "65536" }, "PORT");
      assertRefused({ PORT: "-1" }, "PORT");
      assertRefused({ PORT: "80.5" }, "PORT");
    });

    it("SLUICE_BODY_LIMIT=lots", () => {
      assertRefused({ SLUICE_BODY_LIMIT: "lots" }, "SLUICE_BODY_LIMIT");
      assertRefused({ SLUICE_BODY_LIMIT: "0" }, "SLUICE_BODY_LIMIT");
      assertRefused({ SLUICE_BODY_LIMIT: "10 parsecs" }, "SLUICE_BODY_LIMIT");
    });

    it("SLUICE_ENDPOINT_STATS_FLUSH_MS and SLUICE_ENDPOINT_STATS_MAX_KEYS out of range", () => {
      assertRefused({ SLUICE_ENDPOINT_STATS_FLUSH_MS: "5" }, "SLUICE_ENDPOINT_STATS_FLUSH_MS");
      assertRefused({ SLUICE_ENDPOINT_STATS_FLUSH_MS: "soon" }, "SLUICE_ENDPOINT_STATS_FLUSH_MS");
      assertRefused({ SLUICE_ENDPOINT_STATS_MAX_KEYS: "0" }, "SLUICE_ENDPOINT_STATS_MAX_KEYS");
      assert.deepEqual(loadConfig({}).endpointStats, { flushMs: 5000, maxKeys: 10_000 });
      assert.deepEqual(loadConfig({ SLUICE_ENDPOINT_STATS_FLUSH_MS: "250", SLUICE_ENDPOINT_STATS_MAX_KEYS: "7" }).endpointStats, {
        flushMs: 250,
        maxKeys: 7,
      });
    });

    it("SLUICE_INTROSPECTION=maybe", () => {
      assertRefused({ SLUICE_INTROSPECTION: "maybe" }, "SLUICE_INTROSPECTION");
    });

    it("SLUICE_PUBLIC_ENDPOINTS=foo", () => {
      assertRefused({ SLUICE_PUBLIC_ENDPOINTS: "foo" }, "SLUICE_PUBLIC_ENDPOINTS");
      assertRefused({ SLUICE_PUBLIC_ENDPOINTS: "healthz,graphql" }, "SLUICE_PUBLIC_ENDPOINTS");
    });

    it("a too-short SLUICE_ADMIN_TOKEN, without echoing the token", () => {
      const secret = "short-secret-1234567890"; // 23 characters
      const err = assertRefused({ SLUICE_ADMIN_TOKEN: secret }, "SLUICE_ADMIN_TOKEN");
      assert.ok(!err.message.includes(secret), "the message must not contain the token");
      assert.equal(loadConfig({ SLUICE_ADMIN_TOKEN: `${secret}x` }).adminToken, `${secret}x`);
    });

    it("integer limits below their minimum", () => {
      assertRefused({ SLUICE_MAX_DEPTH: "0" }, "SLUICE_MAX_DEPTH");
      assertRefused({ SLUICE_MAX_COST: "many" }, "SLUICE_MAX_COST");
      assertRefused({ SLUICE_RATE_LIMIT: "-5" }, "SLUICE_RATE_LIMIT");
      assertRefused({ SLUICE_RATE_LIMIT_BURST: "1.5" }, "SLUICE_RATE_LIMIT_BURST");
      assertRefused({ SLUICE_SHUTDOWN_TIMEOUT_MS: "soon" }, "SLUICE_SHUTDOWN_TIMEOUT_MS");
      assertRefused({ SLUICE_DB_POOL_SIZE: "0" }, "SLUICE_DB_POOL_SIZE");
    });

    it("warm sandbox pool settings that are not whole numbers in range", () => {
      assertRefused({ SLUICE_SANDBOX_POOL_IDLE_MS: "1.5" }, "SLUICE_SANDBOX_POOL_IDLE_MS");
      assertRefused({ SLUICE_SANDBOX_POOL_MAX: "-1" }, "SLUICE_SANDBOX_POOL_MAX");
      assertRefused({ SLUICE_SANDBOX_POOL_PER_PROJECT: "0" }, "SLUICE_SANDBOX_POOL_PER_PROJECT");
    });

    it("a stage memory limit that is not a positive size", () => {
      assertRefused({ SLUICE_STAGE_MEMORY: "lots" }, "SLUICE_STAGE_MEMORY");
      assertRefused({ SLUICE_STAGE_MEMORY: "0" }, "SLUICE_STAGE_MEMORY");
    });
  });

  it("caps a sandboxed stage's memory at 8 GiB by default, and reads SLUICE_STAGE_MEMORY", () => {
    assert.equal(loadConfig({}).stageMemoryBytes, 8 * 1024 ** 3);
    assert.equal(loadConfig({ SLUICE_STAGE_MEMORY: "512mb" }).stageMemoryBytes, 512 * 1024 ** 2);
  });

  it("keeps a warm pool of sandboxed hosts by default, and reads its settings", () => {
    const defaults = loadConfig({});
    assert.deepEqual([defaults.sandboxPoolIdleMs, defaults.sandboxPoolMax, defaults.sandboxPoolPerProject], [60_000, 8, 2]);
    const set = loadConfig({ SLUICE_SANDBOX_POOL_IDLE_MS: "500", SLUICE_SANDBOX_POOL_MAX: "0", SLUICE_SANDBOX_POOL_PER_PROJECT: "3" });
    assert.deepEqual([set.sandboxPoolIdleMs, set.sandboxPoolMax, set.sandboxPoolPerProject], [500, 0, 3]);
  });

  it("turns introspection off by default in production, unless SLUICE_INTROSPECTION turns it on", () => {
    const prod = loadConfig({ NODE_ENV: "production" });
    assert.equal(prod.mode, "production");
    assert.equal(prod.introspection, false);
    assert.equal(loadConfig({ NODE_ENV: "production", SLUICE_INTROSPECTION: "true" }).introspection, true);
    const other = loadConfig({ NODE_ENV: "staging" });
    assert.equal(other.mode, "development");
    assert.equal(other.introspection, true);
  });

  it("lets command-line overrides win over the environment", () => {
    const env = { PORT: "5000", HOST: "10.0.0.1", SLUICE_DATA_DIR: "/from/env" };
    const c = loadConfig(env, { port: 0, host: "127.0.0.1", dataDir: "/from/flag" });
    assert.equal(c.port, 0);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.dataDir, path.resolve("/from/flag"));
    const plain = loadConfig(env, {});
    assert.equal(plain.port, 5000);
    assert.equal(plain.host, "10.0.0.1");
    assert.equal(plain.dataDir, path.resolve("/from/env"));
  });

  it("refuses an override port out of range", () => {
    assert.throws(() => loadConfig({}, { port: 70000 }), ConfigError);
  });
});
