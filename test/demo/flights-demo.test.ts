import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SluiceClient } from "../../src/cli/client";
import { runFlightsDemo } from "../../src/demo/flights-demo";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const REPO = path.resolve(__dirname, "../../..");

/**
 * The main job `npm start` runs, end to end on the real flights at a small scale: the whole loop
 * (train → gate → deploy → monitor → replay with outcomes → alert → event-triggered retraining →
 * policy → champion swap) through the public API. Slow-ish: two training runs on real data.
 */
describe("the flights demo (npm start)", () => {
  let t: TestServer;
  let workDir: string;
  let previousRoots: string | undefined;
  before(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-demo-"));
    previousRoots = process.env.SLUICE_DATA_ROOTS;
    // The ingest operator reads the landing file in the demo's work dir.
    process.env.SLUICE_DATA_ROOTS = `${REPO},${workDir}`;
    // The demo runs as `npm start` does: its module stages sandboxed, when bubblewrap is there.
    const sandbox = fs.existsSync("/usr/bin/bwrap") ? { SLUICE_SANDBOX_BWRAP: "/usr/bin/bwrap", SLUICE_TRUSTED_CODE: "0" } : {};
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: `${REPO},${workDir}`, SLUICE_MONITORING_INTERVAL_MS: "300", ...sandbox } });
  });
  after(async () => {
    await t.close();
    if (previousRoots === undefined) delete process.env.SLUICE_DATA_ROOTS;
    else process.env.SLUICE_DATA_ROOTS = previousRoots;
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it("trains, deploys, monitors, alerts, retrains on the alert and swaps the champion", async () => {
    const lines: string[] = [];
    const summary = await runFlightsDemo({
      baseUrl: t.url,
      token: t.adminToken,
      connect: (settings) => new SluiceClient(settings),
      repoRoot: REPO,
      workDir,
      perMonth: 2000,
      trainingSample: 5000,
      windowSize: 500,
      out: (line) => lines.push(line),
    });
    const transcript = lines.join("\n");

    // Enrichment at the replay clock found the airports' features: 50 flights, two airports each.
    assert.equal(summary.enrichment.lookedUp, 100, transcript);
    assert.ok(summary.enrichment.imputed <= 10, `few airports imputed as of ${summary.enrichment.asOf}: ${transcript}`);
    assert.match(transcript, /100 airport lookups for 50 flights, \d+ imputed/);

    // The first version passed the demo policy and became the champion; an alert retrained it.
    assert.ok(summary.versions.length >= 2, transcript);
    assert.equal(summary.versions[0]!.status, "APPROVED");
    assert.ok(summary.retrainingRuns >= 1, transcript);
    const champion = summary.versions.find((v) => v.aliases.includes("champion"))!;
    assert.ok(champion.version > 1, `the champion was replaced: ${transcript}`);
    assert.ok(champion.trainedThrough > summary.versions[0]!.trainedThrough, "the retrained model saw later months");

    // Every replayed flight was answered; the last month by the retrained champion.
    assert.deepEqual(
      summary.months.map((m) => [m.month, m.flights]),
      [
        ["2001-03", 2000],
        ["2001-04", 2000],
        ["2001-05", 2000],
        ["2001-06", 2000],
      ],
    );
    assert.ok(
      summary.months.every((m) => m.auc !== null && m.auc > 0.55),
      transcript,
    );
    assert.ok(Object.keys(summary.months[3]!.versions).includes(String(champion.version)), transcript);
    assert.ok(summary.months.reduce((n, m) => n + m.alerts, 0) >= 1);

    // The loop is in the run and event history: a run started by an event trigger, from alert.fired.
    const runs = dataOf(
      await t.gql(`query($p: ID) { runs(filter: { projectId: $p, triggerKind: EVENT }) { nodes { status triggerKind } } }`, {
        p: summary.projectId,
      }),
    ).runs.nodes;
    assert.ok(runs.length >= 1 && runs.every((r: any) => r.status === "SUCCEEDED"), JSON.stringify(runs));
    const rule = dataOf(
      await t.gql(
        `query($p: ID) { eventRules(filter: { projectId: $p }, first: 5) { nodes { eventType fires(first: 10) { nodes { outcome run { triggerKind status } } } } } }`,
        {
          p: summary.projectId,
        },
      ),
    ).eventRules.nodes[0];
    assert.equal(rule.eventType, "alert.fired");
    assert.ok(
      rule.fires.nodes.some((f: any) => f.outcome === "STARTED" && f.run.status === "SUCCEEDED"),
      JSON.stringify(rule.fires),
    );
    assert.match(transcript, /summary/);
  });
});
