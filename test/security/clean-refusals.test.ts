import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type GqlResponse, type TestServer } from "../helpers/server";
import { firstOutcome } from "../helpers/subscriptions";

const CREATE_PROJECT = `mutation($input: CreateProjectInput!) { createProject(input: $input) { __typename ... on Error { message } } }`;
const CREATE_DATASET = `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { __typename ... on Error { message } } }`;

/** The audit rows of `action`, newest first. */
async function auditRows(t: TestServer, action: string): Promise<Array<Record<string, any>>> {
  const res = dataOf(
    await t.gql(`query($f: AuditEventFilter) { auditEvents(filter: $f, first: 50) { nodes { action outcome actorName input result } } }`, {
      f: { action },
    }),
  );
  return res.auditEvents.nodes;
}

/** Asserts a whole-request refusal with BAD_USER_INPUT that names `field` among its problems. */
function assertInputRefused(res: GqlResponse, field: string): void {
  assert.equal(res.status, 400, JSON.stringify(res.errors));
  const error = res.errors?.[0];
  assert.equal(error?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(res.errors));
  const fields = (error?.extensions?.problems ?? []).map((p: { field: string }) => p.field);
  assert.ok(fields.includes(field), `problems name ${field}: ${JSON.stringify(error)}`);
}

/** Every error code of an answer: none may be INTERNAL. */
function assertNoInternal(res: GqlResponse): void {
  for (const e of res.errors ?? []) assert.notEqual(e.extensions?.code, "INTERNAL", JSON.stringify(e));
}

