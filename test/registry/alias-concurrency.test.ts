import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { linearModel } from "../helpers/onnx-models";

const MOVES = 24;

describe("aliases under concurrent moves", () => {
  let t: TestServer;
  let modelId: string;
  before(async () => {
    t = await startTestServer();
    const projectId = await seedProject(t, "aliases");
    modelId = dataOf(
      await t.gql(
        `mutation($i: CreateRegisteredModelInput!) { createRegisteredModel(input: $i) { ... on RegisteredModelPayload { registeredModel { id } } } }`,
        { i: { projectId, name: "contended" } },
      ),
    ).createRegisteredModel.registeredModel.id;
    for (let v = 1; v <= MOVES; v++) {
      const res = await fetch(`${t.url}/registered-models/${modelId}/versions`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/octet-stream" },
        body: linearModel([v]),
      });
      assert.equal(res.status, 201);
    }
  });
  after(async () => {
    await t.close();
  });

  // Each move targets a different version: a move onto the version the alias already names is a no-op.
  it(`serializes ${MOVES} simultaneous moves: every one recorded, the history an unbroken chain, the alias at the last`, async () => {
    const targets = Array.from({ length: MOVES }, (_, i) => i + 1);
    const results = await Promise.all(
      targets.map(
        async (version) =>
          dataOf(
            await t.gql(`mutation($i: SetModelAliasInput!) { setModelAlias(input: $i) { __typename ... on Error { message } } }`, {
              i: { registeredModelId: modelId, alias: "champion", version },
            }),
          ).setModelAlias,
      ),
    );
    assert.ok(
      results.every((r) => r.__typename === "ModelAliasPayload"),
      JSON.stringify(results.filter((r) => r.__typename !== "ModelAliasPayload")),
    );
    const model = dataOf(
      await t.gql(
        `query($id: ID) { registeredModel(id: $id) { aliases { alias versionId } aliasHistory(alias: "champion") { fromVersionId toVersionId } } }`,
        { id: modelId },
      ),
    ).registeredModel;
    const history = model.aliasHistory as Array<{ fromVersionId: string | null; toVersionId: string }>;
    assert.equal(history.length, MOVES, "one history entry per move");
    assert.equal(history[0]!.fromVersionId, null);
    for (let i = 1; i < history.length; i++) {
      assert.equal(history[i]!.fromVersionId, history[i - 1]!.toVersionId, `move ${i} starts where move ${i - 1} ended`);
    }
    const champion = model.aliases.filter((a: any) => a.alias === "champion");
    assert.equal(champion.length, 1);
    assert.equal(champion[0].versionId, history[history.length - 1]!.toVersionId);
  });
});
