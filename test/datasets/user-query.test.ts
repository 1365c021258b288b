import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { queryShapeProblem, refuseUserQuery, trimQuery, withDuckDb } from "../../src/datasets/columnar";

/** The checks of a whole user query (a transform's `sql`): the static shape, then DuckDB's parse tree. */
describe("user queries (transform SQL)", () => {
  it("takes one SELECT, WITH or FROM query, whatever its comments, strings and trailing semicolons", () => {
    for (const sql of [
      "SELECT * FROM weather",
      "  with w as (select 1) select * from w;  ",
      "FROM weather WHERE weather = 'rain; COPY' -- a comment; COPY\n",
      "/* COPY x TO 'y'; */ SELECT $$;$$ AS semi",
      "(SELECT 1) UNION ALL (SELECT 2);;",
    ])
      assert.equal(queryShapeProblem(sql), undefined, sql);
    assert.equal(trimQuery("SELECT 1; -- done\n"), "SELECT 1");
    assert.equal(trimQuery("SELECT ';' AS s;"), "SELECT ';' AS s");
  });

  it("refuses other statements, a second statement and an empty query, naming what it found", () => {
    assert.match(queryShapeProblem("COPY (SELECT 1) TO '/tmp/x.csv'")!, /COPY statement is not allowed/);
    assert.match(queryShapeProblem("ATTACH '/tmp/x.db'")!, /ATTACH statement is not allowed/);
    assert.match(queryShapeProblem("SET enable_external_access = true")!, /SET statement/);
    assert.match(queryShapeProblem("SELECT 1; COPY (SELECT 1) TO '/tmp/x'")!, /second statement/);
    assert.match(queryShapeProblem("-- nothing\n;")!, /is empty/);
  });

  it("after DuckDB's parse, allows the inputs, CTEs and generators, and refuses files, other tables and settings", async () => {
    await withDuckDb(async (conn) => {
      const inputs = ["weather", "Stations"];
      const ok = [
        "SELECT w.*, s.name FROM weather w JOIN stations s USING (id)",
        "WITH rainy AS (SELECT * FROM weather WHERE weather = 'rain') SELECT count(*) FROM rainy",
        "SELECT * FROM weather, range(3) r WHERE date IN (SELECT date FROM weather LIMIT 3)",
        "SELECT * FROM main.weather",
      ];
      for (const sql of ok) assert.equal(await refuseUserQuery(conn, sql, inputs), undefined, sql);
      const refused: Array<[string, RegExp]> = [
        ["SELECT * FROM read_text('/etc/passwd')", /table function read_text is not allowed.*weather, Stations/],
        ["SELECT * FROM weather WHERE date IN (SELECT 1 FROM read_csv('/etc/hosts'))", /table function read_csv/],
        ["SELECT * FROM '/etc/passwd'", /table \/etc\/passwd is not an input/],
        ["SELECT * FROM duckdb_settings()", /table function duckdb_settings/],
        ["WITH x AS (SELECT 1) SELECT * FROM duckdb_settings", /table duckdb_settings is not an input/],
        ["SELECT * FROM information_schema.tables", /table information_schema.tables is not allowed/],
        ["SELECT current_setting('temp_directory')", /function current_setting is not allowed/],
        ["SELECT * FROM other", /table other is not an input/],
        ["SELECT FROM WHERE", /is not valid SQL/],
        ["SELECT 1; SELECT 2", /second statement/],
      ];
      for (const [sql, why] of refused) assert.match((await refuseUserQuery(conn, sql, inputs)) ?? "(allowed)", why, sql);
    });
  });
});
