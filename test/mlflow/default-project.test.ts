import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { seedCaller } from "../helpers/fixtures";
import { mlflowClient } from "./client";

const projects = async (t: TestServer) =>
  dataOf(await t.gql(`{ projects(filter: { includeArchived: true }) { nodes { id name } } }`)).projects.nodes as Array<{
    id: string;
    name: string;
  }>;

/** A stock MLflow client (no X-Sluice-Project) against a fresh server, as `mlflow.set_experiment` + `start_run` + `log_metric` call it. */
describe("the MLflow API on a server with no project", () => {
  let t: TestServer;
  let call: ReturnType<typeof mlflowClient>;
  before(async () => {
    t = await startTestServer();
    call = mlflowClient(t);
  });
  after(async () => t.close());

  it("reads as empty before anything is written", async () => {
    const byName = await call("GET", "experiments/get-by-name", { experiment_name: "churn" });
    assert.equal(byName.status, 404);
    assert.equal(byName.body.error_code, "RESOURCE_DOES_NOT_EXIST");
    const search = await call("POST", "experiments/search", { max_results: 10 });
    assert.deepEqual(search, { status: 200, body: { experiments: [] } });
    assert.deepEqual(await call("POST", "runs/search", {}), { status: 200, body: { runs: [] } });
    assert.deepEqual(await projects(t), []);
  });

  it("refuses a first write from a token that may not create projects, and creates nothing", async () => {
    const viewer = await seedCaller(t, "VIEWER");
    const editorElsewhere = await seedCaller(t, null);
    for (const token of [viewer.token, editorElsewhere.token]) {
      const refused = await call("POST", "experiments/create", { name: "churn" }, { token });
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error_code, "PERMISSION_DENIED");
      assert.match(refused.body.message, /default/);
    }
    assert.deepEqual(await projects(t), []);
  });

  it("creates the project `default` on the first write of a global EDITOR, audited as theirs, and logs into it", async () => {
    const editor = await seedCaller(t, "EDITOR");
    const created = await call("POST", "experiments/create", { name: "churn" }, { token: editor.token });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const [only, ...rest] = await projects(t);
    assert.equal(only?.name, "default");
    assert.equal(rest.length, 0);
    const audit = dataOf(
      await t.gql(
        `query($p: ID) { auditEvents(filter: { projectId: $p, action: "project.create" }) { nodes { actorId outcome result } } }`,
        {
          p: only!.id,
        },
      ),
    ).auditEvents.nodes;
    assert.deepEqual(audit, [
      { actorId: editor.principalId, outcome: "SUCCEEDED", result: { id: only!.id, name: "default", via: "mlflow" } },
    ]);

    // runs/create in experiment 0 (MLflow's default experiment) and log-metric, still without a header.
    const run = await call("POST", "runs/create", { experiment_id: "0", start_time: 1_700_000_000_000 }, { token: editor.token });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    const runId = run.body.run.info.run_id as string;
    const logged = await call(
      "POST",
      "runs/log-metric",
      { run_id: runId, key: "loss", value: 0.25, timestamp: 1_700_000_000_100, step: 1 },
      { token: editor.token },
    );
    assert.deepEqual(logged, { status: 200, body: {} });
    const got = await call("GET", "runs/get", { run_id: runId });
    assert.deepEqual(
      got.body.run.data.metrics.map((m: any) => [m.key, m.value]),
      [["loss", 0.25]],
    );
    const byName = await call("GET", "experiments/get-by-name", { experiment_name: "churn" });
    assert.equal(byName.status, 200);
  });

  it("two first writes at once make one project", async () => {
    const fresh = await startTestServer();
    try {
      const c = mlflowClient(fresh);
      const answers = await Promise.all(["a", "b", "c"].map((name) => c("POST", "experiments/create", { name })));
      for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.deepEqual(
        (await projects(fresh)).map((p) => p.name),
        ["default"],
      );
    } finally {
      await fresh.close();
    }
  });
});
