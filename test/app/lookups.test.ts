import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ErrorCode, SluiceError } from "../../src/kernel/errors";
import { LookupArgumentsError, lookupBy } from "../../src/kernel/graphql/lookup";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { applyPipeline } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

/*
 * The lookup convention (docs/api-conventions.md, "Looking one thing up"), checked on every
 * single-object query with a natural key: `id` alone or the complete key; neither, both or half a
 * key is BAD_USER_INPUT naming the missing and extra arguments; no match is null.
 */

type Args = Record<string, string | number>;

interface LookupCase {
  query: string;
  /** The argument types, as a variable declaration would need them. */
  types: Record<string, string>;
  /** A complete key (values that match nothing). */
  key: () => Args;
  /** Extra key forms (a model version's alias), each complete. */
  otherKeys?: Array<() => Args>;
}

const id = () => randomUUID();
let projectId = "";
let projectName = "";

const CASES: LookupCase[] = [
  { query: "project", types: { id: "ID", name: "String" }, key: () => ({ name: `none-${id()}` }) },
  { query: "principal", types: { id: "ID", name: "String" }, key: () => ({ name: `none-${id()}` }) },
  { query: "dataset", types: { id: "ID", projectId: "ID", name: "String" }, key: () => ({ projectId, name: "none" }) },
  { query: "datasetVersion", types: { id: "ID", datasetId: "ID", version: "Int" }, key: () => ({ datasetId: id(), version: 1 }) },
  { query: "pipeline", types: { id: "ID", projectId: "ID", name: "String" }, key: () => ({ projectId, name: "none" }) },
  { query: "pipelineVersion", types: { id: "ID", pipelineId: "ID", version: "Int" }, key: () => ({ pipelineId: id(), version: 1 }) },
  { query: "run", types: { id: "ID", pipelineId: "ID", number: "Int" }, key: () => ({ pipelineId: id(), number: 1 }) },
  { query: "stageRun", types: { id: "ID", runId: "ID", stageName: "String" }, key: () => ({ runId: id(), stageName: "x" }) },
  { query: "registeredModel", types: { id: "ID", projectId: "ID", name: "String" }, key: () => ({ projectId, name: "none" }) },
  {
    query: "modelVersion",
    types: { id: "ID", registeredModelId: "ID", version: "Int", alias: "String" },
    key: () => ({ registeredModelId: id(), version: 1 }),
    otherKeys: [() => ({ registeredModelId: id(), alias: "champion" })],
  },
  {
    query: "featureView",
    types: { id: "ID", projectId: "ID", name: "String", version: "Int" },
    key: () => ({ projectId, name: "none" }),
    otherKeys: [() => ({ projectId, name: "none", version: 2 })],
  },
  { query: "approvalRequest", types: { id: "ID", modelVersionId: "ID" }, key: () => ({ modelVersionId: id() }) },
  { query: "deployment", types: { id: "ID", projectId: "ID", name: "String" }, key: () => ({ projectId, name: "none" }) },
  { query: "schedule", types: { id: "ID", pipelineId: "ID", name: "String" }, key: () => ({ pipelineId: id(), name: "none" }) },
  { query: "eventRule", types: { id: "ID", pipelineId: "ID", name: "String" }, key: () => ({ pipelineId: id(), name: "none" }) },
  {
    query: "notificationChannel",
    types: { id: "ID", projectId: "ID", name: "String" },
    key: () => ({ projectId, name: "none" }),
  },
  { query: "experiment", types: { id: "ID", projectId: "ID", name: "String" }, key: () => ({ projectId, name: "none" }) },
  {
    query: "validationSuite",
    types: { id: "ID", datasetId: "ID", name: "String", version: "Int" },
    key: () => ({ datasetId: id(), name: "none" }),
    otherKeys: [() => ({ datasetId: id(), name: "none", version: 3 })],
  },
];

/** `{ query(a: $a, …) { __typename } }` over the arguments given. */
function operation(c: LookupCase, args: Args): string {
  const names = Object.keys(args);
  const vars = names.map((n) => `$${n}: ${c.types[n]}`).join(", ");
  const call = names.length ? `(${names.map((n) => `${n}: $${n}`).join(", ")})` : "";
  return `query${vars ? `(${vars})` : ""} { ${c.query}${call} { __typename } }`;
}

