import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { type GraphQLObjectType, getNamedType, getNullableType, isListType } from "graphql";
import { buildSluiceSchema, printSluiceSchema } from "../../src/app/graphql/schema";

describe("schema.graphql", () => {
  it("matches the schema built from the code (run `npm run schema` when this fails)", async () => {
    const committed = fs.readFileSync(path.resolve(__dirname, "../../../schema.graphql"), "utf8");
    assert.equal(committed, await printSluiceSchema());
  });

  it("gives every list query a connection with first, after, filter and orderBy", async () => {
    const schema = await buildSluiceSchema();
    const query = schema.getQueryType()!;
    let connections = 0;
    for (const field of Object.values(query.getFields())) {
      const type = getNamedType(field.type);
      if (isListType(getNullableType(field.type))) assert.fail(`Query.${field.name} returns a bare list; use a connection`);
      if (!type.name.endsWith("Connection")) continue;
      connections++;
      const args = new Map(field.args.map((a) => [a.name, String(a.type)]));
      assert.equal(args.get("first"), "Int", `${field.name} takes first`);
      assert.equal(args.get("after"), "String", `${field.name} takes after`);
      assert.ok(args.get("filter")?.endsWith("Filter"), `${field.name} takes a filter`);
      assert.ok(args.get("orderBy")?.endsWith("Order"), `${field.name} takes an orderBy`);
      const fields = (type as GraphQLObjectType).getFields();
      for (const f of ["edges", "nodes", "pageInfo", "totalCount"]) assert.ok(fields[f], `${type.name}.${f}`);
    }
    assert.ok(connections >= 4);
  });
});
