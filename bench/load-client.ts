/**
 * A keep-alive HTTP load loop, run as a child process by bench/serving.ts so the load does not
 * share the server's event loop: `node dist/bench/load-client.js <url> <connections> <seconds> <headers-json> <body>`.
 * Each connection sends the next request when the previous answer is read; latencies are timed
 * with performance.now() (sub-millisecond, unlike autocannon's whole milliseconds). Prints one
 * JSON line: { p50, p99, rps, errors } with latencies in ms.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

const [url, connections, seconds, headersJson, body] = process.argv.slice(2);
const target = new URL(url!);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const headers = {
  ...(JSON.parse(headersJson!) as Record<string, string>),
  "content-type": "application/json",
  "content-length": String(Buffer.byteLength(body!)),
};

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent, headers }, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  const warmEnd = performance.now() + 500;
  const end = warmEnd + Number(seconds) * 1000;
  const loop = async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      const status = await once().catch(() => 0);
      const t1 = performance.now();
      if (t0 < warmEnd) continue; // the first half second opens connections and warms caches
      if (status !== 200) errors++;
      latencies.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: Number(connections) }, loop));
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))]!;
  console.log(JSON.stringify({ p50: pct(50), p99: pct(99), rps: latencies.length / Number(seconds), errors }));
  agent.destroy();
}

void main();
