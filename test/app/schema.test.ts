import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { printSluiceSchema } from "../../src/app/graphql/schema";

describe("schema.graphql", () => {
  it("matches the schema built from the code (run `npm run schema` when this fails)", async () => {
    const committed = fs.readFileSync(path.resolve(__dirname, "../../../schema.graphql"), "utf8");
    assert.equal(committed, await printSluiceSchema());
  });

  it("gives every list field a cursor connection with first/after", async () => {
    const sdl = await printSluiceSchema();
    const listFields = [...sdl.matchAll(/^\s+(\w+)\(([^)]*)\): (\w+Connection)!/gm)];
    assert.ok(listFields.length >= 4);
    for (const [, name, args] of listFields) {
      assert.match(args!, /first: Int/, `${name} takes first`);
      assert.match(args!, /after: String/, `${name} takes after`);
    }
  });
});