describe("lookups: one convention", () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
    projectName = `lookups-${id().slice(0, 8)}`;
    projectId = await seedProject(t, projectName);
  });
  after(async () => t?.close());

  async function ask(c: LookupCase, args: Args, token?: string) {
    return t.gql(operation(c, args), args, token);
  }

  /** A BAD_USER_INPUT answer naming exactly `missing` and `extra` (by extensions, not wording). */
  function assertRefused(res: Awaited<ReturnType<TestServer["gql"]>>, missing: string[], extra: string[], what: string): void {
    assert.equal(res.errors?.length, 1, `${what}: ${JSON.stringify(res.errors ?? res.data)}`);
    const ext = res.errors![0]!.extensions!;
    assert.equal(ext.code, ErrorCode.BAD_USER_INPUT, what);
    assert.deepEqual([...ext.missing].sort(), [...missing].sort(), `${what}: missing`);
    assert.deepEqual([...ext.extra].sort(), [...extra].sort(), `${what}: extra`);
  }

  for (const c of CASES) {
    describe(c.query, () => {
      it("answers null for an id or a key that matches nothing", async () => {
        for (const args of [{ id: id() }, c.key(), ...(c.otherKeys ?? []).map((k) => k())]) {
          const res = await ask(c, args);
          assert.equal(res.errors, undefined, `${JSON.stringify(args)}: ${JSON.stringify(res.errors)}`);
          assert.equal(dataOf(res)[c.query], null);
        }
      });

      it("refuses neither form", async () => {
        assertRefused(await ask(c, {}), ["id"], [], "no arguments");
      });

      it("refuses both forms", async () => {
        const key = c.key();
        assertRefused(await ask(c, { id: id(), ...key }), [], Object.keys(key), "id and key");
        for (const name of Object.keys(key)) {
          assertRefused(await ask(c, { id: id(), [name]: key[name]! }), [], [name], `id and ${name}`);
        }
      });

      it("refuses an incomplete key, naming what is missing", async () => {
        const key = c.key();
        const names = Object.keys(key);
        if (names.length < 2) return; // a one-argument key cannot be half given
        for (const name of names) {
          const partial = { ...key };
          delete partial[name];
          assertRefused(await ask(c, partial), [name], [], `key without ${name}`);
        }
      });
    });
  }

  it("a model version: number and alias together are one argument too many", async () => {
    const c = CASES.find((x) => x.query === "modelVersion")!;
    assertRefused(await ask(c, { registeredModelId: id(), version: 1, alias: "champion" }), [], ["alias"], "version and alias");
    assertRefused(await ask(c, { alias: "champion" }), ["registeredModelId"], [], "alias alone");
  });

  it("an optional argument never stands for the key, nor goes with an id", async () => {
    const c = CASES.find((x) => x.query === "featureView")!;
    assertRefused(await ask(c, { version: 1 }), ["projectId", "name"], [], "version alone");
    assertRefused(await ask(c, { id: id(), version: 1 }), [], ["version"], "id and version");
  });

  it("finds by either form: pipeline, pipeline version, schedule, event rule, project", async () => {
    const spec = { name: "lookup-pipe", stages: [{ name: "x", run: { operator: "noop" } }] };
    const { pipelineId, versionId, version } = await applyPipeline(t, projectId, spec);
    const schedule = dataOf(
      await t.gql(
        `mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { __typename ... on SchedulePayload { schedule { id } } ... on Error { message } } }`,
        { i: { pipelineId, name: "nightly", cron: "0 3 * * *" } },
      ),
    ).createSchedule;
    assert.equal(schedule.__typename, "SchedulePayload", JSON.stringify(schedule));
    const rule = dataOf(
      await t.gql(
        `mutation($i: CreateEventRuleInput!) { createEventRule(input: $i) { __typename ... on EventRulePayload { eventRule { id } } ... on Error { message } } }`,
        { i: { pipelineId, name: "on-thing", eventType: "thing.done" } },
      ),
    ).createEventRule;
    assert.equal(rule.__typename, "EventRulePayload", JSON.stringify(rule));

    const both = dataOf(
      await t.gql(
        `query($p: ID!, $pl: ID!, $v: Int!, $vid: ID!, $s: ID!, $r: ID!, $pn: String!) {
          a: pipeline(projectId: $p, name: "lookup-pipe") { id }
          b: pipelineVersion(pipelineId: $pl, version: $v) { id }
          c: pipelineVersion(id: $vid) { id }
          d: schedule(pipelineId: $pl, name: "nightly") { id }
          e: schedule(id: $s) { id }
          f: eventRule(pipelineId: $pl, name: "on-thing") { id }
          g: eventRule(id: $r) { id }
          h: project(name: $pn) { id }
        }`,
        { p: projectId, pl: pipelineId, v: version, vid: versionId, s: schedule.schedule.id, r: rule.eventRule.id, pn: projectName },
      ),
    );
    assert.equal(both.a.id, pipelineId);
    assert.equal(both.b.id, versionId);
    assert.equal(both.c.id, versionId);
    assert.equal(both.d.id, schedule.schedule.id);
    assert.equal(both.e.id, schedule.schedule.id);
    assert.equal(both.f.id, rule.eventRule.id);
    assert.equal(both.g.id, rule.eventRule.id);
    assert.equal(both.h.id, projectId);
  });

  it("authorization: null only where the caller may read; FORBIDDEN never tells whether the thing exists", async () => {
    const other = await seedProject(t);
    const { pipelineId } = await applyPipeline(t, other, { name: "hidden", stages: [{ name: "x", run: { operator: "noop" } }] });
    const viewer = await seedCaller(t, "VIEWER", projectId);
    const pipeline = CASES.find((x) => x.query === "pipeline")!;
    const schedule = CASES.find((x) => x.query === "schedule")!;
    const code = (res: Awaited<ReturnType<TestServer["gql"]>>) => res.errors?.[0]?.extensions?.code;

    // Where the caller may read: no match is null.
    const own = await ask(pipeline, { projectId, name: "none" }, viewer.token);
    assert.equal(own.errors, undefined, JSON.stringify(own.errors));
    assert.equal(dataOf(own).pipeline, null);
    // Another project: FORBIDDEN whether or not the name exists there.
    assert.equal(code(await ask(pipeline, { projectId: other, name: "hidden" }, viewer.token)), ErrorCode.FORBIDDEN);
    assert.equal(code(await ask(pipeline, { projectId: other, name: "none" }, viewer.token)), ErrorCode.FORBIDDEN);
    // By id: an existing one elsewhere and an unknown one answer alike (the project is unknown).
    assert.equal(code(await ask(pipeline, { id: pipelineId }, viewer.token)), ErrorCode.FORBIDDEN);
    assert.equal(code(await ask(pipeline, { id: id() }, viewer.token)), ErrorCode.FORBIDDEN);
    // A parent elsewhere: FORBIDDEN; an unknown parent: FORBIDDEN too.
    assert.equal(code(await ask(schedule, { pipelineId, name: "none" }, viewer.token)), ErrorCode.FORBIDDEN);
    assert.equal(code(await ask(schedule, { pipelineId: id(), name: "none" }, viewer.token)), ErrorCode.FORBIDDEN);
    // The argument rule comes first, for anyone.
    assert.equal(code(await ask(pipeline, {}, viewer.token)), ErrorCode.BAD_USER_INPUT);
  });
});

