import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";
import { STAGES_TS, sluice, tempDir } from "./cli";

/** A TypeScript pipeline file with a module stage (types erased on load). */
function churnSpec(retries: number): string {
  return `
const retries: number = ${retries};
export default {
  name: "churn",
  description: "A pipeline file for the CLI tests",
  stages: [
    { name: "extract", run: { module: "./stages.ts", export: "hello" }, outputs: { out: { kind: "File" } }, retries: { max: retries } },
    { name: "train", run: { module: "./stages.ts", export: "hello" }, inputs: { rows: { from: "extract.out" } } },
  ],
};
`;
}

describe("sluice apply", () => {
  let t: TestServer;
  let env: Record<string, string>;
  let tmp: ReturnType<typeof tempDir>;
  let file: string;

  before(async () => {
    t = await startTestServer();
    await seedProject(t, "cli-apply");
    env = { SLUICE_URL: t.url, SLUICE_TOKEN: t.adminToken, SLUICE_PROJECT: "cli-apply" };
    tmp = tempDir("sluice-cli-apply-");
    file = path.join(tmp.dir, "churn.ts");
    fs.writeFileSync(path.join(tmp.dir, "stages.ts"), STAGES_TS);
    fs.writeFileSync(file, churnSpec(0));
  });
  after(async () => {
    await t.close();
    tmp.remove();
  });

  async function versions(name: string): Promise<Array<{ version: number; baseDir: string; spec: any }> | null> {
    const projectId = dataOf(await t.gql(`{ project(name: "cli-apply") { id } }`)).project.id;
    const p = dataOf(
      await t.gql(`query($p: ID!, $n: String!) { pipeline(projectId: $p, name: $n) { versions { nodes { version baseDir spec } } } }`, {
        p: projectId,
        n: name,
      }),
    ).pipeline;
    return p ? p.versions.nodes : null;
  }

  it("stores a TypeScript pipeline file as version 1 and prints its name, version and hash", async () => {
    const r = await sluice(["apply", file], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^created churn v1 \(sha256:[0-9a-f]{12}…\)$/m);
    const stored = await versions("churn");
    assert.equal(stored?.length, 1);
    assert.equal(stored![0]!.baseDir, tmp.dir, "module paths resolve against the file's folder");
    assert.match(stored![0]!.spec.stages[0].run.codeVersion, /^sha256:[0-9a-f]{64}$/, "the module's hash is its code version");
  });

  it("says unchanged when the same file is applied again", async () => {
    const r = await sluice(["apply", file], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "churn v1 unchanged");
    assert.equal((await versions("churn"))?.length, 1);
  });

  it("stores a changed file as a new version and prints the diff from the previous one", async () => {
    fs.writeFileSync(file, churnSpec(2));
    const r = await sluice(["apply", file], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^churn v2 \(new version\) \(sha256:[0-9a-f]{12}…\)$/);
    assert.deepEqual(lines.slice(1), ["  ~ stage extract", "      ~ retries.max: 0 -> 2"]);
  });

  it("makes a new version when only a module stage's code changed", async () => {
    fs.appendFileSync(path.join(tmp.dir, "stages.ts"), "\nexport const edited = true;\n");
    const r = await sluice(["apply", file], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^churn v3 \(new version\)/);
    assert.match(r.stdout, /~ run\.codeVersion: "sha256:[0-9a-f]+" -> "sha256:[0-9a-f]+"/);
  });

  it("re-applying an older file makes that version the latest again, without a new one", async () => {
    fs.writeFileSync(path.join(tmp.dir, "stages.ts"), STAGES_TS);
    const r = await sluice(["apply", file], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^churn v2 unchanged; it is the latest version again \(was v3\)$/m);
    assert.equal((await versions("churn"))?.length, 3);
  });

  it("exits 1 naming each invalid field, and stores nothing", async () => {
    const broken = path.join(tmp.dir, "broken.yaml");
    fs.writeFileSync(
      broken,
      [
        "name: broken",
        "stages:",
        "  - name: a",
        "    run: { operator: noop }",
        "  - name: b",
        "    run: { operator: noop }",
        "    inputs: { x: { from: a.missing } }",
        "    retries: { max: -1 }",
      ].join("\n"),
    );
    const r = await sluice(["apply", broken], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken\.yaml: invalid pipeline spec, nothing was stored/);
    assert.match(r.stderr, /^ {2}stages\[1\]\.inputs\.x: /m);
    assert.match(r.stderr, /^ {2}stages\[1\]\.retries\.max: /m);
    assert.equal(r.stdout, "");
    assert.equal(await versions("broken"), null);
  });

  it("exits 1 for a file that does not exist", async () => {
    const r = await sluice(["apply", path.join(tmp.dir, "nope.ts")], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.ts: no such file/);
  });

  it("refuses a project that does not exist unless --create-project is given", async () => {
    const other = { ...env, SLUICE_PROJECT: "cli-new" };
    const refused = await sluice(["apply", file], other);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no project "cli-new".*--create-project/);
    const created = await sluice(["apply", file, "--create-project"], other);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created project cli-new\ncreated churn v1 /);
  });

  it("exits 2 naming SLUICE_TOKEN when no token is given", async () => {
    const r = await sluice(["apply", file], { ...env, SLUICE_TOKEN: undefined });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--token/);
    assert.match(r.stderr, /SLUICE_TOKEN/);
  });

  it("exits 2 naming SLUICE_PROJECT when no project is given", async () => {
    const r = await sluice(["apply", file], { ...env, SLUICE_PROJECT: undefined });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--project NAME or set SLUICE_PROJECT/);
  });

  it("exits 1 saying the server refused a wrong token", async () => {
    const r = await sluice(["apply", file, "--token", "slc_not_a_real_token"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused the token/);
  });

  it("exits 1 saying the server cannot be reached", async () => {
    const r = await sluice(["apply", file, "--server", "http://127.0.0.1:9"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the Sluice server at http:\/\/127\.0\.0\.1:9/);
  });
});
