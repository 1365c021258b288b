import assert from "node:assert/strict";
import { ErrorCode, InvalidInputError } from "../../src/kernel/errors";
import { assertNames } from "./names";

/**
 * A validator for `assert.throws` / `assert.rejects`: the error is an `InvalidInputError`
 * (code BAD_USER_INPUT) whose problems' fields are exactly `fields`, and whose message names each
 * field and each of `names`. Tests branch on the class, the code and the field, not the wording.
 */
export function inputError(fields: string | string[], ...names: string[]): (err: unknown) => true {
  const expected = typeof fields === "string" ? [fields] : fields;
  return (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected an InvalidInputError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.BAD_USER_INPUT);
    assert.deepEqual(
      err.problems.map((p) => p.field),
      expected,
    );
    assertNames(err.message, ...expected, ...names);
    return true;
  };
}
