import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError, NotFoundError } from "../../src/kernel/errors";
import { buildDag, topologicalOrder } from "../../src/pipelines/dag";
import { validatePipelineSpec } from "../../src/pipelines/validate";
import { bare, diamond, fanOutFanIn } from "./sample-specs";

describe("buildDag", () => {
  it("orders a diamond source first, join last, branches in declaration order", () => {
    const dag = buildDag(validatePipelineSpec(diamond()));
    assert.deepEqual(dag.order, ["ingest", "features", "stats", "train"]);
    assert.deepEqual(dag.roots, ["ingest"]);
    assert.deepEqual(dag.leaves, ["train"]);
  });

  it("gives direct upstream and downstream stages, and transitive descendants and ancestors", () => {
    const dag = buildDag(validatePipelineSpec(diamond()));
    assert.deepEqual(dag.upstreamOf("train"), ["features", "stats"]);
    assert.deepEqual(dag.upstreamOf("ingest"), []);
    assert.deepEqual(dag.downstreamOf("ingest"), ["features", "stats"]);
    assert.deepEqual(dag.downstreamOf("train"), []);
    assert.deepEqual(dag.descendantsOf("ingest"), ["features", "stats", "train"]);
    assert.deepEqual(dag.descendantsOf("stats"), ["train"]);
    assert.deepEqual(dag.ancestorsOf("train"), ["ingest", "features", "stats"]);
    assert.equal(dag.positionOf("train"), 3);
  });

  it("lists every wire, and counts two inputs from one stage as one upstream edge", () => {
    const dag = buildDag(
      validatePipelineSpec({
        name: "p",
        stages: [
          bare("a", { outputs: { x: { kind: "File" }, y: { kind: "File" } } }),
          bare("b", { inputs: { one: { from: "a.x" }, two: { from: "a.y" }, stored: { artifact: "art1", kind: "Model" } } }),
        ],
      }),
    );
    assert.deepEqual(dag.upstreamOf("b"), ["a"]);
    assert.deepEqual(dag.downstreamOf("a"), ["b"]);
    assert.deepEqual(dag.edges, [
      { from: "a", output: "x", to: "b", input: "one" },
      { from: "a", output: "y", to: "b", input: "two" },
    ]);
  });

  it("breaks ties by declaration order, even when a later-declared stage is ready first", () => {
    const spec = validatePipelineSpec({
      name: "p",
      stages: [
        bare("late", { inputs: { x: { from: "early.o" } } }),
        bare("free"),
        bare("early", { outputs: { o: { kind: "File" } } }),
        bare("also-free"),
      ],
    });
    assert.deepEqual(topologicalOrder(spec), ["free", "early", "late", "also-free"]);
    assert.deepEqual(buildDag(spec).roots, ["free", "early", "also-free"]);
  });

  it("throws NotFoundError for a stage it does not have", () => {
    const dag = buildDag(validatePipelineSpec(diamond()));
    for (const call of [dag.upstreamOf, dag.downstreamOf, dag.descendantsOf, dag.ancestorsOf, dag.positionOf]) {
      assert.throws(() => call("nope"), NotFoundError);
    }
  });

  it("refuses a spec with a cycle or an unknown stage, as validation would", () => {
    const cyclic = {
      name: "p",
      stages: [
        bare("a", { inputs: { x: { from: "b.o" } }, outputs: { o: { kind: "File" } } }),
        bare("b", { inputs: { x: { from: "a.o" } }, outputs: { o: { kind: "File" } } }),
      ],
    };
    assert.throws(
      () => buildDag(cyclic),
      (err: unknown) =>
        err instanceof InvalidInputError && err.problems[0].field === "stages[0].inputs.x" && /a -> b -> a/.test(err.problems[0].message),
    );
    assert.throws(
      () => buildDag({ name: "p", stages: [bare("a", { inputs: { x: { from: "ghost.o" } } })] }),
      (err: unknown) => err instanceof InvalidInputError && err.problems[0].field === "stages[0].inputs.x",
    );
  });

  // Its speed is measured in bench/run-engine.ts; a wall-clock bound here failed on a busy
  // machine. The generous bound only catches a blow-up (a quadratic walk per stage, say).
  it("builds a 1,000-stage fan-out and fan-in", () => {
    const spec = validatePipelineSpec(fanOutFanIn(1000));
    const started = performance.now();
    const dag = buildDag(spec);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `took ${elapsed.toFixed(1)} ms`);
    assert.equal(dag.order.length, 1002);
    assert.equal(dag.order[0], "source");
    assert.equal(dag.order[1001], "sink");
    assert.deepEqual(dag.order.slice(1, 4), ["w0999", "w0998", "w0997"], "workers in declaration order");
    assert.deepEqual(dag.roots, ["source"]);
    assert.equal(dag.downstreamOf("source").length, 1000);
    assert.equal(dag.upstreamOf("sink").length, 1000);
    assert.equal(dag.descendantsOf("source").length, 1001);
    assert.deepEqual(dag.descendantsOf("w0500"), ["sink"]);
  });

  it("handles a 5,000-stage chain without deep recursion", () => {
    const stages = Array.from({ length: 5000 }, (_, i) =>
      bare(`s${i}`, { outputs: { o: { kind: "File" } }, ...(i > 0 && { inputs: { x: { from: `s${i - 1}.o` } } }) }),
    );
    const dag = buildDag(validatePipelineSpec({ name: "chain", stages: stages.reverse() }));
    assert.equal(dag.order[0], "s0");
    assert.equal(dag.order[4999], "s4999");
    assert.equal(dag.ancestorsOf("s4999").length, 4999);
  });
});
