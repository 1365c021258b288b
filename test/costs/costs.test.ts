/**
 * Costs end to end on a real server: usage recorded per attempt and summed on stage runs and runs,
 * prices from SLUICE_PRICES under a project's own (audited), roll-ups equal to the sum of their
 * parts across groupings, inference usage per endpoint and model version, and budgets alerting
 * once per threshold and month on a controlled clock.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BudgetLoop } from "../../src/costs";
import { createLogger } from "../../src/kernel/logger";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, moduleRun, triggerRun, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { infer, linearModel, servedModel } from "../serving/helpers";

const PRICES = { currency: "EUR", cpuHour: 36, memoryGbHour: 3.6, storageGbMonth: 1000, millionRequests: 1000 };
const text = { kind: "File" };
/** A command stage: Node burning `seconds` of CPU, then writing its output. */
const burnStage = (name: string, seconds: number) => ({
  name,
  run: {
    command: [
      process.execPath,
      "-e",
      `const t0 = process.cpuUsage(); let x = 0; for (;;) { for (let i = 0; i < 1e5; i++) x += i; const u = process.cpuUsage(t0); if ((u.user + u.system) / 1e6 >= ${seconds}) break; }
       require("node:fs").writeFileSync(process.env.SLUICE_OUTPUT_OUT, "burnt " + x);`,
    ],
  },
  outputs: { out: text },
});

const USAGE = `attempts cpuSeconds wallSeconds memoryGbHours bytesRead bytesWritten storageGbMonths requests rows inferenceCpuSeconds`;
const COST = `currency compute memory storage requests total`;

interface Row {
  projectId: string | null;
  pipelineId: string | null;
  stageName: string | null;
  endpoint: string | null;
  modelVersionId: string | null;
  day: string | null;
  usage: Record<string, number>;
  cost: { currency: string; total: number; compute: number; storage: number; requests: number; memory: number };
}

async function costs(
  t: TestServer,
  groupBy: string[],
  from: Date,
  to: Date,
  projectId?: string,
): Promise<{ rows: Row[]; totalGroups: number; truncated: boolean }> {
  const res = await t.gql(
    `query($g: [CostGroupBy!]!, $from: DateTime!, $to: DateTime!, $p: ID) {
       costs(groupBy: $g, from: $from, to: $to, projectId: $p, first: 100) {
         totalGroups truncated rows { projectId pipelineId stageName endpoint modelVersionId day usage { ${USAGE} } cost { ${COST} } } } }`,
    { g: groupBy, from: from.toISOString(), to: to.toISOString(), p: projectId ?? null },
  );
  return dataOf(res).costs;
}

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);
const sum = (rows: Row[], pick: (r: Row) => number) => rows.reduce((s, r) => s + pick(r), 0);

