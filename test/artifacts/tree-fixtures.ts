import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { removeTree } from "../../src/artifacts/tree";

/** A file's content, or `{ content, mode }`, or `null` for an empty folder. */
export type TreeSpec = Record<string, string | Buffer | null | { content: string | Buffer; mode: number }>;

/**
 * A fresh folder under the OS temp folder, removed when the test ends (read-only stored
 * objects included: their folders get their write bit back first).
 */
export async function scratch(t: TestContext, prefix = "sluice-artifacts-"): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => removeTree(dir));
  return dir;
}

/** Writes the files and empty folders of `spec` under `root`, in the order given (`/` separators). */
export async function writeTree(root: string, spec: TreeSpec): Promise<string> {
  await fs.mkdir(root, { recursive: true });
  for (const [rel, value] of Object.entries(spec)) {
    const full = path.join(root, ...rel.split("/"));
    if (value === null) {
      await fs.mkdir(full, { recursive: true });
      continue;
    }
    await fs.mkdir(path.dirname(full), { recursive: true });
    const { content, mode } = typeof value === "string" || Buffer.isBuffer(value) ? { content: value, mode: 0o644 } : value;
    await fs.writeFile(full, content);
    await fs.chmod(full, mode);
  }
  return root;
}

/** Whether this process ignores permission bits (root does), so write refusals cannot be observed. */
export const ignoresPermissions = process.getuid?.() === 0;
