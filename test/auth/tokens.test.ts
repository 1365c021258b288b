import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { Client as PgClient } from "pg";
import { type Database, openDatabase } from "../../src/db/data-source";
import { entities } from "../../src/app/entities";
import { waitUntil } from "../helpers/eventually";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type GqlResponse, type TestServer } from "../helpers/server";

const ME = `{ me { __typename principal { name } tokenId grants { role projectId } } }`;
const CREATE_TOKEN = `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) {
  __typename
  ... on CreatedApiToken { token apiToken { id prefix name status expiresAt } }
  ... on Error { code }
  ... on InvalidInputError { problems { field } }
} }`;
const TOKEN_FIELDS = `id principalId name prefix status expiresAt revokedAt lastUsedAt createdAt`;

function sha256(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Sends one operation with a raw `Authorization` header (or none). */
async function withHeader(t: TestServer, authorization: string | undefined, query = ME): Promise<GqlResponse> {
  const res = await fetch(`${t.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization !== undefined ? { authorization } : {}) },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { data?: any; errors?: any };
  return { status: res.status, headers: res.headers, data: body.data ?? undefined, errors: body.errors };
}

function assertUnauthenticated(res: GqlResponse, what: string): void {
  assert.equal(res.status, 401, `${what}: HTTP status`);
  assert.equal(res.data, undefined, `${what}: no data`);
  assert.equal(res.errors?.length, 1, `${what}: one error, got ${JSON.stringify(res.errors)}`);
  assert.equal(res.errors[0]!.extensions?.code, "UNAUTHENTICATED", `${what}: error code`);
}

/** The server still answers the admin: a refusal did not break it. */
async function assertStillServing(t: TestServer, token = t.adminToken): Promise<void> {
  const me = dataOf(await t.gql(ME, {}, token));
  assert.equal(me.me.__typename, "Me");
}

async function createPrincipal(t: TestServer, prefix = "tok"): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  return dataOf(
    await t.gql(`mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { ... on PrincipalPayload { principal { id } } } }`, {
      i: { name },
    }),
  ).createPrincipal.principal.id;
}

/** Every row of every table of the schema, as text, for "stored nowhere" checks. */
async function everyStoredRow(t: TestServer): Promise<string[]> {
  const ds = t.server.services.db.dataSource;
  const tables = (await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  )) as Array<{ table_name: string }>;
  assert.ok(
    tables.some((r) => r.table_name === "api_tokens"),
    "found the api_tokens table",
  );
  const out: string[] = [];
  for (const { table_name } of tables) {
    const rows = (await ds.query(`SELECT t::text AS row FROM "${table_name}" t`)) as Array<{ row: string }>;
    out.push(...rows.map((r) => `${table_name}: ${r.row}`));
  }
  return out;
}

describe("API tokens", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.close();
  });

  it("answers a request without a token with HTTP 401 and UNAUTHENTICATED", async () => {
    assertUnauthenticated(await t.gql(ME, {}, null), "no Authorization header");
    assertUnauthenticated(await withHeader(t, undefined, `{ projects { totalCount } }`), "no header, another query");
    await assertStillServing(t);
  });

  it("refuses a malformed Authorization header with UNAUTHENTICATED, even around a valid secret", async () => {
    const malformed = [
      "",
      "Bearer",
      "Bearer ",
      `Basic ${Buffer.from(`admin:${t.adminToken}`).toString("base64")}`,
      t.adminToken, // the right secret without the scheme
      `Token ${t.adminToken}`,
      `Bearer ${t.adminToken} extra`,
      `Bearer${t.adminToken}`,
    ];
    for (const header of malformed) {
      assertUnauthenticated(await withHeader(t, header), JSON.stringify(header.replace(t.adminToken, "<admin token>")));
    }
    await assertStillServing(t);
  });

  it("refuses an unknown token with UNAUTHENTICATED and keeps serving", async () => {
    const oneCharOff = t.adminToken.slice(0, -1) + (t.adminToken.endsWith("a") ? "b" : "a");
    for (const token of [`slc_${randomBytes(32).toString("base64url")}`, oneCharOff, t.adminToken.toUpperCase(), "x"]) {
      assertUnauthenticated(await t.gql(ME, {}, token), "unknown token");
      await assertStillServing(t);
    }
  });

  it("refuses a token once it has expired, even one used (and cached) just before", async () => {
    const principalId = await createPrincipal(t, "expiring");
    const expiresAt = new Date(Date.now() + 1_500);
    const created = dataOf(
      await t.gql(CREATE_TOKEN, { i: { principalId, name: "short-lived", expiresAt: expiresAt.toISOString() } }),
    ).createApiToken;
    assert.equal(created.__typename, "CreatedApiToken");
    assert.equal(created.apiToken.status, "ACTIVE");

    const before = await t.gql(ME, {}, created.token);
    assert.equal(before.status, 200);
    assert.equal(dataOf(before).me.principal.name.startsWith("expiring-"), true);

    await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 200); // time must pass: the token expires
    assertUnauthenticated(await t.gql(ME, {}, created.token), "expired token");
    await assertStillServing(t);

    const listed = dataOf(
      await t.gql(`query($p: ID) { apiTokens(filter: { principalId: $p }) { nodes { id status } } }`, { p: principalId }),
    ).apiTokens.nodes;
    assert.deepEqual(listed, [{ id: created.apiToken.id, status: "EXPIRED" }]);
  });

  it("refuses a revoked token at once, even one used (and cached) just before", async () => {
    const caller = await seedCaller(t, "VIEWER");
    assert.equal(dataOf(await t.gql(ME, {}, caller.token)).me.tokenId, caller.tokenId);

    const revoked = dataOf(
      await t.gql(
        `mutation($i: IdInput!) { revokeApiToken(input: $i) { __typename ... on ApiTokenPayload { apiToken { id status revokedAt } } } }`,
        { i: { id: caller.tokenId } },
      ),
    ).revokeApiToken;
    assert.equal(revoked.__typename, "ApiTokenPayload");
    assert.equal(revoked.apiToken.status, "REVOKED");
    assert.ok(revoked.apiToken.revokedAt);

    assertUnauthenticated(await t.gql(ME, {}, caller.token), "revoked token");
    assertUnauthenticated(await t.gql(`{ projects { totalCount } }`, {}, caller.token), "revoked token, another query");
    await assertStillServing(t);

    // Hidden from the default listing, shown as REVOKED when asked; revoking again is a conflict.
    const active = dataOf(
      await t.gql(`query($p: ID) { apiTokens(filter: { principalId: $p }) { totalCount } }`, { p: caller.principalId }),
    ).apiTokens;
    assert.equal(active.totalCount, 0);
    const all = dataOf(
      await t.gql(`query($p: ID) { apiTokens(filter: { principalId: $p, includeRevoked: true }) { nodes { id status } } }`, {
        p: caller.principalId,
      }),
    ).apiTokens;
    assert.deepEqual(all.nodes, [{ id: caller.tokenId, status: "REVOKED" }]);
    const again = dataOf(
      await t.gql(`mutation($i: IdInput!) { revokeApiToken(input: $i) { __typename ... on Error { code } } }`, {
        i: { id: caller.tokenId },
      }),
    ).revokeApiToken;
    assert.equal(again.__typename, "ConflictError");
    assert.equal(again.code, "CONFLICT");
  });

  it(
    "does not keep trusting a token whose lookup was in flight while it was revoked",
    {
      skip: process.env.DATABASE_URL
        ? false
        : "needs PostgreSQL: PGlite runs one statement at a time, so a lookup cannot straddle the revocation",
    },
    async () => {
      // A request reads the token row, then stalls (the bindings table is locked) while the
      // token is revoked and every cache is told to forget it. When it resumes it must not
      // cache what it read before the revocation.
      const caller = await seedCaller(t, null); // no role, so no auth-change event is pending
      await sleep(100); // no signal says this server has heard the seeding's auth changes; a grace
      dataOf(await t.gql(ME)); // the admin is authenticated from the cache from here on
      const locker = new PgClient({ connectionString: t.server.services.config.databaseUrl });
      await locker.connect();
      try {
        await locker.query("BEGIN");
        await locker.query("LOCK TABLE role_bindings IN ACCESS EXCLUSIVE MODE");
        const inFlight = t.gql(ME, {}, caller.token);
        await waitUntil(
          "the request to reach the bindings lookup",
          async () =>
            (
              await locker.query(
                `SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'role_bindings'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
              )
            ).rowCount,
          { timeoutMs: 5_000, intervalMs: 10 },
        );
        const revoked = dataOf(
          await t.gql(`mutation($i: IdInput!) { revokeApiToken(input: $i) { __typename } }`, { i: { id: caller.tokenId } }),
        );
        assert.equal(revoked.revokeApiToken.__typename, "ApiTokenPayload");
        await sleep(200); // no signal says the auth.changed notification has come back and cleared the cache; a grace
        await locker.query("ROLLBACK");
        await inFlight; // begun before the revocation: either answer is fine
      } finally {
        await locker.end();
      }
      assertUnauthenticated(await t.gql(ME, {}, caller.token), "the request after the revocation");
    },
  );

  it("shows the secret only in the createApiToken answer: not in listings, `me`, or the audit log", async () => {
    const principalId = await createPrincipal(t, "secretive");
    const created = dataOf(await t.gql(CREATE_TOKEN, { i: { principalId, name: "ci-deploy" } })).createApiToken;
    assert.equal(created.__typename, "CreatedApiToken");
    const secret: string = created.token;
    assert.match(secret, /^slc_[A-Za-z0-9_-]{43}$/);
    assert.ok(
      secret.startsWith(created.apiToken.prefix) && created.apiToken.prefix.length < secret.length / 2,
      "the prefix is a short start of the secret",
    );

    // Use it, so that last-used bookkeeping and the `me` answer have had their chance to leak it.
    const me = await t.gql(`{ me { principal { id name kind } tokenId grants { role } } }`, {}, secret);
    assert.equal(dataOf(me).me.principal.id, principalId);
    assert.equal(JSON.stringify(me.data).includes(secret), false, "`me` does not echo the secret");

    const listings = [
      await t.gql(`{ apiTokens(first: 500, filter: { includeRevoked: true }) { nodes { ${TOKEN_FIELDS} } } }`),
      await t.gql(`query($p: ID) { apiTokens(filter: { principalId: $p }) { nodes { ${TOKEN_FIELDS} } } }`, { p: principalId }),
      await t.gql(`query($id: ID!) { principal(id: $id) { id name roleBindings { id } } }`, { id: principalId }),
    ];
    for (const res of listings) {
      dataOf(res);
      assert.equal(JSON.stringify(res.data).includes(secret), false, "listings never carry the secret");
    }
    assert.equal(dataOf(listings[1]!).apiTokens.nodes[0].prefix, created.apiToken.prefix);

    const audit = dataOf(await t.gql(`{ auditEvents(first: 500) { nodes { action targetId input result } } }`)).auditEvents.nodes as Array<{
      action: string;
      targetId: string;
      input: unknown;
      result: unknown;
    }>;
    const row = audit.find((a) => a.action === "token.create" && a.targetId === created.apiToken.id);
    assert.ok(row, "the token creation was audited");
    for (const a of audit) {
      const text = JSON.stringify([a.input, a.result]);
      assert.equal(text.includes(secret), false, `audit row ${a.action} holds the new secret`);
      assert.equal(text.includes(t.adminToken), false, `audit row ${a.action} holds the admin token`);
    }
  });

  it("stores only the SHA-256 of a token, never the secret", async () => {
    const caller = await seedCaller(t, "EDITOR");
    await seedProject(t); // some more rows, events and audit records around it
    assert.equal(dataOf(await t.gql(ME, {}, caller.token)).me.tokenId, caller.tokenId);

    const ds = t.server.services.db.dataSource;
    const rows = (await ds.query(`SELECT * FROM api_tokens WHERE id = $1`, [caller.tokenId])) as Array<Record<string, unknown>>;
    assert.equal(rows.length, 1);
    const row = rows[0]!;
    assert.equal(row.token_hash, sha256(caller.token));
    assert.notEqual(row.token_hash, caller.token);
    for (const [column, value] of Object.entries(row)) {
      assert.equal(String(value ?? "").includes(caller.token), false, `column ${column} holds the secret`);
    }

    const adminRows = (await ds.query(`SELECT token_hash FROM api_tokens WHERE token_hash = $1`, [sha256(t.adminToken)])) as unknown[];
    assert.equal(adminRows.length, 1, "the bootstrap admin token is stored hashed too");

    for (const stored of await everyStoredRow(t)) {
      assert.equal(stored.includes(caller.token), false, `a stored row holds the secret: ${stored.slice(0, 60)}`);
      assert.equal(stored.includes(t.adminToken), false, `a stored row holds the admin token: ${stored.slice(0, 60)}`);
    }
  });

  it("installs SLUICE_ADMIN_TOKEN as the global admin's token on first start", async () => {
    assert.equal(t.server.bootstrapToken, t.adminToken);
    const me = dataOf(await t.gql(ME, {}, t.adminToken)).me;
    assert.equal(me.principal.name, "admin");
    assert.deepEqual(me.grants, [{ role: "ADMIN", projectId: null }]);
    const boot = dataOf(await t.gql(`{ auditEvents(filter: { action: "auth.bootstrap" }) { nodes { actorName outcome input } } }`))
      .auditEvents.nodes;
    assert.deepEqual(boot, [{ actorName: "system", outcome: "SUCCEEDED", input: { fromEnvironment: true } }]);
  });

  it("refuses createApiToken with an expiresAt in the past, naming `expiresAt`, and issues nothing", async () => {
    const principalId = await createPrincipal(t, "late");
    const res = dataOf(
      await t.gql(CREATE_TOKEN, { i: { principalId, name: "too-late", expiresAt: new Date(Date.now() - 60_000).toISOString() } }),
    ).createApiToken;
    assert.equal(res.__typename, "InvalidInputError");
    assert.equal(res.code, "BAD_USER_INPUT");
    assert.deepEqual(
      res.problems.map((p: { field: string }) => p.field),
      ["expiresAt"],
    );
    const tokens = dataOf(
      await t.gql(`query($p: ID) { apiTokens(filter: { principalId: $p, includeRevoked: true }) { totalCount } }`, { p: principalId }),
    ).apiTokens;
    assert.equal(tokens.totalCount, 0);
  });

  it("answers ConflictError for a role the principal already holds in that scope", async () => {
    const principalId = await createPrincipal(t, "twice");
    const project = await seedProject(t);
    const grant = `mutation($i: GrantRoleInput!) { grantRole(input: $i) { __typename ... on Error { code } } }`;
    assert.equal(dataOf(await t.gql(grant, { i: { principalId, role: "VIEWER" } })).grantRole.__typename, "RoleBindingPayload");
    const dup = dataOf(await t.gql(grant, { i: { principalId, role: "VIEWER" } })).grantRole;
    assert.equal(dup.__typename, "ConflictError");
    assert.equal(dup.code, "CONFLICT");

    // The same role in a project is another binding; twice there is a conflict too.
    assert.equal(
      dataOf(await t.gql(grant, { i: { principalId, role: "VIEWER", projectId: project } })).grantRole.__typename,
      "RoleBindingPayload",
    );
    assert.equal(
      dataOf(await t.gql(grant, { i: { principalId, role: "VIEWER", projectId: project } })).grantRole.__typename,
      "ConflictError",
    );

    const bindings = dataOf(await t.gql(`query($id: ID!) { principal(id: $id) { roleBindings { role projectId } } }`, { id: principalId }))
      .principal.roleBindings;
    assert.deepEqual(bindings, [
      { role: "VIEWER", projectId: null },
      { role: "VIEWER", projectId: project },
    ]);
  });

  it("applies grantRole and revokeRole to a token's very next request", async () => {
    const project = await seedProject(t);
    const caller = await seedCaller(t, null);
    const read = () => t.gql(`query($id: ID) { project(id: $id) { __typename id } }`, { id: project }, caller.token);
    const create = () =>
      t.gql(
        `mutation($i: CreateProjectInput!) { createProject(input: $i) { __typename } }`,
        { i: { name: `c-${randomBytes(4).toString("hex")}` } },
        caller.token,
      );
    const grant = async (role: string, projectId: string | null) =>
      dataOf(
        await t.gql(`mutation($i: GrantRoleInput!) { grantRole(input: $i) { ... on RoleBindingPayload { roleBinding { id } } } }`, {
          i: { principalId: caller.principalId, role, projectId },
        }),
      ).grantRole.roleBinding.id as string;
    const revoke = async (id: string) =>
      assert.equal(
        dataOf(await t.gql(`mutation($i: IdInput!) { revokeRole(input: $i) { __typename } }`, { i: { id } })).revokeRole.__typename,
        "RoleBindingPayload",
      );

    // Authenticate (and so cache) the caller with no grants.
    assert.equal((await read()).errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.equal((await create()).errors?.[0]?.extensions?.code, "FORBIDDEN");

    const viewer = await grant("VIEWER", project);
    assert.equal(dataOf(await read()).project.__typename, "Project", "read right after the project grant");
    assert.equal((await create()).errors?.[0]?.extensions?.code, "FORBIDDEN", "a project grant does not allow creating");

    const editor = await grant("EDITOR", null);
    assert.equal(dataOf(await create()).createProject.__typename, "ProjectPayload", "create right after the global grant");
    assert.deepEqual(
      dataOf(await t.gql(`{ me { grants { role projectId } } }`, {}, caller.token))
        .me.grants.map((g: { role: string; projectId: string | null }) => `${g.role}@${g.projectId ?? "*"}`)
        .sort(),
      [`EDITOR@*`, `VIEWER@${project}`],
    );

    await revoke(editor);
    assert.equal((await create()).errors?.[0]?.extensions?.code, "FORBIDDEN", "create right after the global revoke");
    assert.equal(dataOf(await read()).project.__typename, "Project", "the project grant still holds");

    await revoke(viewer);
    assert.equal((await read()).errors?.[0]?.extensions?.code, "FORBIDDEN", "read right after the project revoke");
  });
});

