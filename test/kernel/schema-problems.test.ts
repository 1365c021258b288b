import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Ajv from "ajv";
import { schemaProblems } from "../../src/kernel/schema-problems";

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, logger: false });
ajv.addKeyword({ keyword: "messages", schemaType: "object" });
const validate = ajv.compile({
  title: "Thing",
  type: "object",
  additionalProperties: false,
  required: ["name", "a/b"],
  properties: {
    name: { type: "string" },
    "a/b": { type: "integer" },
    env: { type: "object", additionalProperties: { type: "string", messages: { type: "must be text" } } },
    list: { type: "array", items: { enum: ["x", "y"] } },
  },
});

function problemsOf(data: unknown, base?: string) {
  assert.equal(validate(data), false);
  return schemaProblems(validate.errors, { data, base, whole: "thing" });
}

describe("schemaProblems", () => {
  it("decodes JSON Pointer segments and quotes keys that are not identifiers", () => {
    assert.deepEqual(problemsOf({ name: "n", env: { "MY VAR": 1 }, list: ["z"] }), [
      { field: '["a/b"]', message: "is required" },
      { field: 'env["MY VAR"]', message: "must be text" },
      { field: "list[0]", message: 'must be one of "x", "y"' },
    ]);
  });

  it("names an unknown field with the schema's title and fields, under a base path", () => {
    assert.deepEqual(problemsOf({ name: 1, "a/b": 2, "extra~key": true }, "config"), [
      { field: 'config["extra~key"]', message: "is not a field of Thing; the fields are name, a/b, env, list" },
      { field: "config.name", message: "must be a string" },
    ]);
  });

  it("names the whole value when the problem is about it", () => {
    assert.deepEqual(problemsOf([]), [{ field: "thing", message: "must be an object" }]);
  });
});
