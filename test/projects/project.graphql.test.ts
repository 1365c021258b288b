import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const PROJECT_FIELDS = `__typename ... on ProjectPayload { project { id name description archived archivedAt } } ... on Error { code message } ... on InvalidInputError { problems { field message } } ... on ConflictError { field }`;

describe("projects", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.close();
  });

  it("creates a project and finds it by id and by name", async () => {
    const res = dataOf(
      await t.gql(`mutation { createProject(input: { name: "churn", description: "  churn model  " }) { ${PROJECT_FIELDS} } }`),
    );
    assert.equal(res.createProject.__typename, "ProjectPayload");
    const { id } = res.createProject.project;
    assert.equal(res.createProject.project.description, "churn model");
    const byId = dataOf(await t.gql(`query($id: ID) { project(id: $id) { name } }`, { id }));
    assert.equal(byId.project.name, "churn");
    const byName = dataOf(await t.gql(`{ project(name: "churn") { id } }`));
    assert.equal(byName.project.id, id);
    const missing = dataOf(await t.gql(`{ project(name: "nope") { id } }`));
    assert.equal(missing.project, null);
  });

  it("refuses a taken name with a ConflictError naming the field, and stores nothing", async () => {
    await seedProject(t, "taken");
    const res = dataOf(await t.gql(`mutation { createProject(input: { name: "taken" }) { ${PROJECT_FIELDS} } }`));
    assert.equal(res.createProject.__typename, "ConflictError");
    assert.equal(res.createProject.code, "CONFLICT");
    assert.equal(res.createProject.field, "name");
    const list = dataOf(await t.gql(`{ projects(filter: { nameContains: "taken" }) { totalCount } }`));
    assert.equal(list.projects.totalCount, 1);
  });

  it("refuses an invalid name with InvalidInputError naming the field", async () => {
    for (const name of ["Upper", "-dash", "a b", "", "x".repeat(64), "../etc"]) {
      const res = dataOf(await t.gql(`mutation($n: String!) { createProject(input: { name: $n }) { ${PROJECT_FIELDS} } }`, { n: name }));
      assert.equal(res.createProject.__typename, "InvalidInputError", name);
      assert.equal(res.createProject.code, "BAD_USER_INPUT");
      assert.deepEqual(
        res.createProject.problems.map((p: { field: string }) => p.field),
        ["name"],
      );
    }
  });

  it("renames, archives (then refuses writes) and restores", async () => {
    const id = await seedProject(t, "old-name");
    const renamed = dataOf(
      await t.gql(`mutation($id: ID!) { renameProject(input: { id: $id, name: "new-name" }) { ${PROJECT_FIELDS} } }`, { id }),
    );
    assert.equal(renamed.renameProject.project.name, "new-name");
    const archived = dataOf(await t.gql(`mutation($id: ID!) { archiveProject(input: { id: $id }) { ${PROJECT_FIELDS} } }`, { id }));
    assert.equal(archived.archiveProject.project.archived, true);
    const refused = dataOf(
      await t.gql(`mutation($id: ID!) { renameProject(input: { id: $id, name: "other" }) { ${PROJECT_FIELDS} } }`, { id }),
    );
    assert.equal(refused.renameProject.__typename, "ConflictError");
    const again = dataOf(await t.gql(`mutation($id: ID!) { archiveProject(input: { id: $id }) { ${PROJECT_FIELDS} } }`, { id }));
    assert.equal(again.archiveProject.__typename, "ConflictError");
    const hidden = dataOf(await t.gql(`{ projects(filter: { nameContains: "new-name" }) { totalCount } }`));
    assert.equal(hidden.projects.totalCount, 0);
    const shown = dataOf(await t.gql(`{ projects(filter: { nameContains: "new-name", includeArchived: true }) { totalCount } }`));
    assert.equal(shown.projects.totalCount, 1);
    const restored = dataOf(await t.gql(`mutation($id: ID!) { restoreProject(input: { id: $id }) { ${PROJECT_FIELDS} } }`, { id }));
    assert.equal(restored.restoreProject.project.archived, false);
  });

  it("answers NotFoundError for an unknown project id", async () => {
    const res = dataOf(
      await t.gql(
        `mutation { renameProject(input: { id: "00000000-0000-4000-8000-000000000000", name: "x" }) { __typename ... on NotFoundError { code resourceType resourceId } } }`,
      ),
    );
    assert.equal(res.renameProject.__typename, "NotFoundError");
    assert.equal(res.renameProject.resourceType, "Project");
  });

  it("lists only the projects a project-scoped viewer is bound to", async () => {
    const mine = await seedProject(t, "visible-one");
    await seedProject(t, "invisible-one");
    const viewer = await seedCaller(t, "VIEWER", mine);
    const res = dataOf(await t.gql(`{ projects(filter: { nameContains: "visible" }) { totalCount nodes { name } } }`, {}, viewer.token));
    assert.deepEqual(
      res.projects.nodes.map((n: { name: string }) => n.name),
      ["visible-one"],
    );
    assert.equal(res.projects.totalCount, 1);
    const bindings = dataOf(
      await t.gql(`query($id: ID) { project(id: $id) { roleBindings { role principalId } } }`, { id: mine }, viewer.token),
    );
    assert.deepEqual(bindings.project.roleBindings, [{ role: "VIEWER", principalId: viewer.principalId }]);
  });
});
