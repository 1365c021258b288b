import { randomBytes } from "node:crypto";
import { dataOf, type TestServer } from "./server";

/** Creates a project through the API and returns its id. */
export async function seedProject(t: TestServer, name = `p-${randomBytes(4).toString("hex")}`): Promise<string> {
  const res = dataOf(
    await t.gql(
      `mutation($input: CreateProjectInput!) { createProject(input: $input) { __typename ... on ProjectPayload { project { id } } ... on Error { message } } }`,
      { input: { name } },
    ),
  );
  if (res.createProject.__typename !== "ProjectPayload") throw new Error(`seedProject: ${res.createProject.message}`);
  return res.createProject.project.id as string;
}

/** A principal holding `role` (globally, or in `projectId`), with a token; created by the admin. */
export async function seedCaller(
  t: TestServer,
  role: "VIEWER" | "EDITOR" | "APPROVER" | "RUNNER" | "ADMIN" | null,
  projectId?: string,
  options: { expiresAt?: string } = {},
): Promise<{ principalId: string; tokenId: string; token: string }> {
  const name = `${(role ?? "nobody").toLowerCase()}-${randomBytes(4).toString("hex")}`;
  const p = dataOf(
    await t.gql(`mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { ... on PrincipalPayload { principal { id } } } }`, {
      i: { name },
    }),
  );
  const principalId = p.createPrincipal.principal.id as string;
  if (role) {
    dataOf(
      await t.gql(`mutation($i: GrantRoleInput!) { grantRole(input: $i) { __typename } }`, {
        i: { principalId, role, projectId: projectId ?? null },
      }),
    );
  }
  const tok = dataOf(
    await t.gql(`mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { ... on CreatedApiToken { token apiToken { id } } } }`, {
      i: { principalId, name: "test", expiresAt: options.expiresAt ?? null },
    }),
  );
  return { principalId, tokenId: tok.createApiToken.apiToken.id, token: tok.createApiToken.token };
}
