import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Ajv from "ajv";
import { closestName, didYouMean } from "../../src/kernel/close-match";
import { formatFieldPath, parseFieldPath } from "../../src/kernel/field-path";
import { schemaProblems } from "../../src/kernel/schema-problems";

describe("close matches for unknown names", () => {
  it("finds a likely typo, case-insensitively, and nothing for an unrelated name", () => {
    assert.equal(closestName("algoritm", ["algorithm", "target", "features"]), "algorithm");
    assert.equal(closestName("Target", ["algorithm", "target"]), "target");
    assert.equal(closestName("colour", ["metric", "min", "max"]), undefined);
    assert.equal(closestName("x", ["y"]), "y"); // one edit is always within reach
    assert.equal(didYouMean("featurs", ["features"]), '; did you mean "features"?');
    assert.equal(didYouMean("zzz", ["features"]), "");
  });

  it("names the allowed properties of an untitled schema, and the likely typo", () => {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, logger: false });
    const validate = ajv.compile({
      type: "object",
      additionalProperties: false,
      properties: { scale: { type: "string" }, column: { type: "string" } },
    });
    assert.equal(validate({ scal: "x" }), false);
    assert.deepEqual(schemaProblems(validate.errors, { data: { scal: "x" }, base: "p" }), [
      { field: "p.scal", message: 'is not an allowed property; the allowed ones are scale, column; did you mean "scale"?' },
    ]);
  });
});

describe("parseFieldPath", () => {
  it("reads back what formatFieldPath writes", () => {
    for (const segments of [["features", 1, "window"], ["entities", 0], ["env", "MY VAR", "x"], [0, "a"], ["view"], ['a"b', 2]]) {
      assert.deepEqual(parseFieldPath(formatFieldPath(segments)), segments);
    }
  });

  it("keeps a string that is not a field path whole", () => {
    assert.deepEqual(parseFieldPath("not a path"), ["not a path"]);
    assert.deepEqual(parseFieldPath(".x"), [".x"]);
  });
});
