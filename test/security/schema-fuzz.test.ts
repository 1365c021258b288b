import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
  GraphQLID,
  GraphQLInt,
  GraphQLString,
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from "graphql";
import { buildSluiceSchema } from "../../src/app/graphql/schema";
import { seedProject } from "../helpers/fixtures";
import { type GqlResponse, startTestServer, type TestServer } from "../helpers/server";

/*
 * Schema-driven fuzzing: every Query and Mutation field is called by the admin with its required
 * arguments filled with plausible values, then with variants (a NUL byte in a string, an id that is
 * not a UUID, a 1 MB string, a negative number). No answer may be INTERNAL, every refused mutation
 * call must leave at least one audit row, and the server must stay healthy. FUZZ_VERBOSE=1 prints
 * every call and its answer.
 */

type Leaf = { path: Array<string | number>; kind: "string" | "id" | "number" };
type Variant = { name: string; variables: Record<string, unknown> };

const ONE_MB = "m".repeat(1024 * 1024);
/** Per field and kind, how many leaves get a variant of their own: enough to reach each argument's checks, bounded. */
const LEAVES_PER_KIND = 3;
/** The project every `projectId` names. */
let fuzzProjectId: string | undefined;

/** A plausible value of `type` (required input fields only), and the leaves a variant can change. */
function plausible(type: GraphQLInputType, path: Array<string | number>, leaves: Leaf[]): unknown {
  if (isNonNullType(type)) return plausible(type.ofType, path, leaves);
  if (isListType(type)) return [plausible(type.ofType, [...path, 0], leaves)];
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (!isNonNullType(field.type) || field.defaultValue !== undefined) continue;
      out[field.name] = plausible(field.type, [...path, field.name], leaves);
    }
    return out;
  }
  if (isEnumType(type)) return type.getValues()[0]!.name; // variables carry enum names
  switch (type.name) {
    case "ID":
      leaves.push({ path, kind: "id" });
      // A real project reaches the checks past "not found"; other ids name nothing.
      return path[path.length - 1] === "projectId" && fuzzProjectId ? fuzzProjectId : randomUUID();
    case "String":
      leaves.push({ path, kind: "string" });
      return "x";
    case "Int":
      leaves.push({ path, kind: "number" });
      return 1;
    case "Float":
      leaves.push({ path, kind: "number" });
      return 1;
    case "Boolean":
      return true;
    case "DateTime":
      return new Date().toISOString();
    case "JSONObject":
    case "JSON":
      return {};
    default:
      return "x";
  }
}

function setAt(root: Record<string, unknown>, path: Array<string | number>, value: unknown): Record<string, unknown> {
  const copy = structuredClone(root);
  let node: any = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]!] = value;
  return copy;
}

/** The operation calling `field` with every argument passed as a variable `$<arg>`. */
function operationFor(kind: "query" | "mutation", field: GraphQLField<unknown, unknown>): string {
  const vars = field.args.map((a) => `$${a.name}: ${String(a.type)}`);
  const args = field.args.map((a) => `${a.name}: $${a.name}`);
  const named = getNamedType(field.type);
  const selection = isCompositeType(named) ? " { __typename }" : "";
  return `${kind} Fuzz${vars.length ? `(${vars.join(", ")})` : ""} { ${field.name}${args.length ? `(${args.join(", ")})` : ""}${selection} }`;
}

