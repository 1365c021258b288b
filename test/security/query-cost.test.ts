import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { firstOutcome, type SubscriptionOutcome } from "../helpers/subscriptions";

/** Under this, an answer did not walk the 2^30 expansion. */
const FAST_MS = 1_000;

/**
 * `levels` fragments, each spreading the previous one twice: about 40 bytes a level, and 2^levels
 * selections once expanded. `on` chooses the shape: flat on Query (the expansion is wide), or
 * nested through `__Type.ofType` (the expansion is also deep).
 */
function doublingQuery(levels: number, shape: "wide" | "deep"): string {
  const parts = shape === "wide" ? ["fragment F0 on Query { me { tokenId } }"] : ["fragment F0 on __Type { name }"];
  for (let i = 1; i <= levels; i++) {
    parts.push(
      shape === "wide"
        ? `fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`
        : `fragment F${i} on __Type { ofType { ...F${i - 1} } ofType { ...F${i - 1} } }`,
    );
  }
  parts.push(shape === "wide" ? `query Bomb { ...F${levels} }` : `query Bomb { __type(name: "Query") { ...F${levels} } }`);
  return parts.join("\n");
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

async function healthy(t: TestServer): Promise<void> {
  const res = await fetch(`${t.url}/healthz`);
  assert.equal(res.status, 200);
}

describe("query cost of fragment bombs", () => {
  let t: TestServer;
  let noRoleToken: string;

  before(async () => {
    t = await startTestServer();
    noRoleToken = (await seedCaller(t, null)).token;
  });
  after(async () => {
    await t.close();
  });

  it("keeps the bomb small: 30 levels are about 1 KB", () => {
    assert.ok(doublingQuery(30, "wide").length < 1_300, `${doublingQuery(30, "wide").length} bytes`);
  });

  for (const shape of ["wide", "deep"] as const) {
    const reason = shape === "wide" ? "QUERY_TOO_LARGE" : "QUERY_TOO_DEEP";

    it(`refuses the 30-level ${shape} bomb over HTTP from a token without a role in under a second (${reason})`, async () => {
      const query = doublingQuery(30, shape);
      const health = fetch(`${t.url}/healthz`); // sent alongside: it must not wait behind the bomb
      const { value: res, ms } = await timed(() => t.gql(query, undefined, noRoleToken));
      assert.ok(ms < FAST_MS, `answered in ${ms.toFixed(0)} ms`);
      assert.equal(res.status, 400, JSON.stringify(res.errors));
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.reason, reason);
      assert.equal((await health).status, 200);
    });

    it(`refuses the 30-level ${shape} bomb over WebSocket from a token without a role in under a second (${reason})`, async () => {
      const client = t.ws(noRoleToken);
      const { value: outcome, ms } = await timed(() => firstOutcome(client, { query: doublingQuery(30, shape) }));
      assert.ok(ms < FAST_MS, `answered in ${ms.toFixed(0)} ms`);
      assert.equal(outcome.kind, "errors", JSON.stringify(outcome));
      const errors = (outcome as Extract<SubscriptionOutcome, { kind: "errors" }>).errors;
      assert.equal(errors[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(errors[0]?.extensions?.reason, reason);
      await healthy(t);
    });
  }

  it("answers the bomb without a token over HTTP at once with UNAUTHENTICATED", async () => {
    const { value: res, ms } = await timed(() => t.gql(doublingQuery(30, "wide"), undefined, null));
    assert.ok(ms < FAST_MS, `answered in ${ms.toFixed(0)} ms`);
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    await healthy(t);
  });

  it("answers the bomb without a token over WebSocket at once by closing with 4401", async () => {
    const client = t.ws(null);
    const { value: outcome, ms } = await timed(() => firstOutcome(client, { query: doublingQuery(30, "wide") }));
    assert.ok(ms < FAST_MS, `answered in ${ms.toFixed(0)} ms`);
    assert.equal(outcome.kind, "closed", JSON.stringify(outcome));
    assert.equal((outcome as Extract<SubscriptionOutcome, { kind: "closed" }>).code, 4401);
    await healthy(t);
  });

  it("measures a far longer bomb (300 levels) just as fast", async () => {
    const { value: res, ms } = await timed(() => t.gql(doublingQuery(300, "wide"), undefined, noRoleToken));
    assert.ok(ms < FAST_MS, `answered in ${ms.toFixed(0)} ms`);
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  });

  it("still runs a small doubling query and ordinary queries built from fragments", async () => {
    const small = dataOf(await t.gql(doublingQuery(4, "wide"), undefined, noRoleToken));
    assert.equal(typeof small.me.tokenId, "string");
    const legit = `
      query Legit { ...Who projects(first: 5) { nodes { ...ProjectFields } } }
      fragment Who on Query { me { tokenId principal { ...PrincipalFields } } }
      fragment PrincipalFields on Principal { id name }
      fragment ProjectFields on Project { id name roleBindings { id role principalId } }`;
    const data = dataOf(await t.gql(legit));
    assert.equal(data.me.principal.name, "admin");
    assert.ok(Array.isArray(data.projects.nodes));
    const over = firstOutcome(t.ws(), { query: legit });
    const outcome = await over;
    assert.equal(outcome.kind, "data", JSON.stringify(outcome));
  });

  it("still refuses a costly page the same way: fragments count as often as they are spread", async () => {
    const costly = `query { ...A ...A } fragment A on Query { projects(first: 500) { nodes { id roleBindings { id role principalId } } } }`;
    const res = await t.gql(costly);
    // 500 projects × 5 fields, twice, fits; then the default cost limit is 10,000: a page of 500
    // with 20 fields each, spread twice, does not.
    assert.equal(res.status, 200, JSON.stringify(res.errors));
    const heavy = `query { ...A ...A ...A ...A ...A } fragment A on Query { projects(first: 500) { nodes { id name createdAt roleBindings { id role principalId } } } }`;
    const refused = await t.gql(heavy);
    assert.equal(refused.status, 400);
    assert.equal(refused.errors?.[0]?.extensions?.reason, "QUERY_TOO_COSTLY");
  });
});
