import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { secretKeyOf } from "../../src/secrets/cipher";
import { SecretService } from "../../src/secrets/secret.service";
import { NotFoundError } from "../../src/kernel/errors";
import { SecretUnreadableError } from "../../src/secrets/secret.errors";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const SET = `mutation($i: SetSecretInput!) { setSecret(input: $i) { __typename ... on SecretPayload { secret { name } } ... on Error { code message } } }`;

describe("project secrets", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "vault");
  });
  after(() => t.close());

  it("stores a value encrypted, lists only names, and gives it back to server code alone", async () => {
    const value = `postgres://reader:${randomBytes(12).toString("hex")}@db.internal/warehouse`;
    const set = dataOf(await t.gql(SET, { i: { projectId, name: "WAREHOUSE_URL", value } })).setSecret;
    assert.equal(set.__typename, "SecretPayload", set.message);
    const [row] = await t.server.services.db.dataSource.query(`SELECT ciphertext FROM secrets WHERE name = 'WAREHOUSE_URL'`);
    assert.ok(!Buffer.from(row.ciphertext).toString("latin1").includes("reader:"), "not stored in the clear");
    const listed = dataOf(
      await t.gql(`query($p: ID!) { secrets(filter: { projectId: $p }) { totalCount nodes { name } } }`, { p: projectId }),
    );
    assert.deepEqual(listed.secrets.nodes, [{ name: "WAREHOUSE_URL" }]);
    const audit = JSON.stringify(dataOf(await t.gql(`{ auditEvents(filter: { action: "secret.set" }) { nodes { input result } } }`)));
    assert.ok(audit.includes("[redacted]") && !audit.includes(value), "the audit log holds no value");
    const services = t.server.services;
    assert.equal(await services.secrets.reveal(services.db.dataSource.manager, projectId, "WAREHOUSE_URL"), value);
    // A server holding another key cannot read it, and says so rather than returning garbage.
    const other = new SecretService(services.db, secretKeyOf(randomBytes(32)));
    await assert.rejects(other.reveal(services.db.dataSource.manager, projectId, "WAREHOUSE_URL"), (err: unknown) => {
      assert.ok(err instanceof SecretUnreadableError, String(err));
      assert.equal(err.secretName, "WAREHOUSE_URL");
      return true;
    });
  });

  it("refuses a bad name, and callers who are not project ADMIN", async () => {
    const bad = dataOf(await t.gql(SET, { i: { projectId, name: "lower-case", value: "x" } })).setSecret;
    assert.equal(bad.__typename, "InvalidInputError");
    const editor = await seedCaller(t, "EDITOR", projectId);
    const res = await t.gql(SET, { i: { projectId, name: "OTHER", value: "x" } }, editor.token);
    assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const hidden = dataOf(await t.gql(`{ secrets { totalCount } }`, {}, viewer.token));
    assert.equal(hidden.secrets.totalCount, 0, "viewers do not even see names");
  });

  it("deletes a secret", async () => {
    dataOf(await t.gql(SET, { i: { projectId, name: "SHORT_LIVED", value: "v" } }));
    const del = dataOf(
      await t.gql(`mutation($i: DeleteSecretInput!) { deleteSecret(input: $i) { __typename } }`, { i: { projectId, name: "SHORT_LIVED" } }),
    );
    assert.equal(del.deleteSecret.__typename, "SecretPayload");
    const services = t.server.services;
    await assert.rejects(services.secrets.reveal(services.db.dataSource.manager, projectId, "SHORT_LIVED"), NotFoundError);
  });
});
