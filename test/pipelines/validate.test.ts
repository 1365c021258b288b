import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError, type InputProblem } from "../../src/kernel/errors";
import type { PipelineSpec } from "../../src/pipelines/spec";
import { resolveStageParams, validatePipelineSpec } from "../../src/pipelines/validate";
import { assertNames } from "../helpers/names";
import { bare, diamond } from "./sample-specs";

/** The problems validation reports for `input` (failing the test when it accepts it). */
function problemsOf(input: unknown): InputProblem[] {
  try {
    validatePipelineSpec(input);
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("the spec was accepted");
}

const fieldsOf = (input: unknown) => problemsOf(input).map((p) => p.field);

/** A diamond with `change` applied to a fresh copy. */
function diamondWith(change: (spec: any) => void): PipelineSpec {
  const spec = diamond();
  change(spec);
  return spec;
}

describe("validatePipelineSpec", () => {
  it("accepts a diamond and returns it with every default filled in", () => {
    const spec = validatePipelineSpec(diamond());
    assert.deepEqual(
      spec.stages.map((s) => s.name),
      ["ingest", "features", "stats", "train"],
    );
    const ingest = spec.stages[0];
    assert.deepEqual(ingest.inputs, {});
    assert.deepEqual(ingest.params, {});
    assert.deepEqual(ingest.runner, { labels: ["local"] });
    assert.deepEqual(ingest.retries, { max: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000 });
    assert.deepEqual(ingest.cache, { enabled: false });
    assert.deepEqual(spec.stages[3].run, { module: "./train.ts", export: "default" });
    assert.deepEqual(spec.stages[3].params, { epochs: 3 }, "schema defaults are not written into the spec");
  });

  it("normalizes omitted defaults and explicit defaults to equal specs", () => {
    const explicit = diamondWith((s) => {
      for (const stage of s.stages) {
        stage.inputs ??= {};
        stage.outputs ??= {};
        stage.params ??= {};
        stage.runner = { labels: ["local"] };
        stage.retries = { max: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000 };
        stage.cache = { enabled: false };
        stage.timeoutMs = undefined;
      }
      s.stages[3].run.export = "default";
    });
    assert.deepEqual(validatePipelineSpec(explicit), validatePipelineSpec(diamond()));
  });

  it("returns an equal spec when given its own output, and never changes its input", () => {
    const input = diamond();
    const before = structuredClone(input);
    const once = validatePipelineSpec(input);
    assert.deepEqual(validatePipelineSpec(once), once);
    assert.deepEqual(input, before);
  });

  it("treats runner labels as a set: sorted, without repeats", () => {
    const spec = validatePipelineSpec({ name: "p", stages: [bare("a", { runner: { labels: ["gpu", "cuda-12", "gpu"] } })] });
    assert.deepEqual(spec.stages[0].runner.labels, ["cuda-12", "gpu"]);
  });

  it("refuses what is not an object, naming the whole spec", () => {
    for (const input of [null, undefined, 42, "name: x", [diamond()]]) assert.deepEqual(fieldsOf(input), ["spec"]);
  });

  it("refuses a cycle at the input that closes it, spelling the cycle out", () => {
    const problems = problemsOf({
      name: "loop",
      stages: [
        bare("a", { inputs: { back: { from: "c.out" } }, outputs: { out: { kind: "Dataset" } } }),
        bare("b", { inputs: { in: { from: "a.out" } }, outputs: { out: { kind: "Dataset" } } }),
        bare("c", { inputs: { in: { from: "b.out" } }, outputs: { out: { kind: "Dataset" } } }),
        bare("d", { inputs: { in: { from: "c.out" } } }),
      ],
    });
    assert.deepEqual(
      problems.map((p) => p.field),
      ["stages[0].inputs.back"],
    );
    assertNames(problems[0].message, "a -> b -> c -> a");
  });

  it("reports each separate cycle once", () => {
    const fields = fieldsOf({
      name: "loops",
      stages: [
        bare("a", { inputs: { x: { from: "b.o" } }, outputs: { o: { kind: "File" } } }),
        bare("b", { inputs: { x: { from: "a.o" } }, outputs: { o: { kind: "File" } } }),
        bare("c", { inputs: { x: { from: "d.o" } }, outputs: { o: { kind: "File" } } }),
        bare("d", { inputs: { x: { from: "c.o" } }, outputs: { o: { kind: "File" } } }),
      ],
    });
    assert.deepEqual(fields, ["stages[0].inputs.x", "stages[2].inputs.x"]);
  });

  it("refuses an input from a stage that does not exist", () => {
    assert.deepEqual(fieldsOf(diamondWith((s) => (s.stages[3].inputs.table = { from: "featurez.table" }))), ["stages[3].inputs.table"]);
  });

  it("refuses an input from an output the stage does not declare", () => {
    assert.deepEqual(fieldsOf(diamondWith((s) => (s.stages[3].inputs.table = { from: "features.tabel" }))), ["stages[3].inputs.table"]);
  });

  it("refuses a from that is not stage.output", () => {
    for (const from of ["features", "features.table.x", ".table", ""]) {
      assert.deepEqual(fieldsOf(diamondWith((s) => (s.stages[3].inputs.table = { from }))), ["stages[3].inputs.table"], from);
    }
  });

  it("refuses a stage reading its own output", () => {
    assert.deepEqual(fieldsOf(diamondWith((s) => (s.stages[1].inputs.again = { from: "features.table" }))), ["stages[1].inputs.again"]);
  });

  it("refuses an unknown artifact kind, and an artifact input without a kind", () => {
    assert.deepEqual(
      fieldsOf(
        diamondWith((s) => {
          s.stages[3].inputs.base = { artifact: "art_123", kind: "Checkpoint" };
          s.stages[3].inputs.other = { artifact: "art_456" };
          s.stages[0].outputs.raw.kind = "dataset";
        }),
      ),
      ["stages[0].outputs.raw.kind", "stages[3].inputs.base.kind", "stages[3].inputs.other.kind"],
    );
  });

  it("accepts a stored artifact as an input with its kind", () => {
    const spec = validatePipelineSpec(diamondWith((s) => (s.stages[3].inputs.base = { artifact: "art_123", kind: "Model" })));
    assert.deepEqual(spec.stages[3].inputs.base, { artifact: "art_123", kind: "Model" });
  });

  it("refuses a kind on a from input, whether or not it matches the output's kind", () => {
    assert.deepEqual(
      fieldsOf(
        diamondWith((s) => {
          s.stages[3].inputs.table = { from: "features.table", kind: "Dataset" };
          s.stages[3].inputs.stats = { from: "stats.report", kind: "Report" };
        }),
      ),
      ["stages[3].inputs.table.kind", "stages[3].inputs.stats.kind"],
    );
  });

  it("refuses an input with both from and artifact, or neither", () => {
    assert.deepEqual(
      fieldsOf(
        diamondWith((s) => {
          s.stages[3].inputs.table = { from: "features.table", artifact: "a1", kind: "FeatureSet" };
          s.stages[3].inputs.stats = {};
        }),
      ),
      ["stages[3].inputs.table", "stages[3].inputs.stats"],
    );
  });

  it("refuses duplicate stage names at each later stage", () => {
    assert.deepEqual(fieldsOf({ name: "p", stages: [bare("a"), bare("b"), bare("a"), bare("a")] }), ["stages[2].name", "stages[3].name"]);
  });

  it("refuses bad pipeline, stage, input and output names", () => {
    const fields = fieldsOf({
      name: "My Pipeline",
      stages: [
        bare("Train"),
        bare("-x"),
        bare("a".repeat(64)),
        bare("ok", { outputs: { "out.put": { kind: "File" } }, inputs: { "in put": { artifact: "a1", kind: "File" } } }),
      ],
    });
    assert.deepEqual(fields, [
      "name",
      "stages[0].name",
      "stages[1].name",
      "stages[2].name",
      'stages[3].outputs["out.put"]',
      'stages[3].inputs["in put"]',
    ]);
  });

  it("accepts names at the limits of the pattern", () => {
    validatePipelineSpec({ name: "0", stages: [bare("a".repeat(63)), bare("a_b-c9")] });
  });

  it("refuses a stage with two ways to run, or none", () => {
    assert.deepEqual(
      fieldsOf({
        name: "p",
        stages: [
          { name: "a", run: { operator: "noop", command: ["echo"] } },
          { name: "b", run: { module: "./m.ts", operator: "noop", command: ["x"] } },
          { name: "c", run: {} },
        ],
      }),
      ["stages[0].run", "stages[1].run", "stages[2].run"],
    );
  });

  it("refuses run fields that belong to another way to run", () => {
    assert.deepEqual(fieldsOf({ name: "p", stages: [{ name: "a", run: { operator: "noop", export: "main", cwd: "/tmp" } }] }), [
      "stages[0].run.export",
      "stages[0].run.cwd",
    ]);
  });

  it("refuses an empty command, an empty program and a bad environment variable name", () => {
    assert.deepEqual(
      fieldsOf({
        name: "p",
        stages: [
          { name: "a", run: { command: [] } },
          { name: "b", run: { command: ["", "x"] } },
          { name: "c", run: { command: ["x"], env: { "1BAD": "1", GOOD: "2" } } },
        ],
      }),
      ["stages[0].run.command", "stages[1].run.command[0]", 'stages[2].run.env["1BAD"]'],
    );
  });

  it("refuses a paramsSchema that does not compile, with ajv's reason", () => {
    const problems = problemsOf(
      diamondWith((s) => {
        s.stages[3].paramsSchema = { type: "object", properties: { lr: { type: "float" } } };
        s.stages[2].paramsSchema = { type: "object", properties: { n: { minimun: 1 } } };
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.field),
      ["stages[2].paramsSchema", "stages[3].paramsSchema"],
    );
  });

  it("refuses params the schema refuses, one problem per ajv error at its path", () => {
    assert.deepEqual(fieldsOf(diamondWith((s) => (s.stages[3].params = { lr: -1, extra: true }))).sort(), [
      "stages[3].params.epochs",
      "stages[3].params.extra",
      "stages[3].params.lr",
    ]);
  });

  it("reports nested params errors with array indexes", () => {
    const fields = fieldsOf({
      name: "p",
      stages: [
        bare("a", {
          paramsSchema: {
            type: "object",
            properties: { layers: { type: "array", items: { type: "object", properties: { units: { type: "integer" } } } } },
          },
          params: { layers: [{ units: 8 }, { units: "wide" }] },
        }),
      ],
    });
    assert.deepEqual(fields, ["stages[0].params.layers[1].units"]);
  });

  it("checks string formats and understands draft 2020-12 schemas", () => {
    assert.deepEqual(
      fieldsOf({
        name: "p",
        stages: [
          bare("a", {
            paramsSchema: {
              $schema: "https://json-schema.org/draft/2020-12/schema",
              type: "object",
              properties: {
                since: { type: "string", format: "date-time" },
                pair: { type: "array", prefixItems: [{ type: "string" }, { type: "number" }] },
              },
            },
            params: { since: "yesterday", pair: ["a", "b"] },
          }),
        ],
      }),
      ["stages[0].params.since", "stages[0].params.pair[1]"],
    );
  });

  it("refuses retry values out of range", () => {
    const fields = fieldsOf({
      name: "p",
      stages: [
        bare("a", { retries: { max: 21 } }),
        bare("b", { retries: { max: -1, initialDelayMs: 0, factor: 0.5, maxDelayMs: -5 } }),
        bare("c", { retries: { max: 1.5, initialDelayMs: 5000, maxDelayMs: 1000 } }),
        bare("d", { retries: { initialDelayMs: 10 } as any }),
      ],
    });
    assert.deepEqual(fields, [
      "stages[0].retries.max",
      "stages[1].retries.max",
      "stages[1].retries.initialDelayMs",
      "stages[1].retries.factor",
      "stages[1].retries.maxDelayMs",
      "stages[2].retries.max",
      "stages[2].retries.maxDelayMs",
      "stages[3].retries.max",
    ]);
  });

  it("refuses non-positive timeouts and limits, and timers Node cannot keep", () => {
    const fields = fieldsOf({
      name: "p",
      maxParallel: 0,
      maxConcurrentRuns: 2.5,
      stages: [bare("a", { timeoutMs: 0 }), bare("b", { timeoutMs: 2 ** 31 }), bare("c", { timeoutMs: -1 })],
    });
    assert.deepEqual(fields, ["maxParallel", "maxConcurrentRuns", "stages[0].timeoutMs", "stages[1].timeoutMs", "stages[2].timeoutMs"]);
  });

  it("refuses empty or padded runner labels", () => {
    assert.deepEqual(
      fieldsOf({
        name: "p",
        stages: [bare("a", { runner: { labels: ["gpu", "", " x"] } }), bare("b", { runner: { labels: [3] as any } })],
      }),
      ["stages[0].runner.labels[1]", "stages[0].runner.labels[2]", "stages[1].runner.labels[0]"],
    );
  });

  it("refuses unknown fields, naming each", () => {
    assert.deepEqual(
      fieldsOf({
        name: "p",
        version: 2,
        stages: [bare("a", { retry: { max: 1 } } as any), bare("b", { cache: { enabled: true, ttl: 5 } } as any)],
      }),
      ["version", "stages[0].retry", "stages[1].cache.ttl"],
    );
  });

  it("refuses missing required fields and wrong types", () => {
    assert.deepEqual(fieldsOf({ stages: [] }), ["name", "stages"]);
    assert.deepEqual(
      fieldsOf({ name: "p", stages: [{ name: "a" }, { run: { operator: "x" } }, "b", { name: "c", run: { operator: 1 }, params: [] }] }),
      ["stages[0].run", "stages[1].name", "stages[2]", "stages[3].run.operator", "stages[3].params"],
    );
  });

  it("refuses values JSON cannot hold, at their path", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const fields = fieldsOf({
      name: "p",
      stages: [bare("a", { params: { fn: () => 1, nan: Number.NaN, when: new Date(0), cyclic, list: [1, undefined] } })],
    });
    assert.deepEqual(fields, [
      "stages[0].params.fn",
      "stages[0].params.nan",
      "stages[0].params.when",
      "stages[0].params.cyclic.self",
      "stages[0].params.list[1]",
    ]);
  });

  it("treats keys set to undefined as omitted", () => {
    const spec = validatePipelineSpec({
      name: "p",
      description: undefined,
      stages: [bare("a", { timeoutMs: undefined, params: { x: undefined, y: 1 } })],
    });
    assert.equal("description" in spec, false);
    assert.equal("timeoutMs" in spec.stages[0], false);
    assert.deepEqual(spec.stages[0].params, { y: 1 });
  });

  it("reports every problem of a spec at once, stage by stage", () => {
    const fields = fieldsOf({
      name: "Bad",
      stages: [
        { name: "a", run: { operator: "noop", module: "./x.ts" }, retries: { max: 99 } },
        { name: "b", run: { operator: "noop" }, inputs: { x: { from: "nowhere.out" }, y: { from: "a.missing" } } },
        { name: "a", run: { operator: "noop" }, paramsSchema: { type: "object", required: ["k"] } },
      ],
    });
    assert.deepEqual(fields, [
      "name",
      "stages[0].retries.max",
      "stages[0].run",
      "stages[1].inputs.x",
      "stages[1].inputs.y",
      "stages[2].name",
      "stages[2].params.k",
    ]);
  });
});

describe("resolveStageParams", () => {
  const spec = validatePipelineSpec(diamond());

  it("fills schema defaults into the stage's params", () => {
    assert.deepEqual(resolveStageParams(spec, "train"), { epochs: 3, lr: 0.01 });
  });

  it("lays run-time overrides over the stage's params, replacing whole top-level values", () => {
    const nested = validatePipelineSpec({ name: "p", stages: [bare("a", { params: { opt: { lr: 1, momentum: 0.9 }, n: 1 } })] });
    assert.deepEqual(resolveStageParams(nested, "a", { opt: { lr: 2 } }), { opt: { lr: 2 }, n: 1 });
  });

  it("changes neither the spec nor the overrides", () => {
    const before = structuredClone(spec);
    const overrides = { epochs: 5 };
    const params = resolveStageParams(spec, "train", overrides);
    params.epochs = 99;
    assert.deepEqual(spec, before);
    assert.deepEqual(overrides, { epochs: 5 });
  });

  it("refuses overrides the schema refuses, at params.<stage>.<path>", () => {
    try {
      resolveStageParams(spec, "train", { epochs: 0, lr: "fast", batch: 32 });
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof InvalidInputError);
      assert.deepEqual(err.problems.map((p) => p.field).sort(), ["params.train.batch", "params.train.epochs", "params.train.lr"]);
    }
  });

  it("refuses an unknown stage and overrides that are not JSON data", () => {
    assert.throws(
      () => resolveStageParams(spec, "nope"),
      (err: unknown) => err instanceof InvalidInputError && err.problems[0].field === "params.nope",
    );
    assert.throws(
      () => resolveStageParams(spec, "train", { epochs: () => 3 } as any),
      (err: unknown) => err instanceof InvalidInputError && err.problems[0].field === "params.train.epochs",
    );
  });

  it("returns merged params as they are for a stage without a schema", () => {
    assert.deepEqual(resolveStageParams(spec, "ingest", { anything: [1, 2] }), { anything: [1, 2] });
  });
});