/** The base call and its variants for `field`. */
function variantsFor(field: GraphQLField<unknown, unknown>): Variant[] {
  const leaves: Leaf[] = [];
  const base: Record<string, unknown> = {};
  for (const arg of field.args) {
    if (!isNonNullType(arg.type) || arg.defaultValue !== undefined) continue;
    base[arg.name] = plausible(arg.type, [arg.name], leaves);
  }
  const out: Variant[] = [{ name: "plausible", variables: base }];
  const of = (kind: Leaf["kind"]) => leaves.filter((l) => l.kind === kind).slice(0, LEAVES_PER_KIND);
  for (const leaf of of("string")) {
    out.push({ name: `NUL in ${leaf.path.join(".")}`, variables: setAt(base, leaf.path, "x\u0000y") });
    out.push({ name: `1 MB in ${leaf.path.join(".")}`, variables: setAt(base, leaf.path, ONE_MB) });
  }
  for (const leaf of of("id")) out.push({ name: `non-UUID ${leaf.path.join(".")}`, variables: setAt(base, leaf.path, "flights-demo") });
  for (const leaf of of("number")) out.push({ name: `negative ${leaf.path.join(".")}`, variables: setAt(base, leaf.path, -1) });
  // Optional scalar arguments (a lookup's `id` or natural key) are checked too: each one given alone.
  for (const arg of field.args.filter((a) => !isNonNullType(a.type) && isScalarType(a.type)).slice(0, LEAVES_PER_KIND)) {
    const bad =
      arg.type === GraphQLID ? "flights-demo" : arg.type === GraphQLString ? "x\u0000y" : arg.type === GraphQLInt ? -1 : undefined;
    if (bad !== undefined) out.push({ name: `only ${arg.name}, bad`, variables: { ...base, [arg.name]: bad } });
  }
  return out;
}

/** Whether an answer refused the call: a top-level error, or an error member of a result union. */
function refused(res: GqlResponse, field: string, errorTypes: Set<string>): boolean {
  if (res.errors?.length) return true;
  const value = res.data?.[field] as { __typename?: string } | null | undefined;
  return !!value?.__typename && errorTypes.has(value.__typename);
}

describe("schema fuzz", () => {
  let t: TestServer;
  let schema: GraphQLSchema;
  let errorTypes: Set<string>;

  before(async () => {
    t = await startTestServer({ env: { SLUICE_BODY_LIMIT: "4mb", SLUICE_RUNNERS: "none" } });
    schema = await buildSluiceSchema();
    fuzzProjectId = await seedProject(t, "fuzz");
    errorTypes = new Set(
      Object.values(schema.getTypeMap())
        .filter((type) => isObjectType(type) && type.getInterfaces().some((i) => i.name === "Error"))
        .map((type) => type.name),
    );
  });
  after(async () => {
    await t.close();
  });

  async function auditCount(): Promise<number> {
    const [row] = await t.server.services.db.dataSource.query(`SELECT count(*)::int AS n FROM audit_events`);
    return Number(row.n);
  }

  for (const kind of ["query", "mutation"] as const) {
    it(`answers every ${kind} field and its bad-input variants without INTERNAL, auditing refused mutations`, async () => {
      const root = kind === "query" ? schema.getQueryType()! : schema.getMutationType()!;
      const internal: string[] = [];
      const unaudited: string[] = [];
      let calls = 0;
      for (const field of Object.values(root.getFields())) {
        const query = operationFor(kind, field);
        for (const variant of variantsFor(field)) {
          const before = kind === "mutation" ? await auditCount() : 0;
          let res: GqlResponse;
          try {
            res = await t.gql(query, variant.variables);
          } catch (err) {
            internal.push(`${field.name} [${variant.name}]: the request failed: ${String(err)}`);
            continue;
          }
          calls++;
          const codes = (res.errors ?? []).map((e) => e.extensions?.code);
          if (process.env.FUZZ_VERBOSE)
            console.log(
              `${field.name} [${variant.name.slice(0, 40)}] ${res.status} ${JSON.stringify(res.errors?.[0]?.message ?? res.data).slice(0, 160)}`,
            );
          if (res.status >= 500 || codes.includes("INTERNAL")) {
            internal.push(`${field.name} [${variant.name}]: HTTP ${res.status} ${JSON.stringify(res.errors).slice(0, 300)}`);
          }
          if (kind === "mutation" && refused(res, field.name, errorTypes) && (await auditCount()) === before) {
            unaudited.push(`${field.name} [${variant.name}]: ${JSON.stringify(res.errors ?? res.data).slice(0, 200)}`);
          }
          const health = await fetch(`${t.url}/healthz`);
          assert.equal(health.status, 200, `unhealthy after ${field.name} [${variant.name}]`);
        }
      }
      assert.ok(calls > 100, `only ${calls} calls`);
      assert.deepEqual(internal, [], `INTERNAL answers:\n${internal.join("\n")}`);
      assert.deepEqual(unaudited, [], `refused mutations without an audit row:\n${unaudited.join("\n")}`);
    });
  }
});