describe("costs", () => {
  let t: TestServer;
  let projectId: string;
  let otherProject: string;
  let runId: string;
  let versionId: string;
  const start = new Date(Date.now() - 60_000);

  before(async () => {
    t = await startTestServer({
      env: { SLUICE_PRICES: JSON.stringify(PRICES), SLUICE_BUDGET_INTERVAL_MS: "0", SLUICE_ENDPOINT_STATS_FLUSH_MS: "300000" },
    });
    projectId = await seedProject(t, "costs");
    otherProject = await seedProject(t, "costs-other");
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "burn",
      stages: [
        burnStage("burn", 0.5),
        { name: "relay", run: moduleRun("relay"), inputs: { in: { from: "burn.out" } }, outputs: { out: text } },
      ],
    });
    runId = await triggerRun(t, pipelineId);
    const run = await waitForRun(t, runId, 60_000);
    assert.equal(run.status, "SUCCEEDED", JSON.stringify(run.error));
    const other = await applyPipeline(t, otherProject, { name: "other", stages: [burnStage("b", 0.2)] });
    assert.equal((await waitForRun(t, await triggerRun(t, other.pipelineId), 60_000)).status, "SUCCEEDED");
    // Inference: three requests of one and two rows to a served model.
    versionId = (await servedModel(t, projectId, "linear", linearModel([1, 2], 0))).versionId;
    for (const rows of [
      [[1, 1]],
      [[1, 2]],
      [
        [3, 4],
        [5, 6],
      ],
    ]) {
      const body = { inputs: [{ name: "X", shape: [rows.length, 2], datatype: "FP32", data: rows.flat() }] };
      assert.equal((await infer(t, "/v2/models/linear/infer", body, { project: projectId })).status, 200);
    }
    await t.server.services.endpointStatsRecorder.flush();
  });
  after(async () => {
    await t?.close();
  });

  it("records each attempt's usage and sums it on the stage run and the run, with the run's cost", async () => {
    const res = await t.gql(
      `query($id: ID!) { run(id: $id) { usage { attempts cpuSeconds wallSeconds peakMemoryBytes memoryGbHours bytesWritten method }
         cost { usage { cpuSeconds memoryGbHours } cost { ${COST} } }
         stageRuns { stageName usage { attempts cpuSeconds } attempts { usage { method cpuSeconds wallSeconds peakMemoryBytes bytesRead bytesWritten } } } } }`,
      { id: runId },
    );
    const run = dataOf(res).run;
    const burn = run.stageRuns.find((s: { stageName: string }) => s.stageName === "burn");
    const relay = run.stageRuns.find((s: { stageName: string }) => s.stageName === "relay");
    const attempt = burn.attempts[0].usage;
    assert.equal(attempt.method, "process-tree");
    assert.ok(Math.abs(attempt.cpuSeconds - 0.5) <= 0.15, `burn cpuSeconds ${attempt.cpuSeconds}`);
    assert.ok(attempt.peakMemoryBytes > 10e6 && attempt.wallSeconds > 0);
    assert.equal(relay.attempts[0].usage.method, "worker-thread");
    assert.equal(relay.attempts[0].usage.peakMemoryBytes, null);
    assert.equal(burn.usage.attempts, 1);
    assert.equal(burn.usage.cpuSeconds, attempt.cpuSeconds);
    assert.equal(run.usage.attempts, 2);
    near(run.usage.cpuSeconds, burn.usage.cpuSeconds + relay.usage.cpuSeconds, "run cpu = sum of its stages'");
    assert.equal(run.usage.peakMemoryBytes, attempt.peakMemoryBytes);
    near(run.cost.cost.compute, (run.usage.cpuSeconds / 3600) * PRICES.cpuHour, "compute cost");
    near(run.cost.cost.memory, run.usage.memoryGbHours * PRICES.memoryGbHour, "memory cost");
    assert.equal(run.cost.cost.currency, "EUR");
  });

  it("takes prices from SLUICE_PRICES, overridden per project by an audited mutation that refuses bad prices", async () => {
    const view = async (p: string) =>
      dataOf(
        await t.gql(
          `query($p: ID!) { projectCostSettings(projectId: $p) { prices { currency cpuHour memoryGbHour storageGbMonth millionRequests } priceOverride } }`,
          { p },
        ),
      ).projectCostSettings;
    assert.deepEqual((await view(projectId)).prices, PRICES);
    const set = async (input: Record<string, unknown>) =>
      dataOf(
        await t.gql(
          `mutation($i: SetProjectCostSettingsInput!) { setProjectCostSettings(input: $i) { __typename
             ... on ProjectCostSettingsPayload { settings { prices { currency cpuHour storageGbMonth } } }
             ... on InvalidInputError { problems { field } } } }`,
          { i: input },
        ),
      ).setProjectCostSettings;
    const bad = await set({ projectId: otherProject, prices: { cpuHour: -1, gpuHour: 3 } });
    assert.equal(bad.__typename, "InvalidInputError");
    assert.deepEqual(bad.problems.map((p: { field: string }) => p.field).sort(), ["prices.cpuHour", "prices.gpuHour"]);
    // Another currency than the server's needs every price restated in it.
    const mixed = await set({ projectId: otherProject, prices: { currency: "USD", cpuHour: 1 } });
    assert.deepEqual(
      mixed.problems.map((p: { field: string }) => p.field),
      ["prices.currency"],
    );
    const ok = await set({ projectId: otherProject, prices: { cpuHour: 72 } });
    assert.equal(ok.__typename, "ProjectCostSettingsPayload");
    assert.deepEqual(ok.settings.prices, { currency: "EUR", cpuHour: 72, storageGbMonth: PRICES.storageGbMonth });
    assert.deepEqual((await view(otherProject)).priceOverride, { cpuHour: 72 });
    assert.equal((await view(projectId)).prices.cpuHour, PRICES.cpuHour, "other projects keep the server's prices");
    const [audit] = await t.server.services.db.dataSource.query(
      `SELECT action FROM audit_events WHERE action = 'costs.settings.set' AND outcome = 'SUCCEEDED'`,
    );
    assert.ok(audit, "the change is audited");
    // The other project's costs are now at its own CPU price.
    const { rows } = await costs(t, ["PROJECT"], start, new Date(Date.now() + 60_000), otherProject);
    near(rows[0]!.cost.compute, (rows[0]!.usage.cpuSeconds / 3600) * 72, "compute at the project's price");
  });

  it("rolls up to the sum of its parts across groupings, storage and inference included", async () => {
    const to = new Date(Date.now() + 60_000);
    const byProject = await costs(t, ["PROJECT"], start, to);
    const mine = byProject.rows.find((r) => r.projectId === projectId)!;
    assert.ok(
      mine.usage.cpuSeconds > 0 && mine.usage.storageGbMonths > 0 && mine.usage.requests === 3 && mine.usage.rows === 4,
      JSON.stringify(mine.usage),
    );
    assert.ok(mine.cost.storage > 0 && mine.cost.requests > 0);
    for (const groupBy of [
      ["PROJECT", "STAGE"],
      ["PROJECT", "DAY"],
      ["PROJECT", "ENDPOINT", "MODEL_VERSION"],
      ["PROJECT", "PIPELINE", "DAY"],
    ]) {
      const parts = (await costs(t, groupBy, start, to)).rows.filter((r) => r.projectId === projectId);
      for (const key of ["cpuSeconds", "memoryGbHours", "storageGbMonths", "requests", "rows", "inferenceCpuSeconds", "attempts"]) {
        near(
          sum(parts, (r) => r.usage[key]!),
          mine.usage[key]!,
          `${groupBy.join("+")} ${key}`,
        );
      }
      near(
        sum(parts, (r) => r.cost.total),
        mine.cost.total,
        `${groupBy.join("+")} total`,
      );
    }
    const total = await costs(t, [], start, to);
    near(
      sum(total.rows, (r) => r.cost.total),
      sum(byProject.rows, (r) => r.cost.total),
      "all projects",
    );
    const byVersion = (await costs(t, ["MODEL_VERSION"], start, to, projectId)).rows.find((r) => r.modelVersionId === versionId)!;
    assert.equal(byVersion.usage.requests, 3);
    near(byVersion.cost.requests, (3 / 1e6) * PRICES.millionRequests, "request cost");
    const capped = await costs(t, ["PROJECT", "STAGE"], start, to);
    assert.ok(capped.totalGroups >= 3 && !capped.truncated);
    const refused = await t.gql(
      `query { costs(groupBy: [PROJECT], from: "2020-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { totalGroups } }`,
    );
    assert.equal(refused.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", "a range over 400 days is refused");
  });

  it("gives a model version its serving cost, and no training cost for an uploaded file", async () => {
    const v = dataOf(
      await t.gql(
        `query($id: ID!) { modelVersion(id: $id) { trainingCost { cost { total } } servingCost { usage { requests rows } cost { ${COST} } } } }`,
        {
          id: versionId,
        },
      ),
    ).modelVersion;
    assert.equal(v.trainingCost, null);
    assert.equal(v.servingCost.usage.requests, 3);
    assert.equal(v.servingCost.usage.rows, 4);
    assert.ok(v.servingCost.cost.total > 0);
  });

  it("alerts once per budget threshold and month, on a controlled clock", async () => {
    const now = new Date(Date.now() + 1000);
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const spent = (await costs(t, ["PROJECT"], monthStart, now, projectId)).rows[0]!.cost.total;
    assert.ok(spent > 0);
    const loop = new BudgetLoop(t.server.services, () => true, 0, createLogger("silent"));
    loop.start();
    const setBudget = async (monthlyBudget: number) =>
      assert.equal(
        dataOf(
          await t.gql(`mutation($i: SetProjectCostSettingsInput!) { setProjectCostSettings(input: $i) { __typename } }`, {
            i: { projectId, monthlyBudget, budgetThresholds: [50, 80, 100] },
          }),
        ).setProjectCostSettings.__typename,
        "ProjectCostSettingsPayload",
      );
    const fired = async () =>
      (
        (await t.server.services.db.dataSource.query(
          `SELECT payload FROM events WHERE type = 'budget.threshold_crossed' AND project_id = $1 ORDER BY id`,
          [projectId],
        )) as Array<{ payload: { threshold: number; period: string; currency: string } }>
      ).map((e) => `${e.payload.period}:${e.payload.threshold}:${e.payload.currency}`);
    const period = monthStart.toISOString().slice(0, 7);

    await setBudget(spent * 10); // 10 %: nothing
    assert.equal(await loop.tick(now), 0);
    await setBudget(spent / 0.85); // 85 %: 50 and 80
    assert.equal(await loop.tick(now), 2);
    assert.equal(await loop.tick(now), 0, "a threshold fires once");
    await setBudget(spent / 1.2); // 120 %: only 100 is new
    assert.equal(await loop.tick(now), 1);
    assert.equal(await loop.tick(now), 0);
    assert.deepEqual(await fired(), [`${period}:50:EUR`, `${period}:80:EUR`, `${period}:100:EUR`]);
    // Next month starts afresh: its storage alone is over a tiny budget.
    await setBudget(1e-9);
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 2));
    assert.equal(await loop.tick(nextMonth), 3);
    assert.equal(await loop.tick(nextMonth), 0);
    const alerts = dataOf(
      await t.gql(`query($p: ID!) { projectCostSettings(projectId: $p) { budgetAlerts { period threshold } } }`, { p: projectId }),
    ).projectCostSettings.budgetAlerts;
    assert.equal(alerts.length, 6);
    await loop.close();
  });
});