describe("admin bootstrap", () => {
  let testDb: TestDatabase;
  let db: Database;
  let first: TestServer | undefined;
  before(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
    first = await startTestServer({ db, testDb, env: { SLUICE_ADMIN_TOKEN: undefined } });
  });
  after(async () => {
    await first?.close();
    await db.close();
    await testDb.drop();
  });

  it("generates a random admin token without SLUICE_ADMIN_TOKEN and returns it as bootstrapToken", async () => {
    const generated = first!.server.bootstrapToken;
    assert.ok(generated, "a token was generated");
    assert.match(generated, /^slc_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(generated, first!.adminToken, "not the helper's fixed test token");

    const me = dataOf(await first!.gql(ME, {}, generated)).me;
    assert.equal(me.principal.name, "admin");
    assert.deepEqual(me.grants, [{ role: "ADMIN", projectId: null }]);
    assertUnauthenticated(await first!.gql(ME, {}, first!.adminToken), "the fixed test token was not installed");

    const boot = dataOf(await first!.gql(`{ auditEvents(filter: { action: "auth.bootstrap" }) { nodes { input result } } }`, {}, generated))
      .auditEvents.nodes;
    assert.equal(boot.length, 1);
    assert.deepEqual(boot[0].input, { fromEnvironment: false });
    assert.equal(JSON.stringify(boot).includes(generated), false, "the audit log does not hold the generated token");
  });

  it("does not bootstrap again when restarted on the same database", async () => {
    const generated = first!.server.bootstrapToken!;
    await first!.close();
    first = undefined;

    const otherToken = `slc_restart_${randomBytes(16).toString("hex")}`;
    const restarted = await startTestServer({ db, testDb, env: { SLUICE_ADMIN_TOKEN: otherToken } });
    try {
      assert.equal(restarted.server.bootstrapToken, undefined, "no new token on restart");
      assertUnauthenticated(await restarted.gql(ME, {}, otherToken), "SLUICE_ADMIN_TOKEN is ignored once bootstrapped");
      assert.equal(dataOf(await restarted.gql(ME, {}, generated)).me.principal.name, "admin", "the first token still works");
      const principals = dataOf(await restarted.gql(`{ principals { totalCount nodes { name } } }`, {}, generated)).principals;
      assert.deepEqual(principals, { totalCount: 1, nodes: [{ name: "admin" }] });
      const boots = dataOf(
        await restarted.gql(`{ auditEvents(filter: { action: "auth.bootstrap" }) { totalCount } }`, {}, generated),
      ).auditEvents;
      assert.equal(boots.totalCount, 1);
    } finally {
      await restarted.close();
    }
  });
});
