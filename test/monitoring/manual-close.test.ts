import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { createModel, infer, logisticModel, setChampion, uploadVersion } from "../serving/helpers";

/**
 * With the background loop off, a manual close meets a backlog of several windows' worth of
 * predictions: it must close them as count windows first, then the rest, so windows stay
 * comparable however late a close comes.
 */
describe("closing a monitor's window by hand", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_MONITORING_INTERVAL_MS: "0" } });
    projectId = await seedProject(t, "manual-close");
  });
  after(async () => {
    await t.close();
  });

  it("closes the count windows a backlog holds, then one with the rest", async () => {
    const modelId = await createModel(t, projectId, "backlog", true);
    const v = await uploadVersion(t, modelId, logisticModel([1, 1], 0));
    await setChampion(t, modelId, v.version);
    const created = dataOf(
      await t.gql(
        `mutation($i: CreateMonitorInput!) { createMonitor(input: $i) { __typename ... on MonitorPayload { monitor { id } } } }`,
        { i: { projectId, servedName: "backlog", windowSize: 20 } },
      ),
    ).createMonitor;
    const instances = Array.from({ length: 70 }, (_, i) => ({ x0: i / 10, x1: -i / 20 }));
    const { status } = await infer(t, "/v2/models/backlog/infer", { instances }, { project: projectId });
    assert.equal(status, 200);

    const close = async () =>
      dataOf(
        await t.gql(
          `mutation($i: MonitorIdInput!) { closeMonitoringWindow(input: $i) { __typename ... on MonitoringWindowPayload { window { sequence reason rows } } ... on Error { message } } }`,
          { i: { monitorId: created.monitor.id } },
        ),
      ).closeMonitoringWindow;
    const closed = await close();
    assert.deepEqual(closed.window, { sequence: 4, reason: "MANUAL", rows: 10 });
    const windows = dataOf(
      await t.gql(
        `query($p: ID!) { monitoringWindows(projectId: $p, servedName: "backlog", first: 10, orderBy: { field: SEQUENCE, direction: ASC }) { nodes { sequence reason rows } } }`,
        { p: projectId },
      ),
    ).monitoringWindows.nodes;
    assert.deepEqual(
      windows.map((w: any) => [w.sequence, w.reason, w.rows]),
      [
        [1, "COUNT", 20],
        [2, "COUNT", 20],
        [3, "COUNT", 20],
        [4, "MANUAL", 10],
      ],
    );
    const again = await close();
    assert.equal(again.__typename, "ConflictError", "nothing left to close");
  });
});
