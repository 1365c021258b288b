import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { checkPatterns, matchesAny, matchesPattern } from "../../src/notifications/event-pattern";

describe("event type patterns", () => {
  it("matches exact types, a trailing * over one or more segments, an inner * over one, and * over all", () => {
    const cases: Array<[string, string, boolean]> = [
      ["approval.decided", "approval.decided", true],
      ["approval.decided", "approval.requested", false],
      ["approval.*", "approval.requested", true],
      ["approval.*", "approval.decided", true],
      ["approval.*", "approval", false],
      ["approval.*", "approvals.decided", false],
      ["dataset.*", "dataset.version.created", true],
      ["*.failed", "validation.failed", true],
      ["*.failed", "run.succeeded", false],
      ["*.failed", "dataset.version.failed", false],
      ["dataset.*.created", "dataset.version.created", true],
      ["dataset.*.created", "dataset.version.deleted", false],
      ["*", "alert.fired", true],
      ["alert.fired", "alert.fired.again", false],
    ];
    for (const [pattern, type, expected] of cases) assert.equal(matchesPattern(pattern, type), expected, `${pattern} vs ${type}`);
    assert.equal(matchesAny(["validation.failed", "approval.*"], "approval.expired"), true);
    assert.equal(matchesAny(["validation.failed", "approval.*"], "run.failed"), false);
  });

  it("normalizes good patterns and names each bad one by index", () => {
    assert.deepEqual(checkPatterns([" approval.* ", "approval.*", "*"]), ["approval.*", "*"]);
    assert.throws(
      () => checkPatterns(["approval..x", "ok.type", "appr*val", ""]),
      (err: unknown) =>
        err instanceof InvalidInputError &&
        JSON.stringify(err.problems.map((p) => p.field)) === JSON.stringify(["eventTypes.0", "eventTypes.2", "eventTypes.3"]),
    );
    assert.throws(
      () => checkPatterns([]),
      (err: unknown) => err instanceof InvalidInputError && err.problems[0]!.field === "eventTypes",
    );
  });
});
