import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { type Client as WsClient, createClient } from "graphql-ws";
import WebSocket from "ws";
import { ErrorCode, ForbiddenError, InvalidInputError, NotFoundError, SluiceError } from "../../src/kernel/errors";
import { formatGraphQLError } from "../../src/kernel/graphql/errors";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { openSharedDatabase, type SharedDatabase } from "../helpers/shared-database";

const MAX_DEPTH = 6;
const BODY_LIMIT = 4096;
const MAX_COST = 300;

type GqlError = { message: string; extensions?: Record<string, any> };

/** A raw POST to /graphql: the body is sent exactly as given. */
async function post(t: TestServer, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${t.adminToken}`, ...headers },
    body,
  });
  const text = await res.text();
  let json: { data?: any; errors?: GqlError[] };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    assert.fail(`the answer (HTTP ${res.status}) is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, data: json.data, errors: json.errors };
}

/** Asserts the answer is a refusal: the HTTP status, no data, and every error with `code`. */
function assertRefused(res: { status: number; data?: unknown; errors?: GqlError[] }, status: number, code: string): GqlError[] {
  assert.equal(res.status, status, `HTTP status; errors: ${JSON.stringify(res.errors)}`);
  assert.equal(res.data ?? undefined, undefined, "no data");
  assert.ok(res.errors && res.errors.length > 0, "errors");
  for (const e of res.errors) assert.equal(e.extensions?.code, code, JSON.stringify(e));
  return res.errors;
}

/** A normal query still gets a normal answer. */
async function assertStillServes(t: TestServer): Promise<void> {
  const res = await t.gql(`{ me { tokenId principal { name } } }`);
  assert.equal(res.status, 200);
  assert.equal(res.errors, undefined);
  assert.equal(typeof res.data?.me.tokenId, "string");
}

/** `__schema { types { fields { type { ofType ... { name } } } } }`, `depth` selection sets deep. */
function introspectionOfDepth(depth: number): string {
  const head = ["__schema", "types", "fields", "type"];
  const fields = [...head, ...Array.from({ length: Math.max(0, depth - head.length - 1) }, () => "ofType")].slice(0, depth - 1);
  return `{ ${fields.join(" { ")} { name }${" }".repeat(fields.length - 1)} }`;
}

