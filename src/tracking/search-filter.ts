import { InvalidInputError } from "../kernel/errors";

/**
 * MLflow's search filter syntax, the subset Sluice answers: clauses joined by AND (MLflow has
 * no OR either), each `<entity>.<key> <comparator> <value>`:
 *
 *   metrics.rmse < 0.5 and params.model = 'gbt' and tags."mlflow.user" LIKE 'ann%'
 *   and attributes.status = 'FINISHED' and attributes.run_id IN ('a', 'b')
 *
 * Entities: `metric(s)`, `param(s)`/`parameter(s)`, `tag(s)`, `attribute(s)`/`attr`/`run`;
 * a bare identifier is an attribute. Keys may be quoted with backticks or double quotes; the
 * key is everything after the first dot, as in MLflow. Pure module: parsing only, no SQL.
 */
export type FilterEntity = "metric" | "param" | "tag" | "attribute";
export type Comparator = "=" | "!=" | ">" | ">=" | "<" | "<=" | "LIKE" | "ILIKE" | "IN" | "NOT IN";

export interface FilterClause {
  entity: FilterEntity;
  key: string;
  comparator: Comparator;
  /** A number for numeric comparisons, a string, or a list for IN / NOT IN. */
  value: number | string | string[];
}

const ENTITY_PREFIXES: Record<string, FilterEntity> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
};

type Token =
  | { t: "ident"; v: string }
  | { t: "quoted"; v: string; q: string }
  | { t: "number"; v: number }
  | { t: "op"; v: string }
  | { t: "punct"; v: string };

const bad = (message: string) => new InvalidInputError([{ field: "filter", message }]);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === "`") {
      let j = i + 1;
      let v = "";
      while (j < text.length && text[j] !== c) {
        // A doubled quote or a backslash escapes the quote character.
        if (text[j] === "\\" && j + 1 < text.length) {
          v += text[j + 1];
          j += 2;
          continue;
        }
        v += text[j];
        j++;
      }
      if (j >= text.length) throw bad(`unterminated ${c} quote at position ${i}`);
      out.push({ t: "quoted", v, q: c });
      i = j + 1;
      continue;
    }
    const op = /^(!=|<>|>=|<=|=|>|<)/.exec(text.slice(i));
    if (op) {
      out.push({ t: "op", v: op[1] === "<>" ? "!=" : op[1]! });
      i += op[1]!.length;
      continue;
    }
    if (c === "(" || c === ")" || c === "," || c === ".") {
      out.push({ t: "punct", v: c });
      i++;
      continue;
    }
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i));
    if (num && (c === "-" || c === "+" || /\d/.test(c) || (c === "." && /\d/.test(text[i + 1] ?? "")))) {
      out.push({ t: "number", v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][\w:/-]*/.exec(text.slice(i));
    if (word) {
      out.push({ t: "ident", v: word[0] });
      i += word[0].length;
      continue;
    }
    throw bad(`unexpected character ${JSON.stringify(c)} at position ${i}`);
  }
  return out;
}

/** Parses `filter` (empty or blank: no clauses). Throws INVALID_PARAMETER_VALUE-like input errors. */
export function parseFilter(filter: string | null | undefined): FilterClause[] {
  if (!filter || !filter.trim()) return [];
  const tokens = tokenize(filter);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const clauses: FilterClause[] = [];
  for (;;) {
    // Identifier: entity '.' key, or a bare attribute name.
    const first = next();
    if (!first || (first.t !== "ident" && first.t !== "quoted")) throw bad("expected an identifier such as metrics.rmse or params.lr");
    let entity: FilterEntity = "attribute";
    let key: string;
    const dot = peek();
    if (first.t === "ident" && dot?.t === "punct" && dot.v === ".") {
      const prefix = ENTITY_PREFIXES[first.v.toLowerCase()];
      if (!prefix) throw bad(`invalid entity type '${first.v}': use metrics, params, tags or attributes`);
      entity = prefix;
      pos++;
      // The key: a quoted name, or words joined by dots (`tags.mlflow.runName`).
      const k = next();
      if (!k || (k.t !== "ident" && k.t !== "quoted" && k.t !== "number")) throw bad(`expected a key after '${first.v}.'`);
      key = String(k.v);
      if (k.t !== "quoted") {
        while (peek()?.t === "punct" && (peek() as { v: string }).v === "." && tokens[pos + 1] && tokens[pos + 1]!.t === "ident") {
          key += "." + (tokens[pos + 1] as { v: string }).v;
          pos += 2;
        }
      }
    } else {
      key = String(first.v);
    }
    // Comparator.
    const c = next();
    let comparator: Comparator;
    if (c?.t === "op") comparator = c.v as Comparator;
    else if (c?.t === "ident" && /^(i?like|in)$/i.test(c.v)) comparator = c.v.toUpperCase() as Comparator;
    else if (c?.t === "ident" && /^not$/i.test(c.v) && peek()?.t === "ident" && /^in$/i.test((peek() as { v: string }).v)) {
      pos++;
      comparator = "NOT IN";
    } else throw bad(`expected a comparator after ${key}`);
    // Value.
    let value: FilterClause["value"];
    if (comparator === "IN" || comparator === "NOT IN") {
      const open = next();
      if (open?.t !== "punct" || open.v !== "(") throw bad(`expected ( after ${comparator}`);
      const list: string[] = [];
      for (;;) {
        const v = next();
        if (!v || (v.t !== "quoted" && v.t !== "number")) throw bad(`expected a quoted value in the ${comparator} list`);
        list.push(String(v.v));
        const sep = next();
        if (sep?.t === "punct" && sep.v === ")") break;
        if (sep?.t !== "punct" || sep.v !== ",") throw bad(`expected , or ) in the ${comparator} list`);
      }
      value = list;
    } else {
      const v = next();
      if (!v) throw bad(`expected a value after ${key} ${comparator}`);
      if (v.t === "number") value = v.v;
      else if (v.t === "quoted" && v.q !== "`") value = v.v;
      else throw bad(`expected a number or a quoted string after ${key} ${comparator}`);
    }
    clauses.push({ entity, key, comparator, value });
    const joiner = next();
    if (!joiner) break;
    if (joiner.t !== "ident" || joiner.v.toLowerCase() !== "and")
      throw bad("clauses are joined by AND (OR is not supported, as in MLflow)");
  }
  return clauses;
}

/** One `order_by` entry: `metrics.rmse DESC`, `attributes.start_time`, `name ASC`. */
export interface OrderClause {
  entity: FilterEntity;
  key: string;
  ascending: boolean;
}

export function parseOrderBy(items: readonly string[] | null | undefined): OrderClause[] {
  return (items ?? []).map((item) => {
    const m = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(item);
    if (!m) throw new InvalidInputError([{ field: "order_by", message: `invalid order_by clause '${item}'` }]);
    const ident = m[1]!;
    const ascending = (m[2] ?? "ASC").toUpperCase() === "ASC";
    const dot = /^([A-Za-z]+)\.(.+)$/.exec(ident);
    let entity: FilterEntity = "attribute";
    let key = ident;
    if (dot && ENTITY_PREFIXES[dot[1]!.toLowerCase()]) {
      entity = ENTITY_PREFIXES[dot[1]!.toLowerCase()]!;
      key = dot[2]!;
    }
    key = key.replace(/^[`"](.*)[`"]$/, "$1");
    return { entity, key, ascending };
  });
}
