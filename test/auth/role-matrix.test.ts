import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type GqlResponse, type TestServer } from "../helpers/server";
import { firstOutcome, type SubscriptionOutcome } from "../helpers/subscriptions";

/** What one operation should do for one caller. */
const OK = "allowed";
const NO = "FORBIDDEN";
const ANON = "UNAUTHENTICATED";
type Outcome = typeof OK | typeof NO | typeof ANON;

type RoleName = "VIEWER" | "EDITOR" | "APPROVER" | "RUNNER" | "ADMIN";
/** Who calls: no token at all, or a principal holding `role` (none when null), globally or in project A. */
type Caller = "anonymous" | { role: RoleName | null; in?: "A" };

interface Case {
  caller: string;
  as: Caller;
  /** `project(id: …)` */
  project: { A: Outcome; B: Outcome };
  /** `projects`: which of A and B it lists, or its refusal. */
  projects: Array<"A" | "B"> | Outcome;
  /** `projectEvents(projectId: …)` over WebSocket. */
  projectEvents: { A: Outcome; B: Outcome };
  renameProject: { A: Outcome; B: Outcome };
  createProject: Outcome;
  /** Needs ADMIN. */
  archiveProject: { A: Outcome; B: Outcome };
}

// Each caller gets its own projects A and B; project-scoped roles are bound to A.
// prettier-ignore
const MATRIX: Case[] = [
  { caller: "anonymous (no token)",     as: "anonymous",                  project: { A: ANON, B: ANON }, projects: ANON,       projectEvents: { A: ANON, B: ANON }, renameProject: { A: ANON, B: ANON }, createProject: ANON, archiveProject: { A: ANON, B: ANON } },
  { caller: "a principal with no role", as: { role: null },               project: { A: NO,   B: NO   }, projects: [],         projectEvents: { A: NO,   B: NO   }, renameProject: { A: NO,   B: NO   }, createProject: NO,   archiveProject: { A: NO,   B: NO   } },
  { caller: "a global VIEWER",          as: { role: "VIEWER" },           project: { A: OK,   B: OK   }, projects: ["A", "B"], projectEvents: { A: OK,   B: OK   }, renameProject: { A: NO,   B: NO   }, createProject: NO,   archiveProject: { A: NO,   B: NO   } },
  { caller: "a global EDITOR",          as: { role: "EDITOR" },           project: { A: OK,   B: OK   }, projects: ["A", "B"], projectEvents: { A: OK,   B: OK   }, renameProject: { A: OK,   B: OK   }, createProject: OK,   archiveProject: { A: NO,   B: NO   } },
  { caller: "a global APPROVER",        as: { role: "APPROVER" },         project: { A: OK,   B: OK   }, projects: ["A", "B"], projectEvents: { A: OK,   B: OK   }, renameProject: { A: NO,   B: NO   }, createProject: NO,   archiveProject: { A: NO,   B: NO   } },
  { caller: "a global RUNNER",          as: { role: "RUNNER" },           project: { A: NO,   B: NO   }, projects: [],         projectEvents: { A: NO,   B: NO   }, renameProject: { A: NO,   B: NO   }, createProject: NO,   archiveProject: { A: NO,   B: NO   } },
  { caller: "a global ADMIN",           as: { role: "ADMIN" },            project: { A: OK,   B: OK   }, projects: ["A", "B"], projectEvents: { A: OK,   B: OK   }, renameProject: { A: OK,   B: OK   }, createProject: OK,   archiveProject: { A: OK,   B: OK   } },
  { caller: "a VIEWER of project A",    as: { role: "VIEWER", in: "A" },  project: { A: OK,   B: NO   }, projects: ["A"],      projectEvents: { A: OK,   B: NO   }, renameProject: { A: NO,   B: NO   }, createProject: NO,   archiveProject: { A: NO,   B: NO   } },
  { caller: "an EDITOR of project A",   as: { role: "EDITOR", in: "A" },  project: { A: OK,   B: NO   }, projects: ["A"],      projectEvents: { A: OK,   B: NO   }, renameProject: { A: OK,   B: NO   }, createProject: NO,   archiveProject: { A: NO,   B: NO   } },
  { caller: "an ADMIN of project A",    as: { role: "ADMIN", in: "A" },   project: { A: OK,   B: NO   }, projects: ["A"],      projectEvents: { A: OK,   B: NO   }, renameProject: { A: OK,   B: NO   }, createProject: NO,   archiveProject: { A: OK,   B: NO   } },
];

