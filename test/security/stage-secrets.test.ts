/**
 * Stage secrets (issue #13): a stage receives the project secrets its spec grants, by name, and
 * nothing else; the values appear nowhere Sluice stores or answers (masked as `***` in logs).
 * Through a real server, with command and module stages on the embedded runners and on a remote
 * agent.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { maskOutcome, secretMasker } from "../../runners/secret-mask";
import { specHash } from "../../src/pipelines/canonical";
import { validatePipelineSpec } from "../../src/pipelines/validate";
import { cacheKeyOf } from "../../src/runs/engine/cache-key";
import { InvalidInputError } from "../../src/kernel/errors";
import { inProcessAgent } from "../helpers/agents";
import { seedCaller, seedProject } from "../helpers/fixtures";
import { getRun, stage, waitForRun } from "../helpers/pipelines";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { assertNames } from "../helpers/names";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A module stage that reports what it was given, derived and raw (the raw one must come back masked). */
const STAGES_JS = `
const { createHash } = require("node:crypto");
exports.use = (ctx) => {
  const value = ctx.secrets.API_KEY;
  ctx.log("module sha=" + createHash("sha256").update(value ?? "").digest("hex"));
  ctx.log("module raw=" + value);
  ctx.log("module env=" + (process.env.API_KEY ?? "unset"));
};
exports.none = (ctx) => {
  ctx.log("module keys=" + JSON.stringify(Object.keys(ctx.secrets)));
};
exports.fail = (ctx) => {
  throw new Error("could not log in with " + ctx.secrets.API_KEY);
};
`;

/** A command stage: the sha256 of $API_KEY (derived, so not masked) and the raw value (masked). */
const USE_COMMAND = ["sh", "-c", 'printf %s "$API_KEY" | sha256sum; echo "raw=$API_KEY"'];
const NONE_COMMAND = ["sh", "-c", 'echo "plain=${API_KEY:-unset} warehouse=${WAREHOUSE_KEY:-unset}"'];

async function logsOf(t: TestServer, stageRunId: string): Promise<string> {
  const res = dataOf(await t.gql(`query($id: ID!) { stageLogs(stageRunId: $id, first: 500) { nodes { text } } }`, { id: stageRunId }));
  return (res.stageLogs.nodes as Array<{ text: string }>).map((n) => n.text).join("");
}

async function setSecret(t: TestServer, projectId: string, name: string, value: string): Promise<void> {
  const r = dataOf(
    await t.gql(`mutation($i: SetSecretInput!) { setSecret(input: $i) { __typename ... on Error { message } } }`, {
      i: { projectId, name, value },
    }),
  ).setSecret;
  assert.equal(r.__typename, "SecretPayload", JSON.stringify(r));
}

async function deleteSecret(t: TestServer, projectId: string, name: string): Promise<void> {
  const r = dataOf(
    await t.gql(`mutation($i: DeleteSecretInput!) { deleteSecret(input: $i) { __typename ... on Error { message } } }`, {
      i: { projectId, name },
    }),
  ).deleteSecret;
  assert.equal(r.__typename, "SecretPayload", JSON.stringify(r));
}

type Problems = Array<{ field: string; message: string }>;

/** applyPipeline's answer: the pipeline id, or the problems it was refused with. */
async function apply(t: TestServer, projectId: string, spec: Record<string, unknown>, baseDir: string) {
  const r = dataOf(
    await t.gql(
      `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) {
         __typename ... on ApplyPipelinePayload { pipeline { id } version { id } }
         ... on InvalidInputError { code problems { field message } } ... on Error { message } } }`,
      { i: { projectId, spec, baseDir } },
    ),
  ).applyPipeline;
  return r as { __typename: string; pipeline?: { id: string }; code?: string; problems?: Problems; message?: string };
}

async function trigger(t: TestServer, pipelineId: string) {
  return dataOf(
    await t.gql(
      `mutation($i: TriggerRunInput!) { triggerRun(input: $i) {
         __typename ... on RunPayload { run { id } } ... on InvalidInputError { code problems { field message } } ... on Error { message } } }`,
      { i: { pipelineId } },
    ),
  ).triggerRun as { __typename: string; run?: { id: string }; code?: string; problems?: Problems };
}

