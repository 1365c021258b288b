import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diffSchemas, policyViolations } from "../../src/datasets/schema-diff";
import type { ColumnSchema } from "../../src/datasets/types";

const col = (name: string, type: string): ColumnSchema => ({ name, type, nullable: true });
const base = [col("id", "BIGINT"), col("city", "VARCHAR"), col("km", "INTEGER")];

describe("schema evolution", () => {
  it("finds no change between equal schemas", () => {
    const diff = diffSchemas(base, [...base]);
    assert.equal(diff.changed, false);
    assert.equal(diff.breaking, false);
    for (const policy of ["ALLOW_ALL", "FAIL_ON_BREAKING", "FAIL_ON_ANY"] as const) assert.deepEqual(policyViolations(diff, policy), []);
  });

  it("treats an added column as additive: allowed unless the policy refuses any change", () => {
    const diff = diffSchemas(base, [...base, col("rating", "DOUBLE")]);
    assert.deepEqual(
      diff.added.map((c) => c.name),
      ["rating"],
    );
    assert.equal(diff.breaking, false);
    assert.deepEqual(policyViolations(diff, "FAIL_ON_BREAKING"), []);
    assert.deepEqual(policyViolations(diff, "FAIL_ON_ANY"), ["column rating (DOUBLE) was added"]);
  });

  it("treats a removed column as breaking", () => {
    const diff = diffSchemas(base, [col("id", "BIGINT"), col("km", "INTEGER")]);
    assert.deepEqual(
      diff.removed.map((c) => c.name),
      ["city"],
    );
    assert.equal(diff.breaking, true);
    assert.deepEqual(policyViolations(diff, "ALLOW_ALL"), []);
    assert.deepEqual(policyViolations(diff, "FAIL_ON_BREAKING"), ["column city (VARCHAR) was removed"]);
  });

  it("tells a widening retype (INTEGER to BIGINT) from a narrowing or lossy one", () => {
    const widened = diffSchemas(base, [col("id", "BIGINT"), col("city", "VARCHAR"), col("km", "BIGINT")]);
    assert.deepEqual(widened.retyped, [{ name: "km", from: "INTEGER", to: "BIGINT", widening: true }]);
    assert.equal(widened.breaking, false);
    assert.deepEqual(policyViolations(widened, "FAIL_ON_BREAKING"), []);
    assert.equal(policyViolations(widened, "FAIL_ON_ANY").length, 1);
    const lossy = diffSchemas(base, [col("id", "VARCHAR"), col("city", "VARCHAR"), col("km", "INTEGER")]);
    assert.deepEqual(lossy.retyped, [{ name: "id", from: "BIGINT", to: "VARCHAR", widening: false }]);
    assert.equal(lossy.breaking, true);
    assert.equal(policyViolations(lossy, "FAIL_ON_BREAKING").length, 1);
  });

  it("reports a renamed-looking column once, by its name or by its values", () => {
    const byName = diffSchemas(base, [col("id", "BIGINT"), col("City", "VARCHAR"), col("km", "INTEGER")]);
    assert.equal(byName.renamed.length, 1);
    assert.equal(byName.renamed[0].from, "city");
    assert.equal(byName.renamed[0].to, "City");
    assert.deepEqual(byName.added, []);
    assert.deepEqual(byName.removed, []);
    assert.equal(byName.breaking, true);
    assert.match(policyViolations(byName, "FAIL_ON_BREAKING")[0], /city looks renamed to City/);

    const spelled = diffSchemas([col("kilometers", "DOUBLE")], [col("kilometres", "DOUBLE")]);
    assert.equal(spelled.renamed[0]?.reason, "similar names (80% alike)");

    const profile = (name: string) => ({
      rowCount: 10,
      columns: [
        {
          name,
          type: "INTEGER",
          kind: "numeric" as const,
          count: 10,
          nullCount: 0,
          distinctCount: 7,
          distinctExact: true,
          distinctEstimate: 7,
          min: 1,
          max: 90,
          mean: 40,
          std: 20,
          quantiles: [],
          quantilesExact: true,
          histogram: [],
          topValues: [],
        },
      ],
    });
    const byValues = diffSchemas([col("km", "INTEGER")], [col("distance", "INTEGER")], {
      prevProfile: profile("km"),
      nextProfile: profile("distance"),
    });
    assert.deepEqual(
      byValues.renamed.map((r) => [r.from, r.to, r.reason]),
      [["km", "distance", "same counts, range and distinct values"]],
    );
    // Different types never pair, whatever the names.
    const unrelated = diffSchemas([col("km", "INTEGER")], [col("kms", "VARCHAR")]);
    assert.equal(unrelated.renamed.length, 0);
    assert.equal(unrelated.removed.length, 1);
    assert.equal(unrelated.added.length, 1);
  });
});