const MUTATION_FIELDS = `__typename ... on ProjectPayload { project { id name archived } } ... on Error { code }`;

/** Asserts a query or mutation answered by `field` was allowed or refused as `expected`. */
function assertHttpOutcome(res: GqlResponse, field: string, expected: Outcome, what: string): void {
  if (expected === OK) {
    assert.equal(res.errors, undefined, `${what}: expected no errors, got ${JSON.stringify(res.errors)}`);
    assert.ok(res.data?.[field], `${what}: expected data.${field}`);
    return;
  }
  assert.ok(res.errors?.length, `${what}: expected a refusal, got ${JSON.stringify(res.data)}`);
  assert.equal(res.errors[0]!.extensions?.code, expected, `${what}: error code`);
  assert.equal(res.data?.[field] ?? null, null, `${what}: no data on refusal`);
  if (expected === ANON) {
    // Refused before any resolver runs: the whole request answers 401.
    assert.equal(res.status, 401, `${what}: HTTP status`);
  } else {
    assert.deepEqual(res.errors[0]!.path, [field], `${what}: error path`);
  }
}

function assertSubscriptionOutcome(outcome: SubscriptionOutcome, projectId: string, expected: Outcome, what: string): void {
  if (expected === OK) {
    assert.equal(outcome.kind, "data", `${what}: expected an event, got ${JSON.stringify(outcome)}`);
    const event = (outcome as { data: Record<string, any> }).data.projectEvents;
    assert.equal(event.__typename, "ProjectEvent", what);
    assert.equal(event.type, "project.created", what);
    assert.equal(event.projectId, projectId, what);
    return;
  }
  if (expected === ANON) {
    // Without a valid token the connection itself is refused.
    assert.equal(outcome.kind, "closed", `${what}: expected the socket closed, got ${JSON.stringify(outcome)}`);
    assert.equal((outcome as { code: number }).code, 4401, `${what}: close code`);
    assert.match((outcome as { reason: string }).reason, /^UNAUTHENTICATED\b/, `${what}: close reason names the code`);
    return;
  }
  assert.equal(outcome.kind, "errors", `${what}: expected a refusal, got ${JSON.stringify(outcome)}`);
  assert.equal(
    (outcome as { errors: Array<{ extensions?: Record<string, any> }> }).errors[0]!.extensions?.code,
    expected,
    `${what}: error code`,
  );
}