describe("bad input", () => {
  let shared: SharedDatabase;
  before(async () => {
    shared = await openSharedDatabase();
  });
  after(async () => {
    await shared.close();
  });

  describe("over HTTP, with tight limits", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({
        db: shared.db,
        testDb: shared.testDb,
        env: { SLUICE_MAX_DEPTH: String(MAX_DEPTH), SLUICE_BODY_LIMIT: String(BODY_LIMIT), SLUICE_MAX_COST: String(MAX_COST) },
      });
    });
    after(async () => {
      await t.close();
    });

    it("answers a malformed JSON body with 400 BAD_USER_INPUT and keeps serving", async () => {
      const res = await post(t, '{"query": "{ me { tokenId } }"');
      assertRefused(res, 400, "BAD_USER_INPUT");
      await assertStillServes(t);
    });

    it("answers a syntax error in the query with 400 BAD_USER_INPUT and keeps serving", async () => {
      const res = await post(t, JSON.stringify({ query: "{ me { tokenId " }));
      assertRefused(res, 400, "BAD_USER_INPUT");
      await assertStillServes(t);
    });

    it("answers an unknown field with 400 BAD_USER_INPUT and keeps serving", async () => {
      const res = await post(t, JSON.stringify({ query: "{ me { tokenId noSuchField } }" }));
      assertRefused(res, 400, "BAD_USER_INPUT");
      await assertStillServes(t);
    });

    it("answers a variable of the wrong type with 400 BAD_USER_INPUT and keeps serving", async () => {
      for (const variables of [{ n: 5 }, { n: { nested: true } }, { n: ["a"] }]) {
        const res = await post(t, JSON.stringify({ query: "query($n: String) { project(name: $n) { id } }", variables }));
        assertRefused(res, 400, "BAD_USER_INPUT");
      }
      const missing = await post(t, JSON.stringify({ query: "query($id: ID!) { project(id: $id) { id } }", variables: {} }));
      assertRefused(missing, 400, "BAD_USER_INPUT");
      await assertStillServes(t);
    });

    it("accepts a query exactly SLUICE_MAX_DEPTH deep", async () => {
      const res = await post(t, JSON.stringify({ query: introspectionOfDepth(MAX_DEPTH) }));
      assert.equal(res.status, 200, JSON.stringify(res.errors));
      assert.ok(Array.isArray(res.data.__schema.types));
    });

    it("answers a depth bomb with BAD_USER_INPUT and keeps serving", async () => {
      for (const depth of [MAX_DEPTH + 1, 40]) {
        const errors = assertRefused(await post(t, JSON.stringify({ query: introspectionOfDepth(depth) })), 400, "BAD_USER_INPUT");
        assert.equal(errors[0]!.extensions?.reason, "QUERY_TOO_DEEP");
      }
      await assertStillServes(t);
    });

    it("answers a depth bomb built from fragments with BAD_USER_INPUT and keeps serving", async () => {
      const query = `
        query Bomb { ...Root }
        fragment Root on Query { __schema { types { ...TypeFields } } }
        fragment TypeFields on __Type { fields { type { ...Wrapped } } }
        fragment Wrapped on __Type { ofType { ... on __Type { ofType { ofType { ofType { name } } } } } }`;
      const errors = assertRefused(await post(t, JSON.stringify({ query })), 400, "BAD_USER_INPUT");
      assert.equal(errors[0]!.extensions?.reason, "QUERY_TOO_DEEP");
      await assertStillServes(t);
    });

    it("answers a body over SLUICE_BODY_LIMIT with 413 BAD_USER_INPUT and keeps serving", async () => {
      const body = JSON.stringify({ query: `{ me { tokenId } }`, variables: { padding: "x".repeat(BODY_LIMIT) } });
      assert.ok(Buffer.byteLength(body) > BODY_LIMIT);
      assertRefused(await post(t, body), 413, "BAD_USER_INPUT");
      const justUnder = JSON.stringify({ query: `{ me { tokenId } }`, variables: { padding: "x".repeat(BODY_LIMIT - 100) } });
      assert.ok(Buffer.byteLength(justUnder) <= BODY_LIMIT);
      assert.equal((await post(t, justUnder)).status, 200);
      await assertStillServes(t);
    });

    it("answers a query over SLUICE_MAX_COST with 400 BAD_USER_INPUT before running it, and keeps serving", async () => {
      const costly = `{ projects(first: 500) { nodes { id roleBindings { id role principalId } } } }`;
      const errors = assertRefused(await post(t, JSON.stringify({ query: costly })), 400, "BAD_USER_INPUT");
      assert.equal(errors[0]!.extensions?.reason, "QUERY_TOO_COSTLY");
      // The same through variables: the cost follows the page size a client really asks for.
      const viaVariables = `query($n: Int) { projects(first: $n) { nodes { id roleBindings { id role principalId } } } }`;
      assertRefused(await post(t, JSON.stringify({ query: viaVariables, variables: { n: 500 } })), 400, "BAD_USER_INPUT");
      const cheap = await post(t, JSON.stringify({ query: viaVariables, variables: { n: 5 } }));
      assert.equal(cheap.status, 200, JSON.stringify(cheap.errors));
      assert.ok(Array.isArray(cheap.data.projects.nodes));
      await assertStillServes(t);
    });

    it("allows introspection in development", async () => {
      const res = await post(t, JSON.stringify({ query: `{ __schema { queryType { name } } __type(name: "Project") { name } }` }));
      assert.equal(res.status, 200);
      assert.equal(res.data.__schema.queryType.name, "Query");
      assert.equal(res.data.__type.name, "Project");
    });

    it("refuses an operation without a token with 401 UNAUTHENTICATED and keeps serving", async () => {
      assertRefused(await post(t, JSON.stringify({ query: "{ me { tokenId } }" }), { authorization: "" }), 401, "UNAUTHENTICATED");
      assertRefused(await post(t, JSON.stringify({ query: "{ me { tokenId } }" }), { authorization: "Basic abc" }), 401, "UNAUTHENTICATED");
      await assertStillServes(t);
    });
  });

  describe("over WebSocket, with the same limits", () => {
    let t: TestServer;
    let client: WsClient;
    const closes: number[] = [];
    let connects = 0;
    before(async () => {
      t = await startTestServer({
        db: shared.db,
        testDb: shared.testDb,
        env: { SLUICE_MAX_DEPTH: String(MAX_DEPTH), SLUICE_BODY_LIMIT: String(BODY_LIMIT), SLUICE_MAX_COST: String(MAX_COST) },
      });
      // One eager connection for the whole describe (the helper's clients are lazy and close
      // between operations), so "keeps the connection" means exactly one socket, never closed.
      client = createClient({
        url: t.wsUrl,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${t.adminToken}` },
      });
      client.on("connected", () => connects++);
      client.on("closed", (event) => closes.push((event as { code: number }).code));
    });
    after(async () => {
      await client.dispose();
      await t.close();
    });

    /** Runs one operation to its end: its results, or the errors it was refused with. */
    function run(query: string, variables?: Record<string, unknown>): Promise<{ results: unknown[]; errors?: GqlError[] }> {
      return new Promise((resolve, reject) => {
        const results: unknown[] = [];
        client.subscribe(
          { query, variables },
          {
            next: (value) => results.push(value),
            error: (err) => (Array.isArray(err) ? resolve({ results, errors: err as GqlError[] }) : reject(err)),
            complete: () => resolve({ results }),
          },
        );
      });
    }

    it("answers a subscription with a depth bomb with BAD_USER_INPUT and keeps the connection", async () => {
      const query = `subscription Bomb ${introspectionOfDepth(12)}`;
      const { errors, results } = await run(query);
      assert.deepEqual(results, []);
      assert.ok(errors && errors.length > 0);
      for (const e of errors) assert.equal(e.extensions?.code, "BAD_USER_INPUT");
      assert.ok(
        errors.some((e) => e.extensions?.reason === "QUERY_TOO_DEEP"),
        JSON.stringify(errors),
      );
      assert.deepEqual(closes, []);
    });

    it("answers a depth bomb sent over the socket with BAD_USER_INPUT from the depth guard alone", async () => {
      const shallow = await run(introspectionOfDepth(MAX_DEPTH));
      assert.equal(shallow.errors, undefined, JSON.stringify(shallow.errors));
      const { errors } = await run(introspectionOfDepth(MAX_DEPTH + 3));
      assert.ok(errors && errors.length === 1, JSON.stringify(errors));
      assert.equal(errors[0]!.extensions?.code, "BAD_USER_INPUT");
      assert.equal(errors[0]!.extensions?.reason, "QUERY_TOO_DEEP");
      assert.deepEqual(closes, []);
    });

    it("answers a query over SLUICE_MAX_COST with BAD_USER_INPUT", async () => {
      const { errors } = await run(`{ projects(first: 500) { nodes { id roleBindings { id role } } } }`);
      assert.ok(errors && errors.length === 1, JSON.stringify(errors));
      assert.equal(errors[0]!.extensions?.code, "BAD_USER_INPUT");
      assert.equal(errors[0]!.extensions?.reason, "QUERY_TOO_COSTLY");
      assert.deepEqual(closes, []);
    });

    it("answers a variable of the wrong type with BAD_USER_INPUT and keeps the connection", async () => {
      const { errors } = await run(`subscription($p: ID!) { projectEvents(projectId: $p) { type } }`, { p: { not: "an id" } });
      assert.ok(errors && errors.length > 0);
      for (const e of errors) assert.equal(e.extensions?.code, "BAD_USER_INPUT");
      assert.deepEqual(closes, []);
    });

    it("still delivers events on the same connection after the refusals", async () => {
      const projectId = await seedProject(t);
      const received = new Promise<any>((resolve, reject) => {
        const stop = client.subscribe(
          { query: `subscription($p: ID!) { projectEvents(projectId: $p) { type projectId } }`, variables: { p: projectId } },
          {
            next: (value) => {
              resolve(value);
              stop();
            },
            error: reject,
            complete: () => reject(new Error("completed without an event")),
          },
        );
      });
      // The subscription attaches asynchronously; rename until its event arrives.
      let event: any;
      for (let i = 0; i < 20 && !event; i++) {
        const name = `ws-renamed-${i}`;
        dataOf(
          await t.gql(`mutation($id: ID!, $n: String!) { renameProject(input: { id: $id, name: $n }) { __typename } }`, {
            id: projectId,
            n: name,
          }),
        );
        event = await Promise.race([received, sleep(100).then(() => undefined)]);
      }
      assert.ok(event, "an event arrived");
      assert.equal(event.data.projectEvents.projectId, projectId);
      assert.equal(event.data.projectEvents.type, "project.renamed");
      assert.deepEqual(closes, []);
      assert.equal(connects, 1, "every operation ran on one connection");
    });
  });

  describe("in production", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ db: shared.db, testDb: shared.testDb, env: { NODE_ENV: "production" } });
    });
    after(async () => {
      await t.close();
    });

    it("refuses introspection with 400 BAD_USER_INPUT and keeps serving", async () => {
      for (const query of [
        `{ __schema { queryType { name } } }`,
        `{ __type(name: "Project") { name } }`,
        `{ me { tokenId } ...I } fragment I on Query { __schema { types { name } } }`,
      ]) {
        assertRefused(await post(t, JSON.stringify({ query })), 400, "BAD_USER_INPUT");
      }
      const typename = await post(t, JSON.stringify({ query: `{ __typename }` }));
      assert.equal(typename.status, 200);
      assert.equal(typename.data.__typename, "Query");
      await assertStillServes(t);
    });

    it("refuses introspection over the WebSocket too", async () => {
      const client = t.ws();
      const errors = await new Promise<GqlError[]>((resolve, reject) => {
        client.subscribe(
          { query: `{ __schema { queryType { name } } }` },
          {
            next: () => reject(new Error("answered")),
            error: (e) => resolve(e as GqlError[]),
            complete: () => reject(new Error("completed")),
          },
        );
      });
      assert.ok(Array.isArray(errors) && errors.length > 0);
      for (const e of errors) assert.equal(e.extensions?.code, "BAD_USER_INPUT");
    });
  });

  describe("with SLUICE_RATE_LIMIT=1 and SLUICE_RATE_LIMIT_BURST=2", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ db: shared.db, testDb: shared.testDb, env: { SLUICE_RATE_LIMIT: "1", SLUICE_RATE_LIMIT_BURST: "2" } });
    });
    after(async () => {
      await t.close();
    });

    it("answers requests over the limit with 429 RATE_LIMITED and a Retry-After header, then serves again", async () => {
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await post(t, JSON.stringify({ query: "{ me { tokenId } }" })));
      assert.equal(answers[0]!.status, 200);
      const served = answers.filter((a) => a.status === 200).length;
      assert.ok(served >= 1 && served <= 3, `${served} served: at most the rate plus the burst`);
      const limited = answers.filter((a) => a.status !== 200);
      assert.ok(limited.length >= 3);
      let retryAfter = 0;
      for (const res of limited) {
        assertRefused(res, 429, "RATE_LIMITED");
        const header = res.headers.get("retry-after");
        assert.match(header ?? "", /^\d+$/, "Retry-After in whole seconds");
        retryAfter = Math.max(retryAfter, Number(header));
        assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After ${header}`);
      }
      await sleep(retryAfter * 1000 + 100); // time must pass: the Retry-After the refusal named
      await assertStillServes(t);
    });
  });
});

