import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { eventually } from "../helpers/eventually";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { infer } from "./helpers";
import { setUpDriverModel } from "./driver-model";

/**
 * Enrichment read as of another instant than now (`parameters.features_as_of`), as a replay of
 * past traffic needs: the view's rows are from January 2026 with a two-day TTL, its latest row
 * per driver on 2026-01-20 08:00.
 */

const PREDICTIONS = `query($p: ID!, $m: String!) { predictions(projectId: $p, model: $m, first: 100) { nodes { requestId rowIndex inputs } } }`;

/** A counter's value in /metrics, for the line whose labels include every one of `labels`. */
async function counter(t: TestServer, name: string, labels: string[]): Promise<number> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  const line = (await res.text()).split("\n").find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("online-feature enrichment as of a given instant", () => {
  let t: TestServer;
  let projectId: string;
  let dir: string;
  let previousRoots: string | undefined;
  const path_ = "/v2/models/drivers/infer";
  const send = (body: unknown) => infer(t, path_, body, { project: projectId });
  const logged = async (requestId: string) => {
    return eventually(async () => {
      const rows = dataOf(await t.gql(PREDICTIONS, { p: projectId, m: "drivers" }))
        .predictions.nodes.filter((r: any) => r.requestId === requestId)
        .sort((a: any, b: any) => a.rowIndex - b.rowIndex);
      assert.ok(rows.length > 0, `the prediction log has ${requestId}`);
      return rows.map((r: any) => r.inputs);
    });
  };
  const asOf = (instant: string, id: string) =>
    send({
      id,
      instances: [
        { driver: "ann", hour: 9 },
        { driver: "bob", hour: 18 },
      ],
      parameters: { features_as_of: instant },
    });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-enrich-asof-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    process.env.SLUICE_DATA_ROOTS = dir;
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dir } });
    projectId = await seedProject(t, "enrich-as-of");

    // Two days: against today's clock the January 2026 rows are long expired.
    await setUpDriverModel(t, projectId, dir, 2 * 24 * 3600);
  });

  after(async () => {
    await t?.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("imputes every key against today's clock, and says so in the response and /metrics", async () => {
    const before = await counter(t, "sluice_serving_feature_misses_total", ['view="driver_stats"', 'reason="expired"']);
    const now = await send({
      id: "now",
      instances: [
        { driver: "ann", hour: 9 },
        { driver: "bob", hour: 18 },
      ],
    });
    assert.equal(now.status, 200, JSON.stringify(now.body));
    assert.deepEqual(now.body.parameters, { features_looked_up: 2, features_imputed: 2 });
    assert.equal(await counter(t, "sluice_serving_feature_misses_total", ['view="driver_stats"', 'reason="expired"']), before + 2);
    assert.deepEqual(
      (await logged("now")).map((i: any) => [i.km, i.km_sum_2d]),
      [
        [null, null],
        [null, null],
      ],
    );
  });

  it("finds the features as of an instant inside the TTL", async () => {
    const inside = await asOf("2026-01-21T00:00:00Z", "inside");
    assert.equal(inside.status, 200, JSON.stringify(inside.body));
    assert.deepEqual(inside.body.parameters, { features_looked_up: 2, features_imputed: 0 });
    const [ann, bob] = await logged("inside");
    assert.equal(ann.km, 60, "ann's latest trip (day 20: 40 + 20 km)");
    assert.equal(bob.km, 7, "bob's latest trip (day 20: 5 + 20 % 3 km)");
    // The model saw them: the same as sending the values.
    const explicit = await send({
      instances: [
        { hour: 9, km: ann.km, km_sum_2d: ann.km_sum_2d },
        { hour: 18, km: bob.km, km_sum_2d: bob.km_sum_2d },
      ],
    });
    assert.deepEqual(inside.body.predictions, explicit.body.predictions);
    // A date alone is its midnight UTC: also inside.
    assert.deepEqual((await asOf("2026-01-22", "date-only")).body.parameters, { features_looked_up: 2, features_imputed: 0 });
  });

  it("imputes, and reports, as of an instant past the TTL or before the stored rows", async () => {
    for (const [instant, id] of [
      ["2026-01-23T00:00:00Z", "after-ttl"],
      ["2026-01-10T00:00:00Z", "before-rows"],
    ] as const) {
      const answer = await asOf(instant, id);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.parameters, { features_looked_up: 2, features_imputed: 2 }, instant);
      assert.deepEqual(
        (await logged(id)).map((i: any) => i.km),
        [null, null],
      );
    }
  });

  it("refuses a features_as_of that is not an instant, naming it", async () => {
    const bad = await asOf("last tuesday", "bad");
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /parameters\.features_as_of/);
  });
});
