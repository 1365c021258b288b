import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/kernel/logger";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { waitUntil } from "../helpers/eventually";

describe("the request log", () => {
  let t: TestServer;
  const lines: Array<Record<string, any>> = [];
  before(async () => {
    const log = createLogger("info", { write: (line: string) => void lines.push(JSON.parse(line)) });
    t = await startTestServer({ log });
  });
  after(async () => t.close());

  const requestLines = () => lines.filter((l) => l.msg === "request");

  it("logs a GraphQL request with the path /graphql, its operation name and root fields", async () => {
    dataOf(await t.gql(`query WhoAmI { me { principal { name } } }`));
    dataOf(await t.gql(`{ projects { totalCount } }`));
    await waitUntil("two request lines", () => requestLines().length >= 2);
    const [named, anonymous] = requestLines().slice(-2);
    assert.equal(named!.path, "/graphql");
    assert.equal(named!.method, "POST");
    assert.equal(named!.operation, "WhoAmI");
    assert.equal(named!.operationType, "query");
    assert.deepEqual(named!.fields, ["me"]);
    assert.equal(anonymous!.path, "/graphql");
    assert.equal(anonymous!.operation, undefined);
    assert.deepEqual(anonymous!.fields, ["projects"]);
  });

  it("logs other routes by their own path", async () => {
    await fetch(`${t.url}/healthz`);
    await waitUntil("the /healthz line", () => requestLines().some((l) => l.path === "/healthz"));
  });
});
