import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/app/config";
import { createLogger } from "../../src/kernel/logger";
import { type RunningReplica, startServingReplica } from "../../src/app/serving-replica";
import { type RunningCli, sluice, startCli } from "../cli/cli";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { seedProject } from "../helpers/fixtures";
import { startTestServer, type TestServer } from "../helpers/server";
import { createModel, linearModel, setChampion, uploadVersion } from "../serving/helpers";
import { deployed, eventually, inferX, underLoad } from "./helpers";

describe("sluice serve", () => {
  it("refuses the embedded PGlite database with a reason", async () => {
    const r = await sluice(["serve", "--port", "0"], { DATABASE_URL: "" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /sluice serve needs the control plane's PostgreSQL database \(set DATABASE_URL\).*PGlite/);
  });
});

describe(
  "serving replicas following the control plane (PostgreSQL)",
  {
    skip: process.env.DATABASE_URL
      ? false
      : "needs PostgreSQL: a serving replica shares the server's database, which PGlite cannot (one process)",
  },
  () => {
    let testDb: TestDatabase;
    let t: TestServer;
    let projectId: string;
    let artifacts: string;
    let inProcess: RunningReplica;
    let child: RunningCli;
    let childUrl: string;

    before(async () => {
      artifacts = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-replica-artifacts-"));
      testDb = await createTestDatabase();
      t = await startTestServer({ testDb, env: { SLUICE_ARTIFACT_DIR: artifacts } });
      projectId = await seedProject(t, "replicated");
      const env = {
        DATABASE_URL: testDb.url!,
        SLUICE_ARTIFACT_DIR: artifacts,
        SLUICE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "sluice-replica-data-")),
        SLUICE_RATE_LIMIT: "0",
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
      };
      inProcess = await startServingReplica(loadConfig(env), { log: createLogger("silent") });
      child = startCli(["serve"], env, 120_000);
      await child.waitForOutput(/serving replica at (http:\/\/\S+)\/v2/, 30_000);
      childUrl = /serving replica at (http:\/\/\S+)\/v2/.exec(child.stdout())![1]!;
    });
    after(async () => {
      child?.child.kill("SIGTERM");
      const ended = await child?.done;
      await inProcess?.close();
      await t?.close();
      await testDb?.drop();
      fs.rmSync(artifacts, { recursive: true, force: true });
      assert.equal(ended?.code, 0, `sluice serve drained and exited 0 on SIGTERM: ${ended?.stderr}`);
    });

    it("serves the endpoints the server deploys, and follows every change with no failed request", async () => {
      const replicas = [
        { url: inProcess.url, adminToken: t.adminToken },
        { url: childUrl, adminToken: t.adminToken },
      ];
      const modelId = await createModel(t, projectId, "fleet", true);
      await uploadVersion(t, modelId, linearModel([1, 1], 0));
      await uploadVersion(t, modelId, linearModel([1, 1], 100));
      await uploadVersion(t, modelId, linearModel([1, 1], 200));
      await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "fleet-ep", model: "fleet", version: 1 });
      for (const r of replicas) {
        await eventually(
          "a replica serves the new endpoint",
          async () => (await inferX(r, "fleet-ep", projectId)).body.model_version === "1",
        );
      }

      // A change on the server reaches both replicas while they are under load.
      const seen = await Promise.all(
        replicas.map((r, i) =>
          underLoad(
            r,
            "fleet-ep",
            async () => {
              if (i === 0)
                await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "fleet-ep", model: "fleet", version: 2 });
              await eventually(
                "the replica follows to version 2",
                async () => (await inferX(r, "fleet-ep", projectId)).body.model_version === "2",
              );
            },
            { project: projectId, clients: 4 },
          ),
        ),
      );
      for (const s of seen) {
        assert.deepEqual(
          s.filter((x) => x.status !== 200),
          [],
          "no request failed on a replica during the change",
        );
        assert.ok(s.some((x) => x.version === "1") && s.some((x) => x.version === "2"));
      }

      // Alias following and rollback reach them too.
      await setChampion(t, modelId, 3);
      await deployed(t, "deployModel", "DeployModelInput", { projectId, name: "fleet-ep", model: "fleet", alias: "champion" });
      for (const r of replicas)
        await eventually("alias target", async () => (await inferX(r, "fleet-ep", projectId)).body.model_version === "3");
      await deployed(t, "rollbackDeployment", "RollbackDeploymentInput", { projectId, name: "fleet-ep" });
      for (const r of replicas)
        await eventually("rolled back", async () => (await inferX(r, "fleet-ep", projectId)).body.model_version === "2");
      await deployed(t, "deleteDeployment", "DeploymentRefInput", { projectId, name: "fleet-ep" });
      for (const r of replicas) await eventually("deleted", async () => (await inferX(r, "fleet-ep", projectId)).status === 404);

      // Only inference, health and metrics are served.
      const url = replicas[1]!.url;
      assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } })).text();
      assert.match(metrics, /sluice_inference_requests_total\{model="fleet-ep",outcome="ok"\}/);
      const graphql = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(graphql.status, 404);
    });
  },
);
