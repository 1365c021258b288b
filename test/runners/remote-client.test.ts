import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgentClient } from "../../runners/remote/client";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

describe("the remote agent's server address", () => {
  for (const server of ["http://host:4000", "http://host:4000/", "http://host:4000/graphql", "http://host:4000/graphql/"]) {
    it(`reaches the API and the artifact routes from --server ${server}`, () => {
      const client = new AgentClient(server, "t", quiet as never, 1000);
      assert.equal(client.url("/graphql").href, "http://host:4000/graphql");
      assert.equal(client.url("/artifacts/uploads").href, "http://host:4000/artifacts/uploads");
    });
  }

  it("keeps a path prefix in front of the API (a server behind a proxy)", () => {
    const client = new AgentClient("https://ml.example.com/sluice/graphql", "t", quiet as never, 1000);
    assert.equal(client.url("/artifacts/uploads").href, "https://ml.example.com/sluice/artifacts/uploads");
  });
});