describe("role matrix", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.close();
  });

  MATRIX.forEach((c, index) => {
    const allowedSummary = summarize(c);
    it(`${c.caller}: ${allowedSummary}`, async () => {
      const slug = `m${index}`;
      const ids = { A: await seedProject(t, `${slug}-a`), B: await seedProject(t, `${slug}-b`) };
      const names = { A: `${slug}-a`, B: `${slug}-b` };
      let token: string | null = null;
      let principalId: string | undefined;
      if (c.as !== "anonymous") {
        const seeded = await seedCaller(t, c.as.role, c.as.in ? ids[c.as.in] : undefined);
        token = seeded.token;
        principalId = seeded.principalId;
      }

      // Queries.
      for (const p of ["A", "B"] as const) {
        const res = await t.gql(`query($id: ID) { project(id: $id) { __typename id name } }`, { id: ids[p] }, token);
        assertHttpOutcome(res, "project", c.project[p], `project(id: ${p})`);
        if (c.project[p] === OK) {
          assert.equal(res.data!.project.__typename, "Project");
          assert.equal(res.data!.project.id, ids[p]);
        }
      }
      const list = await t.gql(
        `query($q: String) { projects(filter: { nameContains: $q }) { totalCount nodes { __typename id } } }`,
        { q: `${slug}-` },
        token,
      );
      if (Array.isArray(c.projects)) {
        assertHttpOutcome(list, "projects", OK, "projects");
        const listed = list.data!.projects.nodes.map((n: { id: string }) => n.id).sort();
        assert.deepEqual(listed, c.projects.map((p) => ids[p]).sort(), "projects lists exactly the readable ones");
        assert.equal(list.data!.projects.totalCount, c.projects.length, "projects totalCount");
      } else {
        assertHttpOutcome(list, "projects", c.projects, "projects");
      }

      // Subscriptions, replaying from the start so an allowed one answers at once with `project.created`.
      const client = t.ws(token);
      try {
        for (const p of ["A", "B"] as const) {
          const outcome = await firstOutcome(client, {
            query: `subscription($id: ID!) { projectEvents(projectId: $id, after: "0") { __typename type projectId } }`,
            variables: { id: ids[p] },
          });
          assertSubscriptionOutcome(outcome, ids[p], c.projectEvents[p], `projectEvents(projectId: ${p})`);
        }
      } finally {
        await client.dispose();
      }

      // Mutations.
      for (const p of ["A", "B"] as const) {
        const res = await t.gql(
          `mutation($i: RenameProjectInput!) { renameProject(input: $i) { ${MUTATION_FIELDS} } }`,
          { i: { id: ids[p], name: `${names[p]}-renamed` } },
          token,
        );
        assertHttpOutcome(res, "renameProject", c.renameProject[p], `renameProject(${p})`);
        if (c.renameProject[p] === OK) assert.equal(res.data!.renameProject.__typename, "ProjectPayload");
      }
      const created = await t.gql(
        `mutation($i: CreateProjectInput!) { createProject(input: $i) { ${MUTATION_FIELDS} } }`,
        { i: { name: `${slug}-new` } },
        token,
      );
      assertHttpOutcome(created, "createProject", c.createProject, "createProject");
      if (c.createProject === OK) assert.equal(created.data!.createProject.__typename, "ProjectPayload");
      for (const p of ["A", "B"] as const) {
        const res = await t.gql(
          `mutation($i: ProjectIdInput!) { archiveProject(input: $i) { ${MUTATION_FIELDS} } }`,
          { i: { id: ids[p] } },
          token,
        );
        assertHttpOutcome(res, "archiveProject", c.archiveProject[p], `archiveProject(${p})`);
        if (c.archiveProject[p] === OK) {
          assert.equal(res.data!.archiveProject.__typename, "ProjectPayload");
          assert.equal(res.data!.archiveProject.project.archived, true);
        }
      }

      // Refused mutations changed nothing; allowed ones took effect (read back as admin).
      for (const p of ["A", "B"] as const) {
        const stored = dataOf(await t.gql(`query($id: ID) { project(id: $id) { name archived } }`, { id: ids[p] })).project;
        assert.equal(stored.name, c.renameProject[p] === OK ? `${names[p]}-renamed` : names[p], `stored name of ${p}`);
        assert.equal(stored.archived, c.archiveProject[p] === OK, `stored archived flag of ${p}`);
      }
      const createdRow = dataOf(await t.gql(`query($n: String) { project(name: $n) { id } }`, { n: `${slug}-new` })).project;
      assert.equal(createdRow !== null, c.createProject === OK, "the project to create exists only when allowed");

      // Every refused mutation, and only those, left a DENIED audit row naming the caller.
      if (principalId) {
        const audit = dataOf(
          await t.gql(
            `query($f: AuditEventFilter) { auditEvents(first: 50, filter: $f) { nodes { __typename action projectId outcome actorId result } } }`,
            { f: { outcome: "DENIED", actorId: principalId } },
          ),
        ).auditEvents.nodes as Array<{
          __typename: string;
          action: string;
          projectId: string | null;
          outcome: string;
          actorId: string;
          result: Record<string, unknown>;
        }>;
        const label = (id: string | null) => (id === ids.A ? "A" : id === ids.B ? "B" : id === null ? "-" : id);
        const expectedDenied = [
          ...(["A", "B"] as const).filter((p) => c.renameProject[p] === NO).map((p) => `project.rename@${p}`),
          ...(c.createProject === NO ? ["project.create@-"] : []),
          ...(["A", "B"] as const).filter((p) => c.archiveProject[p] === NO).map((p) => `project.archive@${p}`),
        ].sort();
        assert.deepEqual(audit.map((a) => `${a.action}@${label(a.projectId)}`).sort(), expectedDenied, "DENIED audit rows");
        for (const row of audit) {
          assert.equal(row.__typename, "AuditEvent");
          assert.equal(row.outcome, "DENIED");
          assert.equal(row.actorId, principalId);
          assert.equal(row.result.code, "FORBIDDEN");
        }
      }
    });
  });

  it("refuses a project ADMIN of A everything administrative in project B and globally", async () => {
    const a = await seedProject(t, "scope-a");
    const b = await seedProject(t, "scope-b");
    const admin = await seedCaller(t, "ADMIN", a);
    const other = await seedCaller(t, null);
    const grant = `mutation($i: GrantRoleInput!) { grantRole(input: $i) { __typename ... on RoleBindingPayload { roleBinding { id } } } }`;

    // In A it administers: grants roles and reads A's audit log.
    const inA = await t.gql(grant, { i: { principalId: other.principalId, role: "VIEWER", projectId: a } }, admin.token);
    assert.equal(dataOf(inA).grantRole.__typename, "RoleBindingPayload");
    const auditA = await t.gql(`query($p: ID) { auditEvents(filter: { projectId: $p }) { totalCount } }`, { p: a }, admin.token);
    assert.ok(dataOf(auditA).auditEvents.totalCount > 0);

    // In B, and in the global form, it does not.
    const inB = await t.gql(grant, { i: { principalId: other.principalId, role: "VIEWER", projectId: b } }, admin.token);
    assert.equal(inB.errors?.[0]?.extensions?.code, NO, "grantRole in B");
    const global = await t.gql(grant, { i: { principalId: other.principalId, role: "VIEWER" } }, admin.token);
    assert.equal(global.errors?.[0]?.extensions?.code, NO, "global grantRole");
    const auditB = await t.gql(`query($p: ID) { auditEvents(filter: { projectId: $p }) { totalCount } }`, { p: b }, admin.token);
    assert.equal(auditB.errors?.[0]?.extensions?.code, NO, "auditEvents of B");
    const auditAll = await t.gql(`{ auditEvents { totalCount } }`, {}, admin.token);
    assert.equal(auditAll.errors?.[0]?.extensions?.code, NO, "the whole audit log");

    // A binding in B (made by the global admin) cannot be removed by A's admin.
    const bindingInB = dataOf(await t.gql(grant, { i: { principalId: other.principalId, role: "EDITOR", projectId: b } })).grantRole
      .roleBinding.id;
    const revoke = await t.gql(`mutation($i: IdInput!) { revokeRole(input: $i) { __typename } }`, { i: { id: bindingInB } }, admin.token);
    assert.equal(revoke.errors?.[0]?.extensions?.code, NO, "revokeRole of a binding in B");

    // The grants in B did not happen.
    const bindings = dataOf(await t.gql(`query($id: ID) { project(id: $id) { roleBindings { principalId role } } }`, { id: b })).project
      .roleBindings;
    assert.deepEqual(bindings, [{ principalId: other.principalId, role: "EDITOR" }]);
  });
});

/** "reads A and B; renames A; …" from a row, for the test title. */
function summarize(c: Case): string {
  if (c.as === "anonymous") return "refused everything as UNAUTHENTICATED";
  const parts: string[] = [];
  const scope = (x: { A: Outcome; B: Outcome }) =>
    x.A === OK && x.B === OK ? "any project" : x.A === OK ? "only its project" : x.B === OK ? "B" : null;
  const add = (verb: string, x: { A: Outcome; B: Outcome }) => {
    const s = scope(x);
    if (s) parts.push(`${verb} ${s}`);
  };
  add("reads", c.project);
  add("subscribes to", c.projectEvents);
  add("renames", c.renameProject);
  if (c.createProject === OK) parts.push("creates projects");
  add("archives", c.archiveProject);
  const outcomes = [c.project, c.projectEvents, c.renameProject, c.archiveProject].flatMap((x) => [x.A, x.B]).concat(c.createProject);
  if (!outcomes.includes(NO)) return `${parts.join(", ")}`;
  return parts.length ? `${parts.join(", ")}; refused the rest as FORBIDDEN` : "refused everything as FORBIDDEN";
}
