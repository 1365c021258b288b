import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

describe("cursor connections", () => {
  let t: TestServer;
  const names = Array.from({ length: 23 }, (_, i) => `page-${String(i).padStart(2, "0")}`);
  before(async () => {
    t = await startTestServer();
    // Created out of order so that name order and creation order differ.
    for (const n of [...names].reverse()) await seedProject(t, n);
  });
  after(async () => {
    await t.close();
  });

  async function walk(orderBy: string, first: number): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: any = dataOf(
        await t.gql(
          `query($after: String) { projects(first: ${first}, after: $after, orderBy: ${orderBy}) { totalCount pageInfo { hasNextPage endCursor } nodes { name } } }`,
          { after },
        ),
      );
      assert.equal(res.projects.totalCount, names.length);
      seen.push(...res.projects.nodes.map((n: { name: string }) => n.name));
      if (!res.projects.pageInfo.hasNextPage) return seen;
      after = res.projects.pageInfo.endCursor;
    }
  }

  it("walks every item exactly once in name order", async () => {
    assert.deepEqual(await walk("{ field: NAME, direction: ASC }", 5), names);
  });

  it("walks every item exactly once in descending creation order", async () => {
    // Newest first: the reverse of the creation order, which was reversed name order.
    assert.deepEqual(await walk("{ field: CREATED_AT, direction: DESC }", 4), names);
  });

  it("refuses a forged cursor and an oversized page with BAD_USER_INPUT", async () => {
    const forged = await t.gql(`{ projects(after: "not-a-cursor") { totalCount } }`);
    assert.equal(forged.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const huge = await t.gql(`{ projects(first: 100000) { totalCount } }`);
    assert.equal(huge.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  });
});