describe("clean refusals", () => {
  let t: TestServer;
  let dataRoot: string;
  let projectId: string;

  before(async () => {
    dataRoot = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-refusals-"));
    t = await startTestServer({ env: { SLUICE_DATA_ROOTS: dataRoot } });
    projectId = await seedProject(t);
  });
  after(async () => {
    await t.close();
    await fs.rm(dataRoot, { recursive: true, force: true });
  });

  describe("text no database can hold", () => {
    it("refuses a NUL byte in a mutation's input with BAD_USER_INPUT naming the field, and audits the attempt", async () => {
      const before = (await auditRows(t, "graphql.createProject")).length;
      const res = await t.gql(CREATE_PROJECT, { input: { name: "nul\u0000name" } });
      assertInputRefused(res, "$input.name");
      const rows = await auditRows(t, "graphql.createProject");
      assert.equal(rows.length, before + 1, "one audit row for the refused attempt");
      assert.equal(rows[0]!.outcome, "FAILED");
      assert.equal(rows[0]!.actorName, "admin");
      assert.equal(rows[0]!.result.code, "BAD_USER_INPUT");
      assert.equal(rows[0]!.input.input.name, "nul\\u0000name", "the input is stored with the NUL escaped");
    });

    it("refuses a NUL byte in a mutation sent over WebSocket the same way, and audits the attempt", async () => {
      const before = (await auditRows(t, "graphql.createProject")).length;
      const outcome = await firstOutcome(t.ws(), { query: CREATE_PROJECT, variables: { input: { name: "ws\u0000name" } } });
      assert.equal(outcome.kind, "errors", JSON.stringify(outcome));
      const error = (outcome as { errors: Array<{ extensions?: Record<string, any> }> }).errors[0];
      assert.equal(error?.extensions?.code, "BAD_USER_INPUT");
      assert.deepEqual(
        error?.extensions?.problems.map((p: { field: string }) => p.field),
        ["$input.name"],
      );
      assert.equal((await auditRows(t, "graphql.createProject")).length, before + 1);
    });

    it("refuses a NUL byte written as a literal argument the same way", async () => {
      const res = await t.gql(`mutation { createProject(input: { name: "lit\\u0000eral" }) { __typename } }`);
      assertInputRefused(res, "input.name");
    });

    it("refuses a lone surrogate with BAD_USER_INPUT, and audits the attempt", async () => {
      const before = (await auditRows(t, "graphql.createProject")).length;
      const res = await t.gql(CREATE_PROJECT, { input: { name: "half \ud800 a pair" } });
      assertInputRefused(res, "$input.name");
      const rows = await auditRows(t, "graphql.createProject");
      assert.equal(rows.length, before + 1);
      assert.equal(rows[0]!.input.input.name, "half \ufffd a pair");
    });

    it("refuses a NUL byte inside a JSON value", async () => {
      const res = await t.gql(`mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) { __typename } }`, {
        i: { projectId, spec: { name: "p", stages: [{ name: "a\u0000" }] } },
      });
      assertInputRefused(res, "$i.spec.stages[0].name");
    });
  });

  describe("ids that are not ids", () => {
    it('answers project(id: "x") with BAD_USER_INPUT naming the argument, not INTERNAL', async () => {
      const res = await t.gql(`{ project(id: "x") { id } }`);
      assertNoInternal(res);
      assertInputRefused(res, "id");
    });

    it('answers alerts(projectId: "flights-demo") with BAD_USER_INPUT, not INTERNAL', async () => {
      const res = await t.gql(`query($p: ID!) { alerts(projectId: $p) { nodes { id } } }`, { p: "flights-demo" });
      assertNoInternal(res);
      assertInputRefused(res, "$p");
    });

    it('refuses createDataset(projectId: "flights-demo") with BAD_USER_INPUT and audits it', async () => {
      const before = (await auditRows(t, "graphql.createDataset")).length;
      const res = await t.gql(CREATE_DATASET, { input: { projectId: "flights-demo", name: "flights" } });
      assertNoInternal(res);
      assertInputRefused(res, "$input.projectId");
      const rows = await auditRows(t, "graphql.createDataset");
      assert.equal(rows.length, before + 1);
      assert.equal(rows[0]!.input.input.projectId, "flights-demo");
    });

    it("still answers a well-formed id that names nothing with null", async () => {
      const res = await t.gql(`{ project(id: "00000000-0000-4000-8000-000000000000") { id } }`);
      assert.equal(res.errors, undefined);
      assert.equal(res.data?.project, null);
    });
  });

  describe("subscriptions over HTTP", () => {
    const SUBSCRIPTION = `subscription($p: ID!) { projectEvents(projectId: $p) { __typename } }`;

    it("answers a subscription sent as POST with 400 pointing at the WebSocket endpoint", async () => {
      const res = await t.gql(SUBSCRIPTION, { p: projectId });
      assert.equal(res.status, 400, JSON.stringify(res.errors));
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
      assert.equal(res.errors?.[0]?.extensions?.reason, "SUBSCRIPTION_OVER_HTTP");
    });

    it("answers a subscription sent as GET with 400 too", async () => {
      const url = new URL(`${t.url}/graphql`);
      url.searchParams.set("query", SUBSCRIPTION);
      url.searchParams.set("variables", JSON.stringify({ p: projectId }));
      const res = await fetch(url, { headers: { authorization: `Bearer ${t.adminToken}`, "apollo-require-preflight": "1" } });
      const body = (await res.json()) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.errors?.[0]?.extensions?.reason, "SUBSCRIPTION_OVER_HTTP");
    });

    it("still serves the subscription over WebSocket", async () => {
      const outcome = firstOutcome(t.ws(), { query: SUBSCRIPTION, variables: { p: projectId } }, 1_500).catch((e: Error) => e);
      const result = await outcome;
      // No event arrives (nothing changes): the subscription stays open until the timeout.
      assert.ok(result instanceof Error && /no subscription outcome/.test(result.message), String(result));
    });
  });

  describe("server folders in answers", () => {
    let datasetId: string;
    before(async () => {
      const res = dataOf(
        await t.gql(
          `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { __typename ... on DatasetPayload { dataset { id } } ... on Error { message } } }`,
          { i: { projectId, name: "leaky" } },
        ),
      );
      datasetId = res.createDataset.dataset.id;
    });

    /** Puts a FILE source and ingests it: the answer to the ingest. */
    async function ingest(name: string, format: string, paths: string[]): Promise<GqlResponse> {
      dataOf(
        await t.gql(`mutation($i: PutDatasetSourceInput!) { putDatasetSource(input: $i) { __typename } }`, {
          i: { datasetId, name, kind: "FILE", format, paths },
        }),
      );
      return t.gql(
        `mutation($i: IngestDatasetInput!) { ingestDataset(input: $i) { __typename ... on Error { message } ... on InvalidInputError { problems { field message } } } }`,
        { i: { datasetId, source: name } },
      );
    }

    it("names no data root when a source path lies outside them", async () => {
      const res = await ingest("outside", "csv", ["/etc/hosts"]);
      const text = JSON.stringify(res);
      assertNoInternal(res);
      assert.equal(res.data?.ingestDataset.__typename, "InvalidInputError", text);
      assert.ok(!text.includes(dataRoot), `the answer names the data root: ${text}`);
      assert.ok(!text.includes(process.cwd()), `the answer names the server's folder: ${text}`);
    });

    it("names the file relative to its data root when DuckDB cannot read it", async () => {
      await fs.mkdir(path.join(dataRoot, "in"), { recursive: true });
      await fs.writeFile(path.join(dataRoot, "in", "broken.parquet"), "this is not parquet at all\n");
      const res = await ingest("broken", "parquet", ["in/broken.parquet"]);
      const text = JSON.stringify(res);
      assertNoInternal(res);
      assert.equal(res.data?.ingestDataset.__typename, "InvalidInputError", text);
      assert.ok(!text.includes(`/${path.basename(dataRoot)}`), `the answer names the data root: ${text}`);
      assert.match(text, /in\/broken\.parquet/, "the file is named relative to its root");
    });
  });
});
