import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidInputError, type InputProblem } from "../../src/kernel/errors";
import { validateSuite } from "../../src/validation/suite";

function problemsOf(input: unknown): InputProblem[] {
  try {
    validateSuite(input);
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("the suite was accepted");
}

const withExpectations = (...expectations: unknown[]) => ({ name: "s", expectations });

describe("validateSuite", () => {
  test("fills in severity and mostly, and copies the input", () => {
    const input = withExpectations(
      { type: "not_null", column: "a" },
      { type: "between", column: "b", min: 0, severity: "warn", mostly: 0.5, id: "b-range" },
      { type: "distribution", column: "c", metric: "ks", threshold: 0.2 },
    );
    const suite = validateSuite(input);
    assert.deepEqual(suite.expectations, [
      { type: "not_null", column: "a", severity: "error", mostly: 1 },
      { type: "between", column: "b", min: 0, severity: "warn", mostly: 0.5, id: "b-range" },
      { type: "distribution", column: "c", metric: "ks", threshold: 0.2, severity: "error", mostly: 1 },
    ]);
    assert.equal((input.expectations[0] as { severity?: string }).severity, undefined, "the input is not mutated");
  });

  test("accepts every expectation type", () => {
    const suite = validateSuite(
      withExpectations(
        { type: "not_null", column: "a" },
        { type: "between", column: "a", max: 1, strictMax: true },
        { type: "in_set", column: "a", values: ["x", 1, true] },
        { type: "unique", column: "a" },
        { type: "matches_regex", column: "a", regex: "^x" },
        { type: "value_lengths_between", column: "a", min: 1 },
        { type: "row_count_between", min: 1, max: 5 },
        { type: "mean_between", column: "a", min: -1.5 },
        { type: "std_between", column: "a", max: 2 },
        { type: "quantile_between", column: "a", quantile: 0, min: 0 },
        { type: "freshness", column: "a", maxAgeSeconds: 60 },
        { type: "distribution", column: "a", metric: "psi", threshold: 0.1 },
      ),
    );
    assert.equal(suite.expectations.length, 12);
  });

  test("names each offending field", () => {
    const problems = problemsOf(
      withExpectations(
        { type: "not_null" },
        { type: "between", column: "a", min: "1" },
        { type: "between", column: "a" },
        { type: "mean_between", column: "a", min: 5, max: 1 },
        { type: "not_null", column: "a", mostly: 0 },
        { type: "in_set", column: "a", values: [] },
        { type: "quantile_between", column: "a", quantile: 1.5, min: 0 },
        { type: "unique", colum: "a" },
        { type: "nope", column: "a" },
        { type: "not_null", column: "a", severity: "fatal" },
        { type: "distribution", column: "a", metric: "chi2", threshold: -1 },
        { column: "a" },
        { type: "freshness", column: "a", maxAgeSeconds: 0 },
        { type: 3, column: "a" },
      ),
    );
    assert.deepEqual(problems, [
      { field: "expectations[0].column", message: "is required" },
      { field: "expectations[1].min", message: "must be a number" },
      { field: "expectations[4].mostly", message: "must be in (0, 1]" },
      { field: "expectations[5].values", message: "must list at least one value" },
      { field: "expectations[6].quantile", message: "must be in [0, 1]" },
      { field: "expectations[7].column", message: "is required" },
      {
        field: "expectations[7].colum",
        message: 'is not a field of a unique expectation; the fields are type, id, severity, mostly, column; did you mean "column"?',
      },
      {
        field: "expectations[8].type",
        message:
          "must be one of not_null, between, in_set, unique, matches_regex, value_lengths_between, row_count_between, mean_between, std_between, quantile_between, freshness, distribution",
      },
      { field: "expectations[9].severity", message: 'must be one of "warn", "error"' },
      { field: "expectations[10].metric", message: 'must be one of "psi", "ks"' },
      { field: "expectations[10].threshold", message: "must be at least 0" },
      { field: "expectations[11].type", message: "is required" },
      { field: "expectations[12].maxAgeSeconds", message: "must be a positive number of seconds" },
      { field: "expectations[13].type", message: "must be a string naming the expectation type" },
    ]);
  });

  test("checks bounds and ids once the shape is right", () => {
    assert.deepEqual(
      problemsOf(
        withExpectations(
          { type: "between", column: "a" },
          { type: "mean_between", column: "a", min: 5, max: 1 },
          { type: "row_count_between" },
          { type: "not_null", column: "a", id: "x" },
          { type: "not_null", column: "b", id: "x" },
        ),
      ),
      [
        { field: "expectations[0]", message: "between needs min, max or both" },
        { field: "expectations[1].max", message: "must be at least min (5)" },
        { field: "expectations[2]", message: "row_count_between needs min, max or both" },
        { field: "expectations[4].id", message: "repeats the id of expectations[3]" },
      ],
    );
  });

  test("the suite itself", () => {
    assert.deepEqual(problemsOf(null), [{ field: "suite", message: "must be an object" }]);
    assert.deepEqual(problemsOf({ expectations: [], extra: 1 }), [
      { field: "name", message: "is required" },
      { field: "extra", message: "is not a field of a suite; the fields are name, expectations" },
    ]);
    assert.deepEqual(problemsOf({ name: "s", expectations: {} }), [{ field: "expectations", message: "must be a list" }]);
    assert.deepEqual(problemsOf({ name: "s", expectations: [{ type: "row_count_between", min: Infinity }] }), [
      { field: "expectations[0].min", message: "must be an integer" },
    ]);
  });
});
