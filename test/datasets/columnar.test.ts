import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SluiceError } from "../../src/kernel/errors";
import { profileParquet } from "../../src/datasets/columnar/profile";
import { materializeFiles } from "../../src/datasets/columnar/read";
import type { FileSourceConfig } from "../../src/datasets/types";
import { assertNames } from "../helpers/names";

/** A small deterministic generator, so the data (and the expected figures) are the same each run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("reading and profiling files with DuckDB", () => {
  let dir: string;
  let out: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-columnar-"));
    out = path.join(dir, "out");
    fs.mkdirSync(out);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string | Buffer) => {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };
  const read = (config: Omit<FileSourceConfig, "kind">, name = "x.parquet") =>
    materializeFiles({ kind: "FILE", ...config }, path.join(out, name), { roots: [dir] });
  /** A BAD_USER_INPUT refusal whose message names `names`. */
  const inputError = async (p: Promise<unknown>, ...names: string[]) =>
    assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof SluiceError, String(err));
      assert.equal(err.code, "BAD_USER_INPUT");
      assertNames(err.message, ...names);
      return true;
    });

  it("profiles a column exactly as an independent computation does", async () => {
    const rand = prng(7);
    const cities = ["Oslo", "Bergen", "Trondheim", "Tromsø"];
    const rows: Array<{ x: number | null; city: string }> = [];
    for (let i = 0; i < 2000; i++) {
      const x = i % 50 === 0 ? null : Math.round((rand() * 100 + rand() * 50) * 1000) / 1000;
      rows.push({ x, city: cities[Math.floor(rand() * rand() * cities.length)] });
    }
    const file = write("profile.csv", "x,city\n" + rows.map((r) => `${r.x ?? ""},${r.city}`).join("\n") + "\n");
    const read1 = await read({ paths: [file], format: "csv" }, "profile.parquet");
    assert.equal(read1.rowCount, 2000);
    const profile = await profileParquet(path.join(out, "profile.parquet"));
    const xs = rows.map((r) => r.x).filter((v): v is number => v !== null);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    const min = Math.min(...xs);
    const max = Math.max(...xs);
    const x = profile.columns.find((c) => c.name === "x")!;
    assert.equal(x.kind, "numeric");
    assert.equal(x.count, xs.length);
    assert.equal(x.nullCount, 40);
    assert.ok(Math.abs(x.mean! - mean) < 1e-9, `mean ${x.mean} vs ${mean}`);
    assert.ok(Math.abs(x.std! - std) < 1e-9, `std ${x.std} vs ${std}`);
    assert.equal(x.min, min);
    assert.equal(x.max, max);
    const distinct = new Set(xs).size;
    assert.ok(Math.abs(x.distinctEstimate - distinct) / distinct < 0.05, `distinct ${x.distinctEstimate} vs ${distinct}`);
    // The same bins computed here: 20 equal widths, the maximum in the last.
    const width = (max - min) / 20;
    const expected = new Array(20).fill(0);
    for (const v of xs) expected[Math.min(Math.floor((v - min) / width), 19)]++;
    assert.deepEqual(
      x.histogram.map((b) => b.count),
      expected,
    );
    assert.equal(x.histogram[0].lower, min);
    assert.equal(x.histogram[19].upper, max);
    const sorted = [...xs].sort((a, b) => a - b);
    for (const { q, value } of x.quantiles) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))];
      assert.ok(Math.abs(value - exact) <= 0.02 * (max - min), `q${q}: ${value} vs ${exact}`);
    }
    const city = profile.columns.find((c) => c.name === "city")!;
    assert.equal(city.kind, "categorical");
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.city, (counts.get(r.city) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([value, count]) => ({ value, count }));
    assert.deepEqual(city.topValues, top);
  });

  it("reads globs and Hive-partitioned folders, and JSON Lines", async () => {
    write("parts/month=1/a.csv", "k,v\na,1\nb,2\n");
    write("parts/month=2/b.csv", "k,v\nc,3\n");
    const hive = await read({ paths: ["parts"], format: "csv", hivePartitioning: true }, "hive.parquet");
    assert.equal(hive.rowCount, 3);
    assert.equal(hive.files.length, 2);
    assert.ok(hive.schema.some((c) => c.name === "month"));
    const glob = await read({ paths: ["parts/*/*.csv"], format: "csv" }, "glob.parquet");
    assert.equal(glob.rowCount, 3);
    const jsonl = write("events.jsonl", '{"id":1,"tag":"x"}\n{"id":2,"tag":null}\n');
    const json = await read({ paths: [jsonl], format: "jsonl" }, "json.parquet");
    assert.equal(json.rowCount, 2);
    assert.deepEqual(
      json.schema.map((c) => c.name),
      ["id", "tag"],
    );
  });

  it("writes the same bytes for the same data, so versions can be addressed by content", async () => {
    const file = write("same.csv", "a,b\n1,x\n2,y\n");
    await read({ paths: [file], format: "csv" }, "same1.parquet");
    await read({ paths: [file], format: "csv" }, "same2.parquet");
    assert.deepEqual(fs.readFileSync(path.join(out, "same1.parquet")), fs.readFileSync(path.join(out, "same2.parquet")));
  });

  it("refuses a malformed Parquet file, a type clash between files, an empty file and a path outside the roots", async () => {
    await read({ paths: [write("good.csv", "n\n1\n")], format: "csv" }, "good.parquet");
    const whole = fs.readFileSync(path.join(out, "good.parquet"));
    const truncated = write("truncated.parquet", whole.subarray(0, Math.floor(whole.length / 2)));
    await inputError(read({ paths: [truncated], format: "parquet" }, "t.parquet"));
    assert.equal(fs.existsSync(path.join(out, "t.parquet")), false, "no partial output");

    write("clash/a.csv", "id,v\n1,10\n");
    write("clash/b.csv", "id,v\n2,ten\n");
    await inputError(read({ paths: ["clash/*.csv"], format: "csv" }, "c.parquet"), "v", "BIGINT", "a.csv", "VARCHAR", "b.csv");
    const empty = write("empty.csv", "");
    await inputError(read({ paths: [empty], format: "csv" }, "e.parquet"));
    await inputError(read({ paths: ["../../etc/passwd"], format: "csv" }, "p.parquet"));
    await inputError(read({ paths: ["/etc/*"], format: "csv" }, "p.parquet"));
    fs.symlinkSync("/etc", path.join(dir, "etc-link"));
    await inputError(read({ paths: ["etc-link/passwd"], format: "csv" }, "p.parquet"));
    await inputError(read({ paths: ["nothing-*.csv"], format: "csv" }, "p.parquet"), "nothing-*.csv");
  });
});
