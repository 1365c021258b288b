import {
  type DocumentNode,
  GraphQLError,
  type GraphQLInputType,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  TypeInfo,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  typeFromAST,
  visit,
  visitWithTypeInfo,
} from "graphql";
import { ErrorCode, HTTP_STATUS, type InputProblem } from "../errors";
import { isUuid } from "../ids";

export { isUuid };

/*
 * One check, before execution, of every value an operation carries (its literal arguments and
 * its variables), so that no resolver, SQL statement or audit row ever sees:
 * - a NUL byte: PostgreSQL text cannot hold one (the insert fails with an internal error);
 * - invalid Unicode (a lone UTF-16 surrogate): it cannot be encoded as UTF-8;
 * - an `ID` that is not a UUID: every id in Sluice is one, and PostgreSQL refuses the cast.
 * Each is refused as BAD_USER_INPUT naming the argument path (`input.name`, `$input.name` for a
 * variable). The walk is linear: the document once (fragments as written, not per spread) and
 * the variables once.
 */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Enough to name what to fix; a hostile document could otherwise make a megabyte of problems. */
const MAX_PROBLEMS = 20;

/** Why `text` cannot be stored, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (text.includes("\u0000")) return "contains a NUL byte (\\u0000), which text cannot hold";
  if (LONE_SURROGATE.test(text)) return "contains invalid Unicode (an unpaired UTF-16 surrogate)";
  return undefined;
}

function idProblem(value: unknown): string | undefined {
  if (isUuid(value)) return undefined;
  const shown = typeof value === "string" ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : String(value);
  return `${shown} is not an id: ids are UUIDs such as 0b6f3c2e-8d7a-4c1e-9f5a-2d4b6e8a1c3f`;
}

class Problems {
  readonly list: InputProblem[] = [];
  add(field: string, message: string | undefined): void {
    if (message && this.list.length < MAX_PROBLEMS) this.list.push({ field, message });
  }
  get full(): boolean {
    return this.list.length >= MAX_PROBLEMS;
  }
}

/** Every string (and object key) anywhere inside `value`, for JSON scalars and other free-form input. */
function scanText(value: unknown, field: string, problems: Problems): void {
  if (problems.full) return;
  if (typeof value === "string") problems.add(field, textProblem(value));
  else if (Array.isArray(value)) value.forEach((v, i) => scanText(v, `${field}[${i}]`, problems));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const key = textProblem(k);
      if (key) problems.add(`${field} (a key)`, key);
      scanText(v, `${field}.${k}`, problems);
    }
  }
}

/** A variable's value against its declared type: ids where the type says ID, text everywhere. */
function checkValue(value: unknown, type: GraphQLInputType, field: string, problems: Problems): void {
  if (problems.full || value === null || value === undefined) return;
  if (isNonNullType(type)) return checkValue(value, type.ofType, field, problems);
  if (isListType(type)) {
    if (Array.isArray(value)) value.forEach((v, i) => checkValue(v, type.ofType, `${field}[${i}]`, problems));
    else checkValue(value, type.ofType, field, problems);
    return;
  }
  if (isInputObjectType(type) && typeof value === "object" && !Array.isArray(value)) {
    const fields = type.getFields();
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const def = fields[k];
      if (def) checkValue(v, def.type, `${field}.${k}`, problems);
      else scanText(v, `${field}.${k}`, problems); // refused later as unknown, but never let NULs past
    }
    return;
  }
  if (getNamedType(type).name === "ID")
    problems.add(field, typeof value === "string" ? (textProblem(value) ?? idProblem(value)) : idProblem(value));
  else scanText(value, field, problems);
}

/**
 * The problems of the values `operation` carries (its literals and `variables`), at most 20.
 * Literals are checked in the whole document, each definition once.
 */
export function inputProblems(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
): InputProblem[] {
  const problems = new Problems();
  for (const def of operation.variableDefinitions ?? []) {
    const name = def.variable.name.value;
    const type = typeFromAST(schema, def.type as never) as GraphQLInputType | undefined;
    const value = variables?.[name];
    if (type) checkValue(value, type, `$${name}`, problems);
    else scanText(value, `$${name}`, problems);
  }
  // Literals: the argument path is kept on a stack (argument, then object fields).
  const typeInfo = new TypeInfo(schema);
  const path: string[] = [];
  const here = () => path.join(".");
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument: { enter: (node) => void path.push(node.name.value), leave: () => void path.pop() },
      ObjectField: { enter: (node) => void path.push(node.name.value), leave: () => void path.pop() },
      StringValue(node) {
        const type = typeInfo.getInputType();
        const text = textProblem(node.value);
        if (text) problems.add(here() || "(a string)", text);
        else if (type && getNamedType(type).name === "ID") problems.add(here(), idProblem(node.value));
      },
      IntValue(node) {
        const type = typeInfo.getInputType();
        if (type && getNamedType(type).name === "ID") problems.add(here(), idProblem(node.value));
      },
    }),
  );
  return problems.list;
}

/** The refusal for input problems: BAD_USER_INPUT (HTTP 400) with each problem named. */
export function inputError(problems: InputProblem[]): GraphQLError {
  return new GraphQLError(problems.map((p) => `${p.field}: ${p.message}`).join("; "), {
    extensions: {
      code: ErrorCode.BAD_USER_INPUT,
      reason: "INVALID_INPUT",
      problems,
      http: { status: HTTP_STATUS.BAD_USER_INPUT },
    },
  });
}

/** The names of the root fields `operation` selects (fragments included), e.g. `["createProject"]`. */
export function rootFieldNames(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const fragments = new Map<string, SelectionSetNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def.selectionSet);
  const names = new Set<string>();
  const seen = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) names.add(sel.name.value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet);
      else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const frag = fragments.get(sel.name.value);
        if (frag) walk(frag);
      }
    }
  };
  walk(operation.selectionSet);
  return [...names].filter((n) => !n.startsWith("__"));
}
