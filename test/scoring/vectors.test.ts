import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BIGINT, DOUBLE, DuckDBDataChunk } from "@duckdb/node-api";
import { queryJson, withDuckDb } from "../../src/datasets/columnar/duckdb";
import { scoreColumnsOf } from "../../src/scoring/columns";
import { writeColumn } from "../../src/scoring/vectors";

/** Scoring reads DuckDB vectors as typed arrays and writes whole chunks: NULLs, strings and chunk edges must survive. */
describe("scoring's typed-array vector access", () => {
  it("reads DOUBLE columns with NULLs (NaN), integer and string inputs across chunk and buffer edges", async () => {
    const rows = 5000; // more than two DuckDB chunks of 2,048
    await withDuckDb(async (conn) => {
      const result = await conn.stream(
        `SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i * 0.5 END :: DOUBLE AS x,
                CASE WHEN i % 5 = 0 THEN NULL ELSE i END :: DOUBLE AS n,
                CASE WHEN i % 3 = 0 THEN NULL ELSE 'c' || (i % 4) END :: VARCHAR AS s
         FROM range(${rows}) t(i)`,
      );
      const sig = {
        inputs: [
          { name: "x", type: "float", shape: [null, 1] },
          { name: "n", type: "int64", shape: [null, 1] },
          { name: "s", type: "string", shape: [null, 1] },
        ],
        outputs: [],
        opsets: {},
        producer: "test",
      };
      const chunkRows = 3000; // not a multiple of 2,048: fills split DuckDB chunks
      const buffers = scoreColumnsOf(sig, chunkRows);
      const got: { x: number[]; n: bigint[]; s: string[] } = { x: [], n: [], s: [] };
      let filled = 0;
      const take = () => {
        const [x, n, s] = buffers.map((b) => b.tensor(filled).data);
        got.x.push(...Array.from(x as Float32Array));
        got.n.push(...Array.from(n as BigInt64Array));
        got.s.push(...(s as string[]));
        filled = 0;
      };
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        let offset = 0;
        while (offset < chunk.rowCount) {
          const k = Math.min(chunk.rowCount - offset, chunkRows - filled);
          buffers.forEach((b, c) => b.fill(chunk, c, offset, filled, k));
          filled += k;
          offset += k;
          if (filled === chunkRows) take();
        }
      }
      take();
      assert.equal(got.x.length, rows);
      for (let i = 0; i < rows; i++) {
        if (i % 7 === 0) assert.ok(Number.isNaN(got.x[i]), `row ${i}: NULL reads as NaN`);
        else assert.equal(got.x[i], Math.fround(i * 0.5), `row ${i}`);
        assert.equal(got.n[i], i % 5 === 0 ? 0n : BigInt(i), `row ${i}`);
        assert.equal(got.s[i], i % 3 === 0 ? "" : `c${i % 4}`, `row ${i}`);
      }
    });
  });

  it("writes whole typed columns into data chunks the appender takes", async () => {
    await withDuckDb(async (conn) => {
      await conn.run(`CREATE TABLE t (p DOUBLE, k BIGINT)`);
      const appender = await conn.createAppender("t");
      const p = Float64Array.from({ length: 2048 }, (_, i) => i / 4);
      const k = BigInt64Array.from({ length: 2048 }, (_, i) => BigInt(i) * 3n);
      for (const rows of [2048, 100]) {
        const chunk = DuckDBDataChunk.create([DOUBLE, BIGINT], rows);
        writeColumn(chunk, 0, p, rows);
        writeColumn(chunk, 1, k, rows);
        appender.appendDataChunk(chunk);
      }
      appender.closeSync();
      const [summary] = await queryJson(
        conn,
        `SELECT count(*)::INT AS n, sum(p) AS sp, sum(k)::BIGINT AS sk, count(p)::INT AS valid FROM t`,
      );
      const expectP = (2047 * 2048) / 2 / 4 + (99 * 100) / 2 / 4;
      const expectK = ((2047 * 2048) / 2) * 3 + ((99 * 100) / 2) * 3;
      assert.deepEqual([summary!.n, summary!.sp, Number(summary!.sk), summary!.valid], [2148, expectP, expectK, 2148]);
    });
  });
});