describe("formatGraphQLError", () => {
  const SQL = `duplicate key value violates unique constraint "principals_name_key": INSERT INTO "principals"("id", "name") VALUES ($1, $2) RETURNING "created_at"`;

  /** An error thrown inside a resolver, as Apollo hands it to formatError. */
  function fromResolver(original: Error): { formatted: GraphQLFormattedError; error: GraphQLError } {
    const error = new GraphQLError(original.message, { path: ["createPrincipal"], originalError: original });
    const json = error.toJSON();
    const formatted: GraphQLFormattedError = {
      ...json,
      extensions: { ...json.extensions, code: "INTERNAL_SERVER_ERROR", stacktrace: (original.stack ?? "").split("\n") },
    };
    return { formatted, error };
  }

  it("turns an unexpected error carrying SQL and a stack into a generic INTERNAL error, and logs the original", () => {
    const original = new Error(SQL);
    assert.ok(original.stack?.includes("bad-input"));
    const logged: unknown[] = [];
    const { formatted, error } = fromResolver(original);
    const out = formatGraphQLError(formatted, error, (err) => logged.push(err));
    assert.deepEqual(Object.keys(out.extensions ?? {}), ["code"]);
    assert.equal(out.extensions?.code, ErrorCode.INTERNAL);
    const text = JSON.stringify(out);
    for (const leak of ["INSERT", "principals", "constraint", "stacktrace", "bad-input", ".js:"])
      assert.ok(!text.includes(leak), `leaks ${leak}: ${text}`);
    assert.deepEqual(logged, [original]);

    const typeError = fromResolver(new TypeError("Cannot read properties of undefined (reading 'id')"));
    const other = formatGraphQLError(typeError.formatted, typeError.error, () => undefined);
    assert.equal(other.message, out.message, "the same generic message for every internal error");
    assert.deepEqual(other.extensions, { code: ErrorCode.INTERNAL });
  });

  it("treats a bare Error (not wrapped in a GraphQLError) the same way", () => {
    const original = new Error(SQL);
    const out = formatGraphQLError(
      { message: SQL, extensions: { stacktrace: ["Error: boom", "    at x (y.js:1:1)"] } },
      original,
      () => undefined,
    );
    assert.deepEqual(out.extensions, { code: ErrorCode.INTERNAL });
    assert.ok(!out.message.includes("INSERT"));
  });

  it("does not trust an INTERNAL code some other layer put on an error", () => {
    const error = new GraphQLError(SQL, { extensions: { code: "INTERNAL" } });
    const out = formatGraphQLError(
      { ...error.toJSON(), extensions: { code: "INTERNAL", stacktrace: ["at db.js:1"] } },
      error,
      () => undefined,
    );
    assert.deepEqual(out.extensions, { code: ErrorCode.INTERNAL });
    assert.ok(!out.message.includes("INSERT"));
  });

  it("keeps a SluiceError's code, message and details, without a stack trace", () => {
    const logged: unknown[] = [];
    const cases: Array<[SluiceError, string]> = [
      [new NotFoundError("Project", "p-1"), ErrorCode.NOT_FOUND],
      [new ForbiddenError("viewer lacks the WRITE permission"), ErrorCode.FORBIDDEN],
      [new InvalidInputError([{ field: "name", message: "is taken" }]), ErrorCode.BAD_USER_INPUT],
      [new SluiceError(ErrorCode.CONFLICT, "the project is archived", { field: "id" }), ErrorCode.CONFLICT],
    ];
    for (const [err, code] of cases) {
      const { formatted, error } = fromResolver(err);
      const out = formatGraphQLError(formatted, error, (e) => logged.push(e));
      assert.equal(out.extensions?.code, code);
      assert.equal(out.message, err.message);
      assert.deepEqual(out.path, ["createPrincipal"]);
      assert.equal(out.extensions?.stacktrace, undefined);
      for (const [k, v] of Object.entries(err.details)) assert.deepEqual(out.extensions?.[k], v);
    }
    const missing = fromResolver(new NotFoundError("Project", "p-1"));
    const notFound = formatGraphQLError(missing.formatted, missing.error, () => undefined);
    assert.equal(notFound.extensions?.resourceType, "Project");
    assert.equal(notFound.extensions?.resourceId, "p-1");
    assert.deepEqual(logged, [], "expected errors are not logged as internal");
  });

  it("maps Apollo's parse and validation codes to BAD_USER_INPUT, keeping the original as the reason", () => {
    for (const apolloCode of ["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST"]) {
      const error = new GraphQLError("bad query", { extensions: { code: apolloCode } });
      const out = formatGraphQLError({ message: "bad query", extensions: { code: apolloCode, stacktrace: ["x"] } }, error, () =>
        assert.fail("not internal"),
      );
      assert.equal(out.extensions?.code, ErrorCode.BAD_USER_INPUT);
      assert.equal(out.extensions?.reason, apolloCode);
      assert.equal(out.extensions?.stacktrace, undefined);
    }
  });
});
