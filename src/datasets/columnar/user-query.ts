import type { DuckDBConnection } from "@duckdb/node-api";
import { queryJson } from "./duckdb";
import { DENIED_FUNCTIONS, STATEMENT_WORDS } from "./user-sql";

/**
 * The checks of a whole query a user wrote (a `transform` stage's `sql`), where user-sql.ts checks
 * a single expression. A query may join, filter, group and use `WITH`, but it reads only the
 * tables the server registered for it (the stage's inputs, by name) and the CTEs it defines:
 *
 * - `queryShapeProblem` is the static check run when a pipeline is applied: one statement that
 *   starts like a query (SELECT, WITH, FROM, VALUES or a parenthesis). It only lexes (comments and
 *   quoted text are skipped), so it runs without DuckDB in the spec validation.
 * - `refuseUserQuery` is the full check before the query runs: DuckDB parses it
 *   (`json_serialize_sql`, which takes SELECT statements only; nothing is bound or run) and the
 *   tree must hold one statement whose table references are inputs or CTEs, whose table functions
 *   are generators (`range`, `generate_series`, `unnest`) and which calls no server-describing
 *   function (`current_setting` …).
 *
 * The query then runs in the sandbox (sandbox.ts), which refuses any file but the inputs and the
 * output even if these checks had a gap.
 */

/** Table functions that make rows from their arguments and read nothing. */
const GENERATORS = new Set(["range", "generate_series", "unnest"]);

/** Names of DuckDB's catalogue views (`duckdb_settings`, `pg_class` …), which describe the instance. */
const SYSTEM_NAME = /^(duckdb_|pg_|sqlite_|information_schema$)/i;

const QUERY_START = /^(SELECT|WITH|FROM|VALUES|\()/i;

type Node = Record<string, unknown>;

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `sql` with comments blanked and quoted text filled with `_` (same length, so indexes still match). */
function codeOnly(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = i + 1;
    if (c === "-" && next === "-") {
      end = sql.indexOf("\n", i);
      if (end < 0) end = sql.length;
    } else if (c === "/" && next === "*") {
      end = sql.indexOf("*/", i + 2);
      end = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      end = i + 1;
      for (;;) {
        const close = sql.indexOf(c, end);
        if (close < 0) {
          end = sql.length;
          break;
        }
        // A doubled quote is the quote itself, inside the text.
        if (sql[close + 1] === c) end = close + 2;
        else {
          end = close + 1;
          break;
        }
      }
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        end = close < 0 ? sql.length : close + tag.length;
      }
    }
    const quoted = c === "'" || c === '"' || (c === "$" && end > i + 1);
    const comment = end > i + 1 && !quoted;
    // Quoted text stays as filler (it is part of the statement), comments become blanks.
    out += quoted ? "_".repeat(end - i) : comment ? " ".repeat(end - i) : c;
    i = end;
  }
  return out;
}

/**
 * Why `sql` is not one query, judged by its text alone, or undefined. Used at apply time (no
 * DuckDB there) so a `COPY`, a second statement or an empty query is refused before any run.
 */
export function queryShapeProblem(sql: string): string | undefined {
  const code = codeOnly(sql)
    .trim()
    .replace(/[;\s]+$/, "");
  if (!code) return "is empty: write one SELECT query over the stage's inputs";
  if (code.includes(";")) return "must be one query, but a `;` starts a second statement";
  if (!QUERY_START.test(code)) {
    const word = /^[A-Za-z_]+/.exec(code)?.[0]?.toUpperCase();
    return `must be a single SELECT query (SELECT …, WITH … SELECT …, FROM …)${word ? `; a ${word} statement is not allowed` : ""}`;
  }
  return undefined;
}

/** `sql` without the semicolons and comments after its last statement, so it can be put inside parentheses. */
export function trimQuery(sql: string): string {
  const code = codeOnly(sql);
  const last = code.replace(/[;\s]+$/, "").length;
  return sql.slice(0, last);
}

/** Every CTE name defined anywhere in the tree, lower-cased. */
function cteNames(tree: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(tree)) tree.forEach((t) => cteNames(t, into));
  else if (isNode(tree)) {
    const map = isNode(tree.cte_map) ? tree.cte_map.map : undefined;
    if (Array.isArray(map)) for (const entry of map) if (isNode(entry) && typeof entry.key === "string") into.add(entry.key.toLowerCase());
    Object.values(tree).forEach((v) => cteNames(v, into));
  }
  return into;
}

/** The first table reference or function in `tree` a query may not use, or undefined. */
function firstRefused(tree: unknown, inputs: ReadonlySet<string>, ctes: ReadonlySet<string>): string | undefined {
  if (Array.isArray(tree)) {
    for (const item of tree) {
      const found = firstRefused(item, inputs, ctes);
      if (found) return found;
    }
    return undefined;
  }
  if (!isNode(tree)) return undefined;
  if (tree.type === "BASE_TABLE") {
    const name = String(tree.table_name);
    const schema = String(tree.schema_name ?? "");
    const catalog = String(tree.catalog_name ?? "");
    const lower = name.toLowerCase();
    if (catalog || (schema && schema.toLowerCase() !== "main"))
      return `table ${[catalog, schema, name].filter(Boolean).join(".")} is not allowed`;
    if (inputs.has(lower)) return undefined;
    if (!ctes.has(lower) || SYSTEM_NAME.test(name)) return `table ${name} is not an input of this stage`;
  }
  if (tree.type === "TABLE_FUNCTION") {
    const fn = isNode(tree.function) ? String(tree.function.function_name) : "?";
    if (!GENERATORS.has(fn.toLowerCase())) return `table function ${fn} is not allowed`;
  }
  if (typeof tree.function_name === "string" && DENIED_FUNCTIONS.has(tree.function_name.toLowerCase()))
    return `function ${tree.function_name} is not allowed`;
  for (const value of Object.values(tree)) {
    const found = firstRefused(value, inputs, ctes);
    if (found) return found;
  }
  return undefined;
}

/**
 * Why `sql` is not a query over the tables `inputs` names, or undefined when it is one. The reason
 * names the construct, e.g. "table function read_text is not allowed; a query reads only its
 * inputs (weather)". Uses `conn` only to parse.
 */
export async function refuseUserQuery(conn: DuckDBConnection, sql: string, inputs: readonly string[]): Promise<string | undefined> {
  const shape = queryShapeProblem(sql);
  if (shape) return shape;
  const [row] = await queryJson(conn, "SELECT json_serialize_sql($1::VARCHAR) AS tree", [trimQuery(sql)]);
  const parsed = JSON.parse(String(row.tree)) as { error: boolean; error_message?: string; error_type?: string; statements?: Node[] };
  if (parsed.error) {
    if (parsed.error_type === "parser") return `is not valid SQL: ${parsed.error_message ?? "syntax error"}`;
    const word = STATEMENT_WORDS.exec(sql)?.[1]?.toUpperCase();
    return `must be a single SELECT query${word ? `; a ${word} statement is not allowed` : ""}`;
  }
  const statements = parsed.statements ?? [];
  if (statements.length !== 1) return "must be one query, but a `;` starts a second statement";
  const names = new Set(inputs.map((n) => n.toLowerCase()));
  const refused = firstRefused(statements[0], names, cteNames(statements[0]));
  if (!refused) return undefined;
  const list = inputs.length ? inputs.join(", ") : "none";
  return `${refused}; a query reads only the stage's inputs (${list}) and its own WITH tables`;
}