describe("stage secrets", () => {
  let t: TestServer;
  let dir: string;
  let projectA: string;
  let projectB: string;
  // Random per test run, so finding it anywhere can only mean it leaked.
  const value = `wh-${randomBytes(12).toString("hex")}`;
  const otherValue = `other-${randomBytes(12).toString("hex")}`;

  before(async () => {
    t = await startTestServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-stage-secrets-"));
    fs.writeFileSync(path.join(dir, "stages.js"), STAGES_JS);
    projectA = await seedProject(t);
    projectB = await seedProject(t);
    await setSecret(t, projectA, "WAREHOUSE_KEY", value);
    await setSecret(t, projectB, "OTHER_KEY", otherValue);
  });
  after(async () => {
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("on the server's runners", () => {
    let runId: string;

    before(async () => {
      const applied = await apply(
        t,
        projectA,
        {
          name: "granted",
          stages: [
            { name: "cmd", run: { command: USE_COMMAND }, secrets: { API_KEY: "WAREHOUSE_KEY" } },
            { name: "cmd-none", run: { command: NONE_COMMAND } },
            { name: "mod", run: { module: "./stages.js", export: "use" }, secrets: { API_KEY: "WAREHOUSE_KEY" } },
            { name: "mod-none", run: { module: "./stages.js", export: "none" } },
            { name: "mod-fail", run: { module: "./stages.js", export: "fail" }, secrets: { API_KEY: "WAREHOUSE_KEY" } },
          ],
        },
        dir,
      );
      assert.equal(applied.__typename, "ApplyPipelinePayload", JSON.stringify(applied));
      const triggered = await trigger(t, applied.pipeline!.id);
      assert.equal(triggered.__typename, "RunPayload", JSON.stringify(triggered));
      runId = triggered.run!.id;
      await waitForRun(t, runId, 30_000);
    });

    it("gives a command stage its granted secret as an environment variable, masked as *** in its stored logs", async () => {
      const run = await getRun(t, runId);
      const cmd = stage(run, "cmd");
      assert.equal(cmd.status, "SUCCEEDED", JSON.stringify(cmd.failure));
      const logs = await logsOf(t, cmd.id);
      assert.match(logs, new RegExp(sha256(value)), "the stage saw the value (its sha256 is in the log)");
      assert.match(logs, /raw=\*\*\*/);
      assert.ok(!logs.includes(value));
    });

    it("gives a module stage its granted secret as ctx.secrets, not in process.env", async () => {
      const run = await getRun(t, runId);
      const mod = stage(run, "mod");
      assert.equal(mod.status, "SUCCEEDED", JSON.stringify(mod.failure));
      const logs = await logsOf(t, mod.id);
      assert.match(logs, new RegExp(`module sha=${sha256(value)}`));
      assert.match(logs, /module raw=\*\*\*/);
      assert.match(logs, /module env=unset/);
    });

    it("gives a stage without a grant no secret", async () => {
      const run = await getRun(t, runId);
      assert.match(await logsOf(t, stage(run, "cmd-none").id), /plain=unset warehouse=unset/);
      assert.match(await logsOf(t, stage(run, "mod-none").id), /module keys=\[\]/);
    });

    it("masks the value in a stage's failure message", async () => {
      const run = await getRun(t, runId);
      const failed = stage(run, "mod-fail");
      assert.equal(failed.status, "FAILED");
      assertNames(failed.failure?.message, "***");
    });

    it("shows which secrets a stage run receives, by name only", async () => {
      const res = dataOf(
        await t.gql(`query($id: ID!) { run(id: $id) { stageRuns { stageName secrets { variable secret } } } }`, { id: runId }),
      );
      const byStage = new Map((res.run.stageRuns as Array<{ stageName: string; secrets: unknown[] }>).map((s) => [s.stageName, s.secrets]));
      assert.deepEqual(byStage.get("cmd"), [{ variable: "API_KEY", secret: "WAREHOUSE_KEY" }]);
      assert.deepEqual(byStage.get("cmd-none"), []);
    });

    it("leaves the value out of every answer about the run and of the events, audit, log and run tables", async () => {
      const answer = await t.gql(
        `query($id: ID!) { run(id: $id) { id status error params pipelineVersion { spec }
           stageRuns { id params failure cacheKey secrets { variable secret } attempts { attempt outcome failure } } } }`,
        { id: runId },
      );
      const text = JSON.stringify(answer);
      assert.ok(text.includes("WAREHOUSE_KEY"));
      assert.ok(!text.includes(value), "a GraphQL answer holds the value");
      const ds = t.server.services.db.dataSource;
      for (const table of ["events", "audit_events", "stage_logs", "stage_runs", "stage_attempts", "runs", "pipeline_versions"]) {
        const rows: Array<{ row: string }> = await ds.query(`SELECT t::text AS row FROM ${table} t`);
        assert.ok(rows.length > 0 || table === "stage_attempts", `${table} has rows`);
        assert.ok(!rows.some((r) => r.row.includes(value)), `the value is in ${table}`);
      }
    });
  });

  describe("at apply and at trigger", () => {
    it("refuses a secret the project does not have, naming the stage, the variable and the secret", async () => {
      const r = await apply(
        t,
        projectA,
        { name: "missing", stages: [{ name: "use", run: { command: ["true"] }, secrets: { API_KEY: "NOT_SET_ANYWHERE" } }] },
        dir,
      );
      assert.equal(r.__typename, "InvalidInputError");
      assert.equal(r.code, "BAD_USER_INPUT");
      assert.equal(r.problems?.[0]?.field, "stages[0].secrets.API_KEY");
      assertNames(r.problems![0]!.message, "use", "API_KEY", "NOT_SET_ANYWHERE");
    });

    it("refuses a secret of another project, without its value", async () => {
      const r = await apply(
        t,
        projectA,
        { name: "foreign", stages: [{ name: "use", run: { command: ["true"] }, secrets: { API_KEY: "OTHER_KEY" } }] },
        dir,
      );
      assert.equal(r.__typename, "InvalidInputError");
      assert.equal(r.problems?.[0]?.field, "stages[0].secrets.API_KEY");
      assertNames(r.problems![0]!.message, "OTHER_KEY");
      assert.ok(!JSON.stringify(r).includes(otherValue));
    });

    it("refuses to trigger a run when a granted secret was deleted since apply", async () => {
      await setSecret(t, projectA, "SHORT_LIVED", "short-lived-value");
      const applied = await apply(
        t,
        projectA,
        { name: "deleted", stages: [{ name: "use", run: { command: ["true"] }, secrets: { TOKEN: "SHORT_LIVED" } }] },
        dir,
      );
      assert.equal(applied.__typename, "ApplyPipelinePayload");
      await deleteSecret(t, projectA, "SHORT_LIVED");
      const r = await trigger(t, applied.pipeline!.id);
      assert.equal(r.__typename, "InvalidInputError");
      assert.equal(r.problems?.[0]?.field, "stages.use.secrets.TOKEN");
      assertNames(r.problems![0]!.message, "SHORT_LIVED");
    });

    it("fails a stage (SECRET_UNAVAILABLE, not retried) whose secret is deleted after the run began", async () => {
      await setSecret(t, projectA, "GOES_AWAY", "goes-away-value");
      const applied = await apply(
        t,
        projectA,
        {
          name: "goes-away",
          stages: [
            { name: "first", run: { command: ["sh", "-c", 'sleep 1; echo x > "$SLUICE_OUTPUT_OUT"'] }, outputs: { out: { kind: "File" } } },
            {
              name: "second",
              run: { command: ["true"] },
              inputs: { x: { from: "first.out" } },
              secrets: { TOKEN: "GOES_AWAY" },
              retries: { max: 2, initialDelayMs: 10 },
            },
          ],
        },
        dir,
      );
      assert.equal(applied.__typename, "ApplyPipelinePayload", JSON.stringify(applied));
      const triggered = await trigger(t, applied.pipeline!.id);
      assert.equal(triggered.__typename, "RunPayload");
      // `second` starts after `first` (a second at least): the secret is gone by then.
      await deleteSecret(t, projectA, "GOES_AWAY");
      const run = await waitForRun(t, triggered.run!.id, 30_000);
      assert.equal(stage(run, "first").status, "SUCCEEDED");
      const second = stage(run, "second");
      assert.equal(second.status, "FAILED");
      assert.equal(second.failure?.type, "SECRET_UNAVAILABLE");
      assert.equal(second.failure?.nonRetryable, true);
      assert.equal(second.attempt, 1);
      assertNames(second.failure?.message, "GOES_AWAY");
      assert.ok(!JSON.stringify(second.failure).includes("goes-away-value"));
    });
  });

  describe("on a remote agent", () => {
    it("receives the granted secret in its lease, and ships the stage's logs masked", async () => {
      const runner = await seedCaller(t, "RUNNER", projectA);
      const agent = inProcessAgent(t, runner.token, { labels: ["vault"], name: `vault-${randomBytes(3).toString("hex")}` });
      await agent.start();
      try {
        const applied = await apply(
          t,
          projectA,
          {
            name: "remote-granted",
            stages: [
              { name: "cmd", run: { command: USE_COMMAND }, secrets: { API_KEY: "WAREHOUSE_KEY" }, runner: { labels: ["vault"] } },
              { name: "none", run: { command: NONE_COMMAND }, runner: { labels: ["vault"] } },
            ],
          },
          dir,
        );
        assert.equal(applied.__typename, "ApplyPipelinePayload", JSON.stringify(applied));
        const triggered = await trigger(t, applied.pipeline!.id);
        const run = await waitForRun(t, triggered.run!.id, 30_000);
        const cmd = stage(run, "cmd");
        assert.equal(cmd.status, "SUCCEEDED", JSON.stringify(cmd.failure));
        const logs = await logsOf(t, cmd.id);
        assert.match(logs, new RegExp(sha256(value)));
        assert.match(logs, /raw=\*\*\*/);
        assert.ok(!logs.includes(value));
        assert.match(await logsOf(t, stage(run, "none").id), /plain=unset/);
        const audit: Array<{ row: string }> = await t.server.services.db.dataSource.query(`SELECT a::text AS row FROM audit_events a`);
        assert.ok(!audit.some((r) => r.row.includes(value)), "the lease is audited without the value");
      } finally {
        await agent.cleanup();
      }
    });
  });
});

const BWRAP = "/usr/bin/bwrap";

describe("stage secrets in the sandbox", { skip: !fs.existsSync(BWRAP) && "bubblewrap is not installed" }, () => {
  let t: TestServer;
  let dir: string;
  const value = `sb-${randomBytes(12).toString("hex")}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-stage-secrets-sandbox-"));
    fs.writeFileSync(path.join(dir, "stages.js"), STAGES_JS);
    t = await startTestServer({ env: { SLUICE_SANDBOX_BWRAP: BWRAP, SLUICE_TRUSTED_CODE: "0", SLUICE_CODE_ROOTS: dir } });
  });
  after(async () => {
    await t?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives sandboxed command and module stages their granted secret, and only them", async () => {
    const projectId = await seedProject(t);
    await setSecret(t, projectId, "WAREHOUSE_KEY", value);
    const applied = await apply(
      t,
      projectId,
      {
        name: "sandboxed",
        stages: [
          { name: "cmd", run: { command: USE_COMMAND }, secrets: { API_KEY: "WAREHOUSE_KEY" } },
          { name: "mod", run: { module: "./stages.js", export: "use" }, secrets: { API_KEY: "WAREHOUSE_KEY" } },
          { name: "mod-none", run: { module: "./stages.js", export: "none" } },
          { name: "cmd-none", run: { command: NONE_COMMAND } },
        ],
      },
      dir,
    );
    assert.equal(applied.__typename, "ApplyPipelinePayload", JSON.stringify(applied));
    const run = await waitForRun(t, (await trigger(t, applied.pipeline!.id)).run!.id, 30_000);
    for (const s of run.stageRuns) assert.equal(s.status, "SUCCEEDED", `${s.stageName}: ${JSON.stringify(s.failure)}`);
    const cmd = await logsOf(t, stage(run, "cmd").id);
    assert.match(cmd, new RegExp(sha256(value)));
    assert.match(cmd, /raw=\*\*\*/);
    const mod = await logsOf(t, stage(run, "mod").id);
    assert.match(mod, new RegExp(`module sha=${sha256(value)}`));
    assert.match(mod, /module env=unset/);
    assert.match(await logsOf(t, stage(run, "mod-none").id), /module keys=\[\]/);
    assert.match(await logsOf(t, stage(run, "cmd-none").id), /plain=unset/);
  });
});

describe("masking secret values", () => {
  it("masks every occurrence, the longer value first, and each line of a multi-line value", () => {
    const mask = secretMasker(["abcd", "abcdef", "line-one\nline-two", ""]);
    assert.equal(mask("x abcdef y abcd z"), "x *** y *** z");
    assert.equal(mask("got line-two"), "got ***");
    assert.equal(secretMasker([])("abcd"), "abcd");
  });

  it("masks a failure's message and the strings in its details", () => {
    const outcome = maskOutcome(
      {
        status: "failed",
        failure: { type: "STAGE_ERROR", message: "bad s3cr3t", nonRetryable: false, details: { stack: ["at s3cr3t"], n: 1 } },
      },
      secretMasker(["s3cr3t"]),
    );
    assert.deepEqual(outcome, {
      status: "failed",
      failure: { type: "STAGE_ERROR", message: "bad ***", nonRetryable: false, details: { stack: ["at ***"], n: 1 } },
    });
  });
});

describe("stage secrets in a spec", () => {
  const refused = (secrets: Record<string, unknown>, run: Record<string, unknown> = { command: ["true"] }): Problems => {
    try {
      validatePipelineSpec({ name: "p", stages: [{ name: "s", run, secrets }] });
    } catch (err) {
      assert.ok(err instanceof InvalidInputError);
      return err.problems as Problems;
    }
    assert.fail("the spec was accepted");
  };

  it("refuses variables that are Sluice's own or steer the loader, naming the field and why", () => {
    for (const name of ["SLUICE_TOKEN", "LD_PRELOAD", "PATH", "NODE_OPTIONS", "PYTHONPATH", "DYLD_INSERT_LIBRARIES", "BASH_ENV"]) {
      const [problem] = refused({ [name]: "WAREHOUSE_KEY" });
      assert.equal(problem?.field, `stages[0].secrets.${name}`);
    }
  });

  it("refuses malformed variable and secret names", () => {
    assert.equal(refused({ "api-key": "WAREHOUSE_KEY" })[0]?.field, "stages[0].secrets.api-key");
    assert.equal(refused({ "1KEY": "WAREHOUSE_KEY" })[0]?.field, 'stages[0].secrets["1KEY"]');
    assert.equal(refused({ API_KEY: "warehouse key" })[0]?.field, "stages[0].secrets.API_KEY");
    assert.equal(refused({ API_KEY: 42 })[0]?.field, "stages[0].secrets.API_KEY");
  });

  it("refuses secrets on an operator stage, and a variable also set in run.env", () => {
    assert.match(refused({ API_KEY: "WAREHOUSE_KEY" }, { operator: "noop" })[0]!.message, /only applies to module and command stages/);
    assert.match(refused({ API_KEY: "WAREHOUSE_KEY" }, { command: ["true"], env: { API_KEY: "x" } })[0]!.message, /also set in run.env/);
  });

  it("hashes the version and the stage cache key over the names, so a name changes them and a value cannot", () => {
    const withGrant = (secret: string) =>
      validatePipelineSpec({ name: "p", stages: [{ name: "s", run: { command: ["true"] }, secrets: { API_KEY: secret } }] });
    assert.notEqual(specHash(withGrant("ONE")), specHash(withGrant("TWO")));
    assert.notEqual(cacheKeyOf(withGrant("ONE").stages[0]!, {}, {}), cacheKeyOf(withGrant("TWO").stages[0]!, {}, {}));
    const none = validatePipelineSpec({ name: "p", stages: [{ name: "s", run: { command: ["true"] } }] });
    assert.equal(
      specHash(none),
      specHash(validatePipelineSpec({ name: "p", stages: [{ name: "s", run: { command: ["true"] }, secrets: {} }] })),
    );
  });

  it("keeps names in the normalized spec, sorted, and leaves a spec without secrets as it was", () => {
    const spec = validatePipelineSpec({ name: "p", stages: [{ name: "s", run: { command: ["true"] }, secrets: { B: "Y", A: "X" } }] });
    assert.deepEqual(Object.keys(spec.stages[0]!.secrets!), ["A", "B"]);
    const plain = validatePipelineSpec({ name: "p", stages: [{ name: "s", run: { command: ["true"] }, secrets: {} }] });
    assert.equal("secrets" in plain.stages[0]!, false);
  });
});