describe("lookupBy", () => {
  const spec = { key: ["projectId", "name"] } as const;

  it("returns the form given", () => {
    assert.deepEqual(lookupBy({ id: "a", projectId: null, name: undefined }, spec), { id: "a" });
    assert.deepEqual(lookupBy({ id: null, projectId: "p", name: "n" }, spec), { key: { projectId: "p", name: "n" } });
    assert.deepEqual(
      lookupBy(
        { id: null, m: "m", v: 0, a: null },
        {
          key: [
            ["m", "v"],
            ["m", "a"],
          ],
        },
      ),
      { key: { m: "m", v: 0 } },
    );
    assert.deepEqual(lookupBy({ id: null, p: "p", n: "n", v: 2 }, { key: ["p", "n"], optional: ["v"] }), { key: { p: "p", n: "n", v: 2 } });
  });

  it("throws BAD_USER_INPUT naming the missing and extra arguments", () => {
    const refusal = (fn: () => unknown): LookupArgumentsError => {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof SluiceError && err.code === ErrorCode.BAD_USER_INPUT);
        assert.ok(err instanceof LookupArgumentsError);
        return err;
      }
      return assert.fail("no error");
    };
    let err = refusal(() => lookupBy({ id: null, projectId: null, name: null }, spec));
    assert.deepEqual([err.missing, err.extra], [["id"], []]);
    err = refusal(() => lookupBy({ id: "a", projectId: "p", name: null }, spec));
    assert.deepEqual([err.missing, err.extra], [[], ["projectId"]]);
    err = refusal(() => lookupBy({ id: null, projectId: null, name: "n" }, spec));
    assert.deepEqual([err.missing, err.extra], [["projectId"], []]);
    assert.deepEqual(err.details.problems, [{ field: "projectId", message: "missing" }]);
    for (const name of ["projectId", "name", "id"]) assert.match(err.message, new RegExp(`\`${name}\``));
  });
});
