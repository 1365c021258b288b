import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { openSharedDatabase, type SharedDatabase } from "../helpers/shared-database";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One sample of a Prometheus text exposition. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of m[2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample named `name` whose labels include `labels`; undefined when absent. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

async function scrape(
  t: TestServer,
  token?: string,
): Promise<{ status: number; contentType: string | null; samples: Sample[]; text: string }> {
  const res = await fetch(`${t.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    samples: res.status === 200 ? parsePrometheus(text) : [],
    text,
  };
}

describe("HTTP endpoints", () => {
  let shared: SharedDatabase;
  before(async () => {
    shared = await openSharedDatabase();
  });
  after(async () => {
    await shared.close();
  });

  describe("with the default public endpoints", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ db: shared.db, testDb: shared.testDb });
    });
    after(async () => {
      await t.close();
    });

    it("answers /healthz with 200 and status ok", async () => {
      const res = await fetch(`${t.url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ok" });
    });

    it("keeps idle connections for 65 s, past a reusing client's own keep-alive (no ECONNRESET race at 5 s)", async () => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        const header = await new Promise<string | undefined>((resolve, reject) => {
          http
            .get(`${t.url}/healthz`, { agent }, (res) => {
              res.resume();
              resolve(res.headers["keep-alive"] as string | undefined);
            })
            .on("error", reject);
        });
        assert.equal(header, "timeout=65");
      } finally {
        agent.destroy();
      }
    });

    it("answers /readyz with 200 when the database answers and every migration is applied", async () => {
      const res = await fetch(`${t.url}/readyz`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { status: string; checks: Record<string, boolean> };
      assert.equal(body.status, "ready");
      assert.equal(body.checks.database, true);
      assert.equal(body.checks.migrations, true);
      assert.equal(body.checks.accepting, true);
    });

    it("serves /metrics in the Prometheus text format", async () => {
      const m = await scrape(t);
      assert.equal(m.status, 200);
      assert.match(m.contentType ?? "", /^text\/plain; version=0\.0\.4/);
      assert.match(m.text, /^# TYPE sluice_graphql_requests_total counter$/m);
      assert.match(m.text, /^# TYPE sluice_graphql_request_duration_seconds histogram$/m);
      assert.match(m.text, /^# TYPE sluice_graphql_errors_total counter$/m);
    });

    it("counts GraphQL operations and their latency by operation name", async () => {
      const before = await scrape(t);
      assert.equal(valueOf(before.samples, "sluice_graphql_requests_total", { operation: "MetricsProbe" }), undefined);
      dataOf(await t.gql(`query MetricsProbe { me { tokenId } }`));
      const once = await scrape(t);
      assert.equal(valueOf(once.samples, "sluice_graphql_requests_total", { operation: "MetricsProbe", type: "query" }), 1);
      assert.equal(valueOf(once.samples, "sluice_graphql_request_duration_seconds_count", { operation: "MetricsProbe", type: "query" }), 1);
      assert.equal(
        valueOf(once.samples, "sluice_graphql_request_duration_seconds_bucket", { operation: "MetricsProbe", type: "query", le: "+Inf" }),
        1,
      );
      const sum = valueOf(once.samples, "sluice_graphql_request_duration_seconds_sum", { operation: "MetricsProbe", type: "query" });
      assert.ok(sum !== undefined && sum > 0 && sum < 60, `duration sum ${sum}`);

      dataOf(await t.gql(`query MetricsProbe { me { tokenId } }`));
      dataOf(await t.gql(`mutation MetricsProbeWrite { createProject(input: { name: "metrics-probe" }) { __typename } }`));
      const twice = await scrape(t);
      assert.equal(valueOf(twice.samples, "sluice_graphql_requests_total", { operation: "MetricsProbe", type: "query" }), 2);
      assert.equal(
        valueOf(twice.samples, "sluice_graphql_request_duration_seconds_count", { operation: "MetricsProbe", type: "query" }),
        2,
      );
      assert.equal(valueOf(twice.samples, "sluice_graphql_requests_total", { operation: "MetricsProbeWrite", type: "mutation" }), 1);
    });

    it("counts errors by the code clients receive: UNAUTHENTICATED and BAD_USER_INPUT", async () => {
      const errorCount = (samples: Sample[], code: string) => valueOf(samples, "sluice_graphql_errors_total", { code }) ?? 0;
      const before = (await scrape(t)).samples;

      const anonymous = await t.gql(`{ me { tokenId } }`, {}, null);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
      const badPage = await t.gql(`{ projects(first: 100000) { totalCount } }`);
      assert.equal(badPage.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");

      const after = (await scrape(t)).samples;
      assert.equal(errorCount(after, "UNAUTHENTICATED") - errorCount(before, "UNAUTHENTICATED"), 1);
      assert.equal(errorCount(after, "BAD_USER_INPUT") - errorCount(before, "BAD_USER_INPUT"), 1);
    });

    it("exposes the database pool gauge and process metrics", async () => {
      dataOf(await t.gql(`{ projects { totalCount } }`));
      const { samples } = await scrape(t);
      const total = valueOf(samples, "sluice_db_pool_connections", { state: "total" });
      const idle = valueOf(samples, "sluice_db_pool_connections", { state: "idle" });
      const waiting = valueOf(samples, "sluice_db_pool_connections", { state: "waiting" });
      assert.ok(total !== undefined && total >= 1, `pool total ${total}`);
      assert.ok(idle !== undefined && idle >= 0 && idle <= total, `pool idle ${idle}`);
      assert.equal(waiting, 0);
      const cpu = samples.find((s) => /^sluice_\w*process_cpu_seconds_total$/.test(s.name));
      assert.ok(cpu && cpu.value > 0, "a process CPU counter");
      const rss = samples.find((s) => /^sluice_\w*process_resident_memory_bytes$/.test(s.name));
      assert.ok(rss && rss.value > 0, "a resident memory gauge");
      assert.ok(
        samples.some((s) => /^sluice_\w*nodejs_heap_size_used_bytes$/.test(s.name)),
        "a Node.js heap gauge",
      );
    });

    it("echoes X-Request-Id when the client sends one", async () => {
      for (const path of ["/healthz", "/readyz", "/metrics"]) {
        const res = await fetch(`${t.url}${path}`, { headers: { "x-request-id": "trace-42.a_b" } });
        await res.arrayBuffer();
        assert.equal(res.headers.get("x-request-id"), "trace-42.a_b", path);
      }
      const res = await fetch(`${t.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${t.adminToken}`, "x-request-id": "gql-req-1" },
        body: JSON.stringify({ query: "{ me { tokenId } }" }),
      });
      assert.equal(res.status, 200);
      await res.json();
      assert.equal(res.headers.get("x-request-id"), "gql-req-1");
    });

    it("generates a fresh X-Request-Id when none is sent, or the one sent is unusable", async () => {
      const a = await fetch(`${t.url}/healthz`);
      const b = await fetch(`${t.url}/healthz`);
      const c = await fetch(`${t.url}/healthz`, { headers: { "x-request-id": "has spaces and <tags>" } });
      const d = await fetch(`${t.url}/healthz`, { headers: { "x-request-id": "x".repeat(200) } });
      const ids = [a, b, c, d].map((r) => r.headers.get("x-request-id") ?? "");
      for (const id of ids) assert.match(id, UUID);
      assert.equal(new Set(ids).size, 4, "each request gets its own id");
      const gql = await t.gql(`{ me { tokenId } }`);
      assert.match(gql.headers.get("x-request-id") ?? "", UUID);
    });
  });

  describe("with SLUICE_PUBLIC_ENDPOINTS=none", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ db: shared.db, testDb: shared.testDb, env: { SLUICE_PUBLIC_ENDPOINTS: "none" } });
    });
    after(async () => {
      await t.close();
    });

    it("answers /metrics and /readyz with 401 UNAUTHENTICATED without a token", async () => {
      for (const path of ["/metrics", "/readyz"]) {
        const res = await fetch(`${t.url}${path}`);
        assert.equal(res.status, 401, path);
        const body = (await res.json()) as { error: { code: string } };
        assert.equal(body.error.code, "UNAUTHENTICATED", path);
      }
    });

    it("answers /metrics and /readyz with 401 for a token it does not know", async () => {
      for (const path of ["/metrics", "/readyz"]) {
        const res = await fetch(`${t.url}${path}`, { headers: { authorization: "Bearer slc_not_a_real_token_0000000000000000" } });
        assert.equal(res.status, 401, path);
        await res.arrayBuffer();
      }
    });

    it("answers /metrics and /readyz with 200 given a valid token", async () => {
      const metrics = await scrape(t, t.adminToken);
      assert.equal(metrics.status, 200);
      assert.ok(metrics.samples.some((s) => s.name === "sluice_db_pool_connections"));
      const ready = await fetch(`${t.url}/readyz`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(ready.status, 200);
      const body = (await ready.json()) as { checks: Record<string, boolean> };
      assert.equal(body.checks.database, true);
      assert.equal(body.checks.migrations, true);
    });

    it("keeps /healthz open without a token", async () => {
      const res = await fetch(`${t.url}/healthz`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: "ok" });
    });
  });
});
