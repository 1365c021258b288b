import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { applyPipeline, moduleRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

const APPLY = `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) {
  __typename ... on ApplyPipelinePayload { outcome pipeline { id name } version { id version contentHash } }
  ... on InvalidInputError { code problems { field message } } ... on Error { code message } } }`;
const TRIGGER = `mutation($i: TriggerRunInput!) { triggerRun(input: $i) {
  __typename ... on RunPayload { run { id } } ... on InvalidInputError { problems { field } } ... on NotFoundError { resourceType } ... on Error { code } } }`;

const file = { kind: "File" };

describe("applying pipelines", () => {
  let t: TestServer;
  let projectId: string;
  before(async () => {
    t = await startTestServer({ env: { SLUICE_RUNNERS: "none" } });
    projectId = await seedProject(t, "specs");
  });
  after(async () => {
    await t.close();
  });

  async function count(table: string): Promise<number> {
    const [{ n }] = await t.server.services.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`);
    return n;
  }

  it("stores a version by content hash; the same spec again is unchanged, a changed one is a new version", async () => {
    const spec = { name: "hashing", stages: [{ name: "a", run: { operator: "noop" }, outputs: { out: file } }] };
    const first = await applyPipeline(t, projectId, spec);
    assert.equal(first.outcome, "CREATED");
    // Key order and explicit defaults do not make a new version.
    const same = await applyPipeline(t, projectId, {
      stages: [{ outputs: { out: file }, run: { operator: "noop" }, name: "a", retries: { max: 0 } }],
      name: "hashing",
    });
    assert.equal(same.outcome, "UNCHANGED");
    assert.equal(same.versionId, first.versionId);
    const changed = await applyPipeline(t, projectId, {
      ...spec,
      stages: [...spec.stages, { name: "b", run: { operator: "noop" }, inputs: { x: { from: "a.out" } } }],
    });
    assert.equal(changed.outcome, "NEW_VERSION");
    assert.equal(changed.version, 2);
    const diff = dataOf(
      await t.gql(
        `query($a: ID!, $b: ID!) { pipelineVersionDiff(from: $a, to: $b) { equal stagesAdded stagesRemoved stagesChanged { name } } }`,
        {
          a: first.versionId,
          b: changed.versionId,
        },
      ),
    ).pipelineVersionDiff;
    assert.deepEqual(diff, { equal: false, stagesAdded: ["b"], stagesRemoved: [], stagesChanged: [] });
    const versions = dataOf(
      await t.gql(`query($id: ID) { pipeline(id: $id) { latestVersion { version } versions { totalCount nodes { version } } } }`, {
        id: first.pipelineId,
      }),
    ).pipeline;
    assert.equal(versions.latestVersion.version, 2);
    assert.deepEqual(
      versions.versions.nodes.map((v: any) => v.version),
      [2, 1],
    );
  });

  const badSpecs: Array<[string, Record<string, unknown>, string]> = [
    [
      "a cycle",
      {
        name: "cyclic",
        stages: [
          { name: "a", run: { operator: "noop" }, inputs: { x: { from: "b.out" } }, outputs: { out: file } },
          { name: "b", run: { operator: "noop" }, inputs: { x: { from: "a.out" } }, outputs: { out: file } },
        ],
      },
      "stages",
    ],
    [
      "an unknown upstream stage",
      { name: "unknown-in", stages: [{ name: "a", run: { operator: "noop" }, inputs: { x: { from: "nope.out" } } }] },
      "stages[0].inputs.x",
    ],
    [
      "an output the upstream does not declare",
      {
        name: "unknown-out",
        stages: [
          { name: "a", run: { operator: "noop" } },
          { name: "b", run: { operator: "noop" }, inputs: { x: { from: "a.missing" } } },
        ],
      },
      "stages[1].inputs.x",
    ],
    [
      "invalid parameters",
      {
        name: "bad-params",
        stages: [
          {
            name: "a",
            run: { operator: "noop" },
            paramsSchema: { type: "object", properties: { lr: { type: "number" } } },
            params: { lr: "fast" },
          },
        ],
      },
      "stages[0].params.lr",
    ],
  ];
  for (const [what, spec, field] of badSpecs) {
    it(`refuses ${what} with InvalidInputError at ${field}, storing nothing`, async () => {
      const before = await count("pipelines");
      const res = dataOf(await t.gql(APPLY, { i: { projectId, spec } })).applyPipeline;
      assert.equal(res.__typename, "InvalidInputError");
      assert.equal(res.code, "BAD_USER_INPUT");
      assert.ok(
        res.problems.some(
          (p: { field: string }) => p.field === field || p.field.startsWith(`${field}.`) || p.field.startsWith(`${field}[`),
        ),
        JSON.stringify(res.problems),
      );
      assert.equal(await count("pipelines"), before);
    });
  }

  it("names the cycle's stages in the message", async () => {
    const res = dataOf(await t.gql(APPLY, { i: { projectId, spec: badSpecs[0]![1] } })).applyPipeline;
    assert.match(res.problems.map((p: any) => p.message).join(" "), /a -> b -> a|b -> a -> b/);
  });

  it("refuses an artifact input of the wrong kind when a run is triggered, and creates no run", async () => {
    const producer = await applyPipeline(t, projectId, {
      name: "kinds-src",
      stages: [{ name: "a", run: { operator: "noop" }, outputs: { out: file } }],
    });
    // Make an artifact of kind File by recording one directly.
    const [{ id: artifactId }] = await t.server.services.db.dataSource.query(
      `INSERT INTO artifacts (project_id, kind, uri, hash, size) VALUES ($1, 'File', 'file:///x', 'sha256:00', 0) RETURNING id`,
      [projectId],
    );
    void producer;
    const consumer = await applyPipeline(t, projectId, {
      name: "kinds-dst",
      stages: [{ name: "b", run: { operator: "noop" }, inputs: { m: { artifact: artifactId, kind: "Model" } } }],
    });
    const runsBefore = await count("runs");
    const res = dataOf(await t.gql(TRIGGER, { i: { pipelineId: consumer.pipelineId } })).triggerRun;
    assert.equal(res.__typename, "InvalidInputError");
    assert.deepEqual(
      res.problems.map((p: any) => p.field),
      ["stages.b.inputs.m"],
    );
    assert.equal(await count("runs"), runsBefore);
  });

  it("refuses run parameters its schema rejects, and overrides for a stage that does not exist", async () => {
    const { pipelineId } = await applyPipeline(t, projectId, {
      name: "typed-params",
      stages: [
        { name: "s", run: moduleRun("produce"), paramsSchema: { type: "object", properties: { n: { type: "integer", minimum: 1 } } } },
      ],
    });
    const bad = dataOf(await t.gql(TRIGGER, { i: { pipelineId, params: { s: { n: 0 } } } })).triggerRun;
    assert.equal(bad.__typename, "InvalidInputError");
    assert.deepEqual(
      bad.problems.map((p: any) => p.field),
      ["params.s.n"],
    );
    const unknown = dataOf(await t.gql(TRIGGER, { i: { pipelineId, params: { nope: {} } } })).triggerRun;
    assert.deepEqual(
      unknown.problems.map((p: any) => p.field),
      ["params.nope"],
    );
  });

  it("answers NotFoundError for an unknown pipeline", async () => {
    const res = dataOf(await t.gql(TRIGGER, { i: { pipelineId: "00000000-0000-4000-8000-000000000000" } })).triggerRun;
    assert.equal(res.__typename, "NotFoundError");
    assert.equal(res.resourceType, "Pipeline");
  });
});
