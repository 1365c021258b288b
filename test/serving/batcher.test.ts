import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { onnx } from "onnx-proto";
import * as ort from "onnxruntime-node";
import { type BatchSettings, MicroBatcher, type RunFn } from "../../src/serving/batcher";
import { readSignature } from "../../src/registry/signature";
import { gatherModel, linearModel } from "./helpers";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A real onnxruntime session of `bytes`, with every run recorded (rows, start time) around it. */
async function recorded(bytes: Uint8Array, delayMs = 0) {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 4 });
  const runs: Array<{ rows: number; at: number }> = [];
  const run: RunFn = async (feeds, fetches) => {
    runs.push({ rows: Number(Object.values(feeds)[0]!.dims[0]), at: performance.now() });
    if (delayMs) await sleep(delayMs); // a slow model: requests pile up behind a run
    return session.run(feeds, fetches);
  };
  return { session, runs, run, signature: readSignature(bytes) };
}

const X = (rows: number[][]) => ({ X: new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]) });

describe("the micro-batcher", () => {
  const sessions: ort.InferenceSession[] = [];
  after(async () => {
    for (const s of sessions) await s.release();
  });

  async function batcher(bytes: Uint8Array, settings: BatchSettings, delayMs = 0) {
    const r = await recorded(bytes, delayMs);
    sessions.push(r.session);
    const observed: Array<[number, number]> = [];
    return { ...r, observed, b: new MicroBatcher(r.run, r.signature, settings, (rows, reqs) => observed.push([rows, reqs])) };
  }

  it("merges concurrent requests into one run and gives each its own rows back exactly", async () => {
    const { b, runs, observed } = await batcher(linearModel([1, 10], 0), { maxBatchRows: 64, maxWaitMs: 50 }, 20);
    // 20 requests of 1–3 rows each, sent together; row r of request k is [k, r] → k + 10·r.
    const requests = Array.from({ length: 20 }, (_, k) => Array.from({ length: 1 + (k % 3) }, (_, r) => [k, r]));
    const answers = await Promise.all(requests.map((rows) => b.submit(X(rows), ["variable"])));
    answers.forEach((out, k) => {
      const t = out.variable as ort.Tensor;
      assert.deepEqual(t.dims, [requests[k]!.length, 1]);
      assert.deepEqual(
        Array.from(t.data as Float32Array),
        requests[k]!.map(([kk, r]) => kk! + 10 * r!),
      );
    });
    // The first went alone (nothing was running); the other 19 waited for it and went together.
    assert.equal(runs.length, 2, JSON.stringify(runs));
    assert.deepEqual(observed[1], [requests.slice(1).reduce((s, r) => s + r.length, 0), 19]);
    assert.equal(b.stats.batchedRuns, 1);
  });

  it("keeps every run within maxBatchRows, and a request at the limit runs alone", async () => {
    const { b, runs } = await batcher(linearModel([1, 1], 0), { maxBatchRows: 8, maxWaitMs: 1000 }, 15);
    const requests = Array.from({ length: 12 }, (_, k) => [
      [k, 0],
      [k, 1],
      [k, 2],
    ]);
    const big = Array.from({ length: 9 }, (_, r) => [100, r]);
    const answers = await Promise.all([...requests, big].map((rows) => b.submit(X(rows), ["variable"])));
    assert.ok(
      runs.every((r) => r.rows <= 8 || r.rows === 9),
      JSON.stringify(runs),
    );
    assert.ok(
      runs.some((r) => r.rows === 6),
      "two 3-row requests shared a run",
    );
    assert.equal(runs.filter((r) => r.rows === 9).length, 1, "the 9-row request ran alone");
    assert.equal(runs.length < 13, true, `${runs.length} runs for 13 requests`);
    answers
      .slice(0, 12)
      .forEach((out, k) => assert.deepEqual(Array.from((out.variable as ort.Tensor).data as Float32Array), [k, k + 1, k + 2]));
  });

  it("sends a waiting batch after maxWaitMs even while a slow run is still in flight", async () => {
    const { b, runs } = await batcher(linearModel([1, 1], 0), { maxBatchRows: 64, maxWaitMs: 30 }, 400);
    const started = performance.now();
    const first = b.submit(X([[1, 1]]), ["variable"]);
    await sleep(5); // time must pass: the later requests are submitted while the first run is in flight
    const submitted = performance.now();
    const second = b.submit(X([[2, 2]]), ["variable"]);
    const third = b.submit(X([[3, 3]]), ["variable"]);
    await Promise.all([first, second, third]);
    assert.equal(runs.length, 2, JSON.stringify(runs));
    const waited = runs[1]!.at - submitted;
    assert.ok(
      waited >= 25 && waited < 200,
      `the second batch went ${waited.toFixed(1)} ms after its first request (max wait 30 ms; the first run took 400)`,
    );
    assert.equal(runs[1]!.rows, 2);
    assert.ok(performance.now() - started < 800, "the second batch did not wait for the first run to end");
  });

  it("runs requests alone when their non-batch dimensions differ, or the model has a fixed batch dimension", async () => {
    const { b, runs } = await batcher(linearModel([1, 1], 0), { maxBatchRows: 64, maxWaitMs: 20 }, 10);
    // Same model, but one request feeds X as [1, 2] and another as [2, 2]: same non-batch dims, one batch;
    // a string of requests on a fixed-batch model never merges.
    await Promise.all([
      b.submit(X([[1, 1]]), ["variable"]),
      b.submit(X([[1, 1]]), ["variable"]),
      b.submit(
        X([
          [2, 2],
          [3, 3],
        ]),
        ["variable"],
      ),
    ]);
    assert.equal(runs.length, 2);

    const fixed = onnx.ModelProto.decode(linearModel([1, 1], 0));
    fixed.graph!.input![0]!.type!.tensorType!.shape!.dim![0] = { dimValue: 1 };
    fixed.graph!.output![0]!.type!.tensorType!.shape!.dim![0] = { dimValue: 1 };
    const bytes = onnx.ModelProto.encode(fixed).finish();
    const f = await batcher(bytes, { maxBatchRows: 64, maxWaitMs: 20 }, 10);
    const outs = await Promise.all([1, 2, 3].map((k) => f.b.submit(X([[k, k]]), ["variable"])));
    assert.equal(f.runs.length, 3);
    assert.deepEqual(
      outs.map((o) => (o.variable as ort.Tensor).data[0]),
      [2, 4, 6],
    );
  });

  it("falls back to running each member alone when the batch fails, so one bad request fails alone", async () => {
    const { b, runs } = await batcher(gatherModel(), { maxBatchRows: 64, maxWaitMs: 50 }, 20);
    const req = (row: number[], idx: number) => ({
      X: new ort.Tensor("float32", Float32Array.from(row), [1, 3]),
      idx: new ort.Tensor("int64", BigInt64Array.from([BigInt(idx)]), [1, 1]),
    });
    const blocker = b.submit(req([0, 0, 0], 0), ["picked"]);
    const results = await Promise.allSettled([
      b.submit(req([1, 2, 3], 0), ["picked"]),
      b.submit(req([4, 5, 6], 7), ["picked"]), // index 7 of 3 columns: onnxruntime fails the run
      b.submit(req([7, 8, 9], 2), ["picked"]),
    ]);
    await blocker;
    assert.equal(results[0]!.status, "fulfilled");
    assert.deepEqual(Array.from(((results[0] as PromiseFulfilledResult<any>).value.picked as ort.Tensor).data as Float32Array), [1]);
    assert.equal(results[1]!.status, "rejected");
    assert.equal(results[2]!.status, "fulfilled");
    assert.deepEqual(Array.from(((results[2] as PromiseFulfilledResult<any>).value.picked as ort.Tensor).data as Float32Array), [9]);
    // blocker, the failed batch of 3, then each of the 3 alone.
    assert.deepEqual(
      runs.map((r) => r.rows),
      [1, 3, 1, 1, 1],
    );
  });
});
