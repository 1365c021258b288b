import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getMetadataStorage } from "type-graphql";
import { missingFactories, resolverContainer } from "../../src/app/graphql/resolver-container";
import { resolvers } from "../../src/app/graphql/schema";
import { type TestServer, startTestServer } from "../helpers/server";

describe("resolver container", () => {
  it("has a factory for every resolver class in the schema", () => {
    assert.deepEqual(
      missingFactories(resolvers).map((c) => c.name),
      [],
    );
  });

  it("lists in the schema every resolver class the code declares", () => {
    // A class decorated with @Resolver but left out of the schema's list would serve nothing.
    const listed = new Set<unknown>(resolvers);
    const declared = getMetadataStorage().resolverClasses.map((r) => r.target);
    assert.deepEqual(
      declared.filter((c) => !listed.has(c)).map((c) => c.name),
      [],
    );
  });

  describe("on a running server", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer();
    });
    after(async () => {
      await t.close();
    });

    it("hands out one instance per class, built with what it declares", () => {
      const container = resolverContainer(t.server.services);
      assert.equal(resolverContainer(t.server.services), container, "one container per Services");
      for (const resolverClass of resolvers as readonly (abstract new (...args: never[]) => object)[]) {
        const instance = container.get(resolverClass);
        assert.ok(instance instanceof resolverClass, resolverClass.name);
        assert.equal(container.get(resolverClass), instance, `${resolverClass.name} is built once`);
        const deps = (instance as { deps?: object }).deps;
        for (const [name, value] of Object.entries(deps ?? {})) assert.ok(value, `${resolverClass.name}.deps.${name} is set`);
      }
    });

    it("refuses a class it has no factory for, naming it", () => {
      class Unregistered {}
      assert.throws(() => resolverContainer(t.server.services).get(Unregistered), /No factory for resolver Unregistered/);
    });
  });
});
