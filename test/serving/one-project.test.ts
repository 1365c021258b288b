import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { startTestServer, type TestServer } from "../helpers/server";
import { echoModel, getJson, infer, servedModel } from "./helpers";

describe("the OIP routes on a server with one project", () => {
  let t: TestServer;
  let projectId: string;
  const inputs = () => [
    { name: "f", shape: [1, 2], datatype: "FP32", data: [1, 2] },
    { name: "i", shape: [1], datatype: "INT64", data: [3] },
    { name: "s", shape: [1, 1], datatype: "BYTES", data: ["x"] },
    { name: "b", shape: [1], datatype: "BOOL", data: [true] },
  ];

  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "only-one");
    await servedModel(t, projectId, "echo", echoModel());
  });
  after(async () => t.close());

  it("lets a global token leave X-Sluice-Project out: the only project is meant", async () => {
    const answer = await infer(t, "/v2/models/echo/infer", { inputs: inputs() });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.model_name, "echo");
    assert.equal((await getJson(t, "/v2/models/echo")).status, 200);
    assert.deepEqual(await getJson(t, "/v2/models/echo/ready"), { status: 200, body: { name: "echo", ready: true } });
  });

  it("still needs READ in that project", async () => {
    const nobody = await seedCaller(t, null);
    const refused = await infer(t, "/v2/models/echo/infer", { inputs: inputs() }, { token: nobody.token });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
  });

  it("refuses, naming the header, once there are two projects", async () => {
    await seedProject(t, "second");
    const ambiguous = await infer(t, "/v2/models/echo/infer", { inputs: inputs() });
    assert.equal(ambiguous.status, 400);
    assert.match(ambiguous.body.error, /X-Sluice-Project/);
    const named = await infer(t, "/v2/models/echo/infer", { inputs: inputs() }, { project: "only-one" });
    assert.equal(named.status, 200, JSON.stringify(named.body));
  });
});
