import "reflect-metadata";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse, validate } from "graphql";
import { buildSluiceSchema } from "../../src/app/graphql/schema";
import { type DemoSummary, summaryLines } from "../../src/demo/flights-demo";

describe("the demo's summary", () => {
  const summary: DemoSummary = {
    projectId: "0b0e8f8e-3a43-4c53-9f5e-2f0f6f7c1a11",
    versions: [{ version: 1, status: "APPROVED", rocAuc: 0.7, trainedThrough: "2001-02-28", aliases: ["champion"] }],
    months: [{ month: "2001-03", flights: 10, auc: 0.6, versions: { "1": 10 }, windows: 1, maxPsi: 0.2, alerts: 0 }],
    retrainingRuns: 0,
    enrichment: { flights: 50, asOf: "2001-03-01T00:00:00.000Z", lookedUp: 100, imputed: 0 },
  };
  /** The lines of the summary that are GraphQL operations: they open with `{`, `query`, `subscription` or `mutation`. */
  const operations = () =>
    summaryLines(summary, "http://localhost:4000")
      .map((l) => l.trim())
      .filter((l) => /^(\{|query\b|subscription\b|mutation\b)/.test(l));

  it("prints GraphQL operations that parse and validate against the schema", async () => {
    const schema = await buildSluiceSchema();
    const printed = operations();
    assert.ok(printed.length >= 4, `the summary prints operations to try: ${printed.join(" | ")}`);
    for (const op of printed) {
      const errors = validate(schema, parse(op));
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
        op,
      );
      assert.ok(op.includes(summary.projectId), `${op} names the demo's project`);
    }
  });

  it("names only root fields that exist", async () => {
    const schema = await buildSluiceSchema();
    const text = summaryLines(summary, "http://localhost:4000").join("\n");
    assert.ok(!text.includes("modelVersions"), "there is no modelVersions query");
    const roots = new Set([...Object.keys(schema.getQueryType()!.getFields()), ...Object.keys(schema.getSubscriptionType()!.getFields())]);
    for (const op of operations()) {
      const name = /\{\s*(\w+)/.exec(op)![1]!;
      assert.ok(roots.has(name), `${name} is a root field`);
    }
  });
});
