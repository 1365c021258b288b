import type { DuckDBConnection } from "@duckdb/node-api";
import { queryJson } from "./duckdb";

/**
 * The static check of a SQL expression a user wrote (a feature expression or filter, an ingest
 * `where`): DuckDB parses it (`json_serialize_sql` gives the syntax tree, nothing is bound or
 * run) inside `SELECT (<expr>) AS __sluice_x FROM __sluice_source`, and the tree must be exactly
 * that one select item over that one table, with no FROM, WITH or table function anywhere inside
 * the expression. So an expression can read the columns of its own row and nothing else: not
 * `read_text('/etc/hostname')`, not `glob(…)`, not another table, not a second statement
 * (`COPY … TO`, `ATTACH`, `INSTALL`, `SET` …: json_serialize_sql only takes SELECT). Subqueries
 * without a FROM (`(SELECT 1)`) stay allowed: they read nothing.
 *
 * The check runs where definitions are validated and again right before the SQL runs; the SQL then
 * runs in the sandbox (sandbox.ts), which would refuse file access even if this check had a gap.
 */

const ALIAS = "__sluice_x";
const SOURCE = "__sluice_source";
const ONLY_COLUMNS = "an expression may read only the columns of its source";

/** Scalar functions that tell about the server rather than the data (settings hold paths). */
export const DENIED_FUNCTIONS = new Set(["current_setting", "getenv", "getvariable"]);

/** Statement keywords named in the refusal when an expression hides a second statement. */
export const STATEMENT_WORDS =
  /\b(COPY|ATTACH|DETACH|INSTALL|LOAD|EXPORT|IMPORT|PRAGMA|SET|RESET|CALL|CREATE|DROP|ALTER|INSERT|UPDATE|DELETE|USE|CHECKPOINT|VACUUM)\b/i;

type Node = Record<string, unknown>;

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** What a FROM-clause node reads, in the user's terms. */
function describeTableRef(ref: Node): string {
  switch (ref.type) {
    case "TABLE_FUNCTION": {
      const fn = isNode(ref.function) ? String(ref.function.function_name) : "?";
      return `table function ${fn}`;
    }
    case "BASE_TABLE":
      return `table ${String(ref.table_name)}`;
    case "JOIN":
      return isNode(ref.left) ? describeTableRef(ref.left) : "a join";
    default:
      return "a FROM clause";
  }
}

/** The first thing in `tree` the expression may not use, or undefined. */
function firstRefused(tree: unknown): string | undefined {
  if (Array.isArray(tree)) {
    for (const item of tree) {
      const found = firstRefused(item);
      if (found) return found;
    }
    return undefined;
  }
  if (!isNode(tree)) return undefined;
  const from = tree.from_table;
  if (isNode(from) && from.type !== "EMPTY") return `${describeTableRef(from)} is not allowed`;
  const ctes = isNode(tree.cte_map) ? tree.cte_map.map : undefined;
  if (Array.isArray(ctes) && ctes.length > 0) return "a WITH clause is not allowed";
  if (typeof tree.function_name === "string" && DENIED_FUNCTIONS.has(tree.function_name.toLowerCase()))
    return `function ${tree.function_name} is not allowed`;
  for (const value of Object.values(tree)) {
    const found = firstRefused(value);
    if (found) return found;
  }
  return undefined;
}

/**
 * Why `expr` is not a plain SQL expression over the columns of its source, or undefined when it
 * is one. The reason names the construct refused, e.g. "table function read_text is not allowed;
 * an expression may read only the columns of its source". Uses `conn` only to parse.
 */
export async function refuseUserExpression(conn: DuckDBConnection, expr: string): Promise<string | undefined> {
  const sql = `SELECT (${expr}) AS ${ALIAS} FROM ${SOURCE}`;
  const [row] = await queryJson(conn, "SELECT json_serialize_sql($1::VARCHAR) AS tree", [sql]);
  const parsed = JSON.parse(String(row.tree)) as { error: boolean; error_message?: string; error_type?: string; statements?: Node[] };
  if (parsed.error) {
    const word = STATEMENT_WORDS.exec(expr)?.[1]?.toUpperCase();
    if (parsed.error_type === "parser") return `not a SQL expression: ${parsed.error_message ?? "syntax error"}`;
    return word
      ? `must be a single SQL expression; a ${word} statement is not allowed`
      : "must be a single SQL expression; other statements are not allowed";
  }
  const statements = parsed.statements ?? [];
  const node = isNode(statements[0]) && isNode(statements[0].node) ? statements[0].node : undefined;
  const items = node && Array.isArray(node.select_list) ? (node.select_list as unknown[]) : [];
  const from = node && isNode(node.from_table) ? node.from_table : undefined;
  const plain =
    statements.length === 1 &&
    node?.type === "SELECT_NODE" &&
    items.length === 1 &&
    isNode(items[0]) &&
    items[0].alias === ALIAS &&
    from?.type === "BASE_TABLE" &&
    from.table_name === SOURCE &&
    from.alias === "" &&
    node.where_clause === null &&
    node.having === null &&
    node.qualify === null &&
    node.sample === null &&
    (node.group_expressions as unknown[]).length === 0 &&
    (node.modifiers as unknown[]).length === 0 &&
    firstRefused(node.cte_map) === undefined;
  if (!plain) {
    const word = STATEMENT_WORDS.exec(expr)?.[1]?.toUpperCase();
    return word
      ? `must be a single SQL expression; a ${word} statement is not allowed`
      : "must be a single SQL expression (it changes the shape of the query it is put in)";
  }
  const refused = firstRefused(items[0]);
  return refused ? `${refused}; ${ONLY_COLUMNS}` : undefined;
}
