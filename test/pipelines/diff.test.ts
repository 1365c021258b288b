import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diffSpecs, formatSpecDiff } from "../../src/pipelines/diff";
import { validatePipelineSpec } from "../../src/pipelines/validate";
import { bare, diamond } from "./sample-specs";

describe("diffSpecs", () => {
  it("finds nothing between specs that differ only in defaults and key order", () => {
    const normalized = validatePipelineSpec(diamond());
    const diff = diffSpecs(diamond(), normalized);
    assert.equal(diff.equal, true);
    assert.deepEqual(diff, { equal: true, pipeline: [], stagesAdded: [], stagesRemoved: [], stagesChanged: [] });
    assert.deepEqual(formatSpecDiff(diff), ["no changes"]);
  });

  it("reports stages added and removed, in each spec's order", () => {
    const after: any = diamond();
    after.stages = after.stages.filter((s: any) => s.name !== "stats");
    delete after.stages[2].inputs.stats;
    after.stages.push(bare("evaluate", { inputs: { model: { from: "train.model" } } }), bare("publish"));
    const diff = diffSpecs(diamond(), after);
    assert.deepEqual(diff.stagesAdded, ["evaluate", "publish"]);
    assert.deepEqual(diff.stagesRemoved, ["stats"]);
    assert.deepEqual(
      diff.stagesChanged.map((s) => [s.name, s.changes.map((c) => [c.path, c.change])]),
      [["train", [["inputs.stats", "removed"]]]],
    );
    assert.equal(diff.equal, false);
  });

  it("reports each changed field of a stage with its path and before and after values", () => {
    const after: any = diamond();
    after.stages[3].params = { epochs: 10, lr: 0.1 };
    after.stages[3].retries = { max: 3 };
    after.stages[3].inputs.table = { from: "ingest.raw" };
    after.stages[1].run = { operator: "features" };
    after.stages[2].runner = { labels: ["gpu", "local"] };
    const diff = diffSpecs(diamond(), after);
    const byStage = Object.fromEntries(diff.stagesChanged.map((s) => [s.name, s.changes]));
    assert.deepEqual(Object.keys(byStage), ["features", "stats", "train"]);
    assert.deepEqual(byStage.features, [
      { path: "run.command", change: "removed", before: ["python", "features.py"] },
      { path: "run.operator", change: "added", after: "features" },
    ]);
    assert.deepEqual(byStage.stats, [{ path: "runner.labels", change: "changed", before: ["local"], after: ["gpu", "local"] }]);
    assert.deepEqual(byStage.train, [
      { path: "inputs.table.from", change: "changed", before: "features.table", after: "ingest.raw" },
      { path: "params.epochs", change: "changed", before: 3, after: 10 },
      { path: "params.lr", change: "added", after: 0.1 },
      { path: "retries.max", change: "changed", before: 0, after: 3 },
    ]);
  });

  it("reports pipeline fields and a new stage order", () => {
    const after: any = diamond();
    after.description = undefined;
    after.maxParallel = 4;
    [after.stages[1], after.stages[2]] = [after.stages[2], after.stages[1]];
    const diff = diffSpecs(diamond(), after);
    assert.deepEqual(
      diff.pipeline.map((c) => [c.path, c.change]),
      [
        ["description", "removed"],
        ["maxParallel", "added"],
        ["stageOrder", "changed"],
      ],
    );
    assert.deepEqual(diff.pipeline[2].after, ["ingest", "stats", "features", "train"]);
    assert.deepEqual(diff.stagesChanged, []);
  });

  it("still compares a spec that no longer validates, with its defaults filled in", () => {
    const stale: any = diamond();
    stale.stages[3].params = { epochs: 3, retired: true }; // refused by the schema today
    const diff = diffSpecs(stale, diamond());
    assert.deepEqual(diff.stagesChanged, [{ name: "train", changes: [{ path: "params.retired", change: "removed", before: true }] }]);
  });

  it("prints a diff as lines for a terminal", () => {
    const after: any = diamond();
    after.maxParallel = 8;
    after.stages[3].params.epochs = 5;
    after.stages.push(bare("publish"));
    assert.deepEqual(formatSpecDiff(diffSpecs(diamond(), after)), [
      "+ maxParallel: 8",
      "+ stage publish",
      "~ stage train",
      "    ~ params.epochs: 3 -> 5",
    ]);
  });
});
