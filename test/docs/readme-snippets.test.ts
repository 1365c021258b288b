import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { seedProject } from "../helpers/fixtures";
import { waitUntil } from "../helpers/eventually";
import { dataOf, startTestServer, type TestServer } from "../helpers/server";

/**
 * The snippets people copy from README.md (and the graphql-ws one of docs/api-conventions.md) run
 * as written against a real server: the files are read at run time, and only the variables the
 * README tells the reader to export (SLUICE, TOKEN; PROJECT_ID for the subscription) are given the
 * test server's values. Blocks that start or build things (`npm ci && npm start`, `npx sluice …`,
 * which runs the flights pipeline to its approval gate) are not run here.
 */

const ROOT = path.resolve(__dirname, "../../..");

interface Block {
  file: string;
  lang: string;
  code: string;
}

function blocks(file: string): Block[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => ({ file, lang: m[1]!, code: m[2]! }));
}

/** The shell blocks that query the API (`curl`, or the README's `gql` helper around it). */
const apiShellBlocks = (file: string) => blocks(file).filter((b) => b.lang === "sh" && /\bcurl\b/.test(b.code) && /^export /m.test(b.code));
/** The JavaScript blocks that use graphql-ws. */
const wsBlocks = (file: string) => blocks(file).filter((b) => /^(js|javascript|mjs)$/.test(b.lang) && b.code.includes("graphql-ws"));

/** The block with its `export NAME=value` values replaced by `values` (only those names). */
function withExports(code: string, values: Record<string, string>): string {
  return code.replace(/^export .*$/gm, (line) =>
    line.replace(/\b([A-Z_]+)=(\S+)/g, (whole, name: string) => (name in values ? `${name}=${values[name]}` : whole)),
  );
}

function run(command: string, args: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr }),
    );
  });
}

describe("the README's snippets, run as written", () => {
  let t: TestServer;
  let projectId: string;
  const children: ChildProcess[] = [];
  const scratch = fs.mkdtempSync(path.join(ROOT, ".snippets-"));
  before(async () => {
    t = await startTestServer();
    projectId = await seedProject(t, "readme");
  });
  after(async () => {
    for (const c of children) c.kill();
    fs.rmSync(scratch, { recursive: true, force: true });
    await t.close();
  });

  it("runs the curl/gql block: every query answers data and no errors", async () => {
    const found = apiShellBlocks("README.md");
    assert.ok(found.length >= 1, "README.md has a shell block querying the API");
    for (const block of found) {
      const code = withExports(block.code, { SLUICE: `${t.url}/graphql`, TOKEN: t.adminToken });
      const { stdout, stderr } = await run("bash", ["-euo", "pipefail", "-c", code], {});
      const answers = stdout.split("\n").filter((l) => l.trim() !== "");
      assert.ok(answers.length >= 1, `output: ${stdout}${stderr}`);
      for (const line of answers) {
        const body = JSON.parse(line) as { data?: unknown; errors?: unknown };
        assert.equal(body.errors, undefined, line);
        assert.ok(body.data, line);
      }
    }
  });

  /** Runs a graphql-ws block as an ES module and waits for the event a project rename causes. */
  async function runSubscription(block: Block, name: string): Promise<void> {
    // Inside the repository, so that its imports resolve from node_modules as a user's would.
    const file = path.join(scratch, `${name}.mjs`);
    fs.writeFileSync(file, block.code);
    const child = spawn(process.execPath, [file], {
      cwd: ROOT,
      env: { ...process.env, SLUICE: `${t.url}/graphql`, TOKEN: t.adminToken, PROJECT_ID: projectId },
    });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    let renames = 0;
    const line = await waitUntil(
      `an event from the ${block.file} snippet`,
      async () => {
        if (child.exitCode !== null) throw new Error(`the snippet exited ${child.exitCode}: ${err}`);
        const got = out.split("\n").find((l) => l.includes("project.renamed"));
        if (got) return got;
        // Until the subscription is up, renames go unheard: rename again each time.
        const renamed = dataOf(
          await t.gql(`mutation($i: RenameProjectInput!) { renameProject(input: $i) { __typename } }`, {
            i: { id: projectId, name: `readme-${name}-${++renames}` },
          }),
        );
        assert.equal(renamed.renameProject.__typename, "ProjectPayload");
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.equal(JSON.parse(line).projectEvents.type, "project.renamed", line);
    child.kill();
  }

  it("runs the README's graphql-ws snippet on this Node", async () => {
    const found = wsBlocks("README.md");
    assert.ok(found.length >= 1, "README.md has no graphql-ws snippet (```js importing graphql-ws); paste the corrected one in");
    for (const [i, block] of found.entries()) await runSubscription(block, `readme-${i}`);
  });

  it("runs the graphql-ws snippet of docs/api-conventions.md on this Node", async () => {
    const found = wsBlocks("docs/api-conventions.md");
    assert.equal(found.length, 1);
    await runSubscription(found[0]!, "api-conventions");
  });
});
