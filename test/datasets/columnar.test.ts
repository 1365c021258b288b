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
const PENGUINS = path.resolve(__dirname, "../../../node_modules/vega-datasets/data/penguins.json");

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
    const rows: Array<{ x: number | null; n: number | null; city: string }> = [];
    for (let i = 0; i < 2000; i++) {
      const x = i % 50 === 0 ? null : Math.round((rand() * 100 + rand() * 50) * 1000) / 1000;
      // An integer column with many repeats, so quantiles of values that occur can be told from interpolated ones.
      const n = i % 97 === 0 ? null : Math.floor(rand() * rand() * 400);
      rows.push({ x, n, city: cities[Math.floor(rand() * rand() * cities.length)] });
    }
    const file = write("profile.csv", "x,n,city\n" + rows.map((r) => `${r.x ?? ""},${r.n ?? ""},${r.city}`).join("\n") + "\n");
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
    assert.equal(x.distinctCount, new Set(xs).size);
    assert.equal(x.distinctExact, true);
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
    // A floating-point column's quantiles are interpolated between the two values around q·(n−1).
    const sorted = [...xs].sort((a, b) => a - b);
    assert.equal(x.quantilesExact, true);
    assert.deepEqual(
      x.quantiles.map((v) => v.q),
      [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99],
    );
    for (const { q, value } of x.quantiles) {
      const at = q * (sorted.length - 1);
      const lo = sorted[Math.floor(at)];
      const exact = lo + (at - Math.floor(at)) * (sorted[Math.ceil(at)] - lo);
      assert.ok(Math.abs(value - exact) < 1e-9, `q${q}: ${value} vs ${exact}`);
    }
    // An integer column's are values of the column: the smallest whose share of values at or below it reaches q.
    const ns = rows.map((r) => r.n).filter((v): v is number => v !== null);
    const nSorted = [...ns].sort((a, b) => a - b);
    const n = profile.columns.find((c) => c.name === "n")!;
    assert.equal(n.distinctCount, new Set(ns).size);
    assert.deepEqual(
      n.quantiles.map((v) => v.value),
      n.quantiles.map(({ q }) => nSorted[Math.max(1, Math.ceil(q * nSorted.length)) - 1]),
    );
    for (const { value } of n.quantiles) assert.ok(ns.includes(value), `${value} occurs in the data`);
    const city = profile.columns.find((c) => c.name === "city")!;
    assert.equal(city.kind, "categorical");
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.city, (counts.get(r.city) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([value, count]) => ({ value, count }));
    assert.deepEqual(city.topValues, top);
    assert.equal(city.distinctCount, cities.filter((c) => counts.has(c)).length);
    assert.equal(city.distinctExact, true);

    // Over the exact-profile bound, the same statistics are estimates, and say so.
    const estimated = await profileParquet(path.join(out, "profile.parquet"), { exactMaxRows: 1000 });
    const ex = estimated.columns.find((c) => c.name === "x")!;
    assert.equal(ex.distinctExact, false);
    assert.equal(ex.quantilesExact, false);
    assert.ok(Math.abs(ex.distinctCount - x.distinctCount) / x.distinctCount < 0.2, `estimate ${ex.distinctCount} vs ${x.distinctCount}`);
    assert.equal(ex.count, x.count, "counts stay exact");
  });

  it("reads a JSON array of objects (penguins.json) with the statistics a plain pass over its records gives", async () => {
    const text = fs.readFileSync(PENGUINS, "utf8");
    const records = JSON.parse(text) as Array<Record<string, string | number | null>>;
    const file = write("penguins.json", text);
    const read1 = await read({ paths: [file], format: "json" }, "penguins.parquet");
    assert.equal(read1.rowCount, records.length);
    assert.deepEqual(
      read1.schema.map((c) => c.name),
      Object.keys(records[0]),
    );
    assert.equal(read1.schema.find((c) => c.name === "Body Mass (g)")?.type, "BIGINT");
    const profile = await profileParquet(path.join(out, "penguins.parquet"));
    for (const name of ["Beak Length (mm)", "Body Mass (g)", "Species"]) {
      const values = records.map((r) => r[name]).filter((v) => v !== null && v !== undefined);
      const col = profile.columns.find((c) => c.name === name)!;
      assert.equal(col.count, values.length, name);
      assert.equal(col.nullCount, records.length - values.length, name);
      assert.equal(col.distinctCount, new Set(values).size, name);
    }
    const mass = records.map((r) => r["Body Mass (g)"]).filter((v): v is number => typeof v === "number");
    mass.sort((a, b) => a - b);
    const massProfile = profile.columns.find((c) => c.name === "Body Mass (g)")!;
    assert.deepEqual(
      massProfile.quantiles.map((v) => v.value),
      massProfile.quantiles.map(({ q }) => mass[Math.max(1, Math.ceil(q * mass.length)) - 1]),
    );

    // Declared as JSON Lines, a file that holds an array is still read as one (its first character is "[").
    const asJsonl = await read({ paths: [file], format: "jsonl" }, "penguins-jsonl.parquet");
    assert.equal(asJsonl.rowCount, records.length);
    // One object per file, and objects one after another, are rows too.
    write("objects/one.json", '{\n  "id": 1,\n  "tag": "a"\n}\n');
    write("objects/more.json", '{"id": 2, "tag": "b"}\n{"id": 3, "tag": null}\n');
    const objects = await read({ paths: ["objects"], format: "json" }, "objects.parquet");
    assert.equal(objects.rowCount, 3);
    assert.equal(objects.files.length, 2);
  });

  it("keeps nested JSON objects and arrays as STRUCT and LIST columns, and profiles them", async () => {
    const file = write(
      "nested.jsonl",
      [
        { id: 1, address: { city: "Oslo", geo: { lat: 59.9 } }, tags: ["a", "b"], scores: [1, 2] },
        { id: 2, address: { city: "Bergen", geo: null }, tags: [], scores: [3] },
        { id: 3, address: null, tags: ["a"], scores: null },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );
    const nested = await read({ paths: [file], format: "jsonl" }, "nested.parquet");
    assert.equal(nested.rowCount, 3);
    const types = Object.fromEntries(nested.schema.map((c) => [c.name, c.type]));
    assert.match(types.address, /^STRUCT\(city VARCHAR, geo STRUCT\(lat DOUBLE\)\)$/);
    assert.equal(types.tags, "VARCHAR[]");
    assert.equal(types.scores, "BIGINT[]");
    const profile = await profileParquet(path.join(out, "nested.parquet"));
    const scores = profile.columns.find((c) => c.name === "scores")!;
    assert.equal(scores.kind, "categorical", "a list of numbers is not a number");
    assert.equal(scores.nullCount, 1);
    assert.equal(profile.columns.find((c) => c.name === "address")!.distinctCount, 2);
  });

  it("names the file, line and column of a malformed JSON, JSON Lines or CSV file, without DuckDB's hints", async () => {
    const cases: Array<[string, string, FileSourceConfig["format"], string, string]> = [
      ["bad-value.json", '[\n  {"a": 1, "b": "x"},\n  {"a": 2, "b": y}\n]\n', "json", "line 3", "column 17"],
      ["truncated.json", '[\n  {"a": 1},\n  {"a": 2\n', "json", "line 4", "column 1"],
      ["scalars.json", '[{"a": 1},\n 2]', "json", "line 2", "column 2"],
      ["open.jsonl", '{"a": 1}\n{"a": 2\n{"a": 3}\n', "jsonl", "line 2", "column 8"],
      [
        "late.jsonl",
        Array.from({ length: 3000 }, (_, i) => (i === 2500 ? '{"a": }' : `{"a": ${i}}`)).join("\n") + "\n",
        "jsonl",
        "line 2501",
        "column 7",
      ],
      ["ragged.csv", "a,b\n1,2\n3,4,5\n", "csv", "line 3", "column 5"],
      [
        "short.csv",
        Array.from({ length: 5000 }, (_, i) => (i === 4000 ? "7" : `${i},x${i}`)).join("\n") + "\n",
        "csv",
        "line 4001",
        "column 2",
      ],
      ["unterminated.csv", 'a,b\n1,2\n3,"four\n5,6\n', "csv", "line 3", "column 3"],
    ];
    // A value that does not fit the type DuckDB gave its column from the rows before it (past
    // its 20,480-row sample): DuckDB names the record, the answer the line and column.
    const rows = (n: number, row: (i: number) => string, bad: string) => Array.from({ length: n }, (_, i) => (i === 25_000 ? bad : row(i)));
    cases.push(
      ["late-text.csv", "a,b\n" + rows(30_000, (i) => `${i},${i}`, "7,abc").join("\n") + "\n", "csv", "line 25002", "column 3"],
      ["late-text.jsonl", rows(30_000, (i) => `{"a": ${i}}`, '{"a": "abc"}').join("\n") + "\n", "jsonl", "line 25001", "column 7"],
      [
        "late-text.json",
        "[\n" + rows(30_000, (i) => `{"a": ${i}, "b": 1}`, '{"b": 2, "a": "abc"}').join(",\n") + "\n]\n",
        "json",
        "line 25002",
        "column 15",
      ],
    );
    for (const [name, text, format, line, column] of cases) {
      const p = read({ paths: [write(name, text)], format }, `${name}.parquet`);
      await inputError(p, name, line, column);
      await p.catch((err: Error) =>
        assert.doesNotMatch(err.message, /Try |strict_mode|Possible fixes|format ?=|ignore_errors|\/tmp/, name),
      );
    }
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
