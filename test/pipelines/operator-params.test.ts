import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { InvalidInputError } from "../../src/kernel/errors";
import { OPERATOR_CONTRACTS } from "../../src/operators";
import { registerOperatorContracts } from "../../src/pipelines/operator-contracts";
import { resolveStageParams, validatePipelineSpec } from "../../src/pipelines/validate";
import type { PipelineSpec } from "../../src/pipelines/spec";
import { inputError } from "../helpers/input-errors";
import { assertNames } from "../helpers/names";

/**
 * Operator stages' parameters checked against the operator's contract both when the pipeline is
 * applied (validatePipelineSpec) and when a run overrides them (resolveStageParams, which run
 * triggers, schedules and event rules call): unknown names refused with the known ones and a
 * likely typo named; feature views and expectation suites checked in full at apply.
 */

const view = {
  name: "driver_stats",
  entities: ["driver"],
  timestampColumn: "ts",
  source: { dataset: "trips" },
  features: [{ name: "km", expr: "km" }],
};
const suite = { name: "trips", expectations: [{ type: "between", column: "km", min: 0 }] };

function spec(overrides: { train?: object; view?: object; suite?: object } = {}): PipelineSpec {
  return {
    name: "p",
    stages: [
      {
        name: "ingest",
        run: { operator: "ingest" },
        params: { dataset: "trips", paths: ["trips.csv"], format: "csv" },
        outputs: { data: { kind: "Dataset" } },
      },
      {
        name: "check",
        run: { operator: "validate" },
        inputs: { data: { from: "ingest.data" } },
        params: { suite: overrides.suite ?? suite },
        outputs: { report: { kind: "Report" } },
      },
      {
        name: "features",
        run: { operator: "features.materialize" },
        inputs: { source: { from: "ingest.data" } },
        params: { view: overrides.view ?? view },
        outputs: { features: { kind: "FeatureSet" } },
      },
      {
        name: "train",
        run: { operator: "train" },
        inputs: { data: { from: "ingest.data" } },
        params: overrides.train ?? { algorithm: "linear_regression", target: "km", features: ["km"] },
        outputs: { model: { kind: "Model" } },
      },
    ],
  } as unknown as PipelineSpec;
}

function problemsOf(input: unknown): Array<{ field: string; message: string }> {
  try {
    validatePipelineSpec(input);
    return [];
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, String(err));
    return err.problems;
  }
}

describe("operator parameters at apply and at trigger", () => {
  before(() => registerOperatorContracts(OPERATOR_CONTRACTS));

  it("accepts the valid spec", () => {
    assert.deepEqual(problemsOf(spec()), []);
  });

  it("refuses an unknown parameter at apply, naming the parameters the operator takes and the likely typo", () => {
    const problems = problemsOf(spec({ train: { algoritm: "linear_regression", target: "km", features: ["km"] } }));
    assert.deepEqual(
      problems.map((p) => p.field),
      ["stages[3].params.algorithm", "stages[3].params.algoritm"],
    );
    assertNames(problems[1].message, "algoritm", "algorithm", "target", "features", "hyperparameters", "train");
    assert.match(problems[1].message, /did you mean "algorithm"/);
  });

  it("names the allowed properties of a nested object and the likely typo", () => {
    const problems = problemsOf(
      spec({
        train: { algorithm: "linear_regression", target: "km", features: ["km"], preprocessing: [{ column: "km", scal: "standard" }] },
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.field),
      ["stages[3].params.preprocessing[0].scal"],
    );
    assertNames(problems[0].message, "column", "impute", "scale", "oneHot", "bucketize");
    assert.match(problems[0].message, /did you mean "scale"/);
  });

  it("checks a feature view in full at apply, with paths under the stage's view parameter", () => {
    const problems = problemsOf(
      spec({ view: { ...view, entities: ["ts"], features: [{ name: "km_7d", aggregation: "sum", expr: "km", window: "7 days" }] } }),
    );
    assert.deepEqual(
      problems.map((p) => p.field),
      ["stages[2].params.view.entities[0]", "stages[2].params.view.features[0].window"],
    );
    assertNames(problems[0].message, "timestampColumn");
    // The shape too: an unknown field of the view, and a view that is not even complete.
    assert.deepEqual(
      problemsOf(spec({ view: { ...view, timestampColum: "ts" } })).map((p) => p.field),
      ["stages[2].params.view.timestampColum"],
    );
    assert.deepEqual(
      problemsOf(spec({ view: { name: "v" } })).map((p) => p.field),
      [
        "stages[2].params.view.entities",
        "stages[2].params.view.timestampColumn",
        "stages[2].params.view.source",
        "stages[2].params.view.features",
      ],
    );
  });

  it("checks an expectation suite in full at apply, with paths under the stage's suite parameter", () => {
    const problems = problemsOf(
      spec({
        suite: {
          name: "trips",
          expectations: [
            { type: "between", column: "km", min: 5, max: 1 },
            { type: "not_a_type", column: "km" },
          ],
        },
      }),
    );
    // The suite's shape first (as validateSuite reports it), then what the shape cannot say.
    assert.deepEqual(
      problems.map((p) => p.field),
      ["stages[1].params.suite.expectations[1].type"],
    );
    assert.deepEqual(
      problemsOf(spec({ suite: { name: "trips", expectations: [{ type: "between", column: "km", min: 5, max: 1 }] } })).map((p) => p.field),
      ["stages[1].params.suite.expectations[0].max"],
    );
  });

  it("refuses at trigger an override the operator does not take, and a bad value", () => {
    const stored = validatePipelineSpec(spec()) as PipelineSpec;
    assert.throws(() => resolveStageParams(stored, "train", { algoritm: "x" }), inputError("params.train.algoritm", "algorithm", "target"));
    assert.throws(() => resolveStageParams(stored, "train", { algorithm: "x" }), inputError("params.train.algorithm"));
    assert.throws(
      () => resolveStageParams(stored, "features", { view: { ...view, entities: ["ts"] } }),
      inputError("params.features.view.entities[0]"),
    );
    assert.throws(
      () => resolveStageParams(stored, "check", { suite: { name: "s", expectations: [{ type: "between", column: "km" }] } }),
      inputError("params.check.suite.expectations[0]"),
    );
  });

  it("lays valid overrides over the spec's params, and leaves params without overrides as applied", () => {
    const stored = validatePipelineSpec(spec()) as PipelineSpec;
    assert.deepEqual(resolveStageParams(stored, "train", { seed: 7 }), {
      algorithm: "linear_regression",
      target: "km",
      features: ["km"],
      seed: 7,
    });
    assert.deepEqual(resolveStageParams(stored, "ingest"), { dataset: "trips", paths: ["trips.csv"], format: "csv" });
    assert.deepEqual(resolveStageParams(stored, "ingest", {}), { dataset: "trips", paths: ["trips.csv"], format: "csv" });
  });
});
