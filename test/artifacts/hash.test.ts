import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { hashFile, hashFolder, hashPath, TREE_FORMAT } from "../../src/artifacts/hash";
import { scratch, writeTree } from "./tree-fixtures";

const sha256 = (bytes: string | Buffer): string => createHash("sha256").update(bytes).digest("hex");

describe("hashFile", () => {
  it("gives sha256sum's hash of the file's bytes, with its size", async (t) => {
    const dir = await scratch(t);
    const bytes = randomBytes(3 * 1024 * 1024 + 17); // spans several read chunks and a partial one
    await fs.writeFile(path.join(dir, "model.bin"), bytes);
    assert.deepEqual(await hashFile(path.join(dir, "model.bin")), {
      hash: `sha256:${sha256(bytes)}`,
      size: bytes.length,
      isDirectory: false,
      fileCount: 1,
    });
  });

  it("hashes an empty file as the SHA-256 of nothing", async (t) => {
    const dir = await scratch(t);
    await fs.writeFile(path.join(dir, "empty"), "");
    const h = await hashFile(path.join(dir, "empty"));
    assert.equal(h.hash, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(h.size, 0);
  });

  it("streams a 50 MB file without ever holding a buffer near its size", async (t) => {
    const dir = await scratch(t);
    const file = path.join(dir, "big.bin");
    const expected = createHash("sha256");
    const out = await fs.open(file, "w");
    for (let i = 0; i < 50; i++) {
      const chunk = randomBytes(1024 * 1024);
      expected.update(chunk);
      await out.write(chunk);
    }
    await out.close();

    // Collect garbage before each sample, so the samples show what is held, not what awaits GC.
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 1);
    let h;
    try {
      h = await hashFile(file);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(h.hash, `sha256:${expected.digest("hex")}`);
    assert.equal(h.size, 50 * 1024 * 1024);
    const grewBy = peak - baseline;
    assert.ok(grewBy < 8 * 1024 * 1024, `buffers grew by ${(grewBy / 1024 / 1024).toFixed(1)} MiB while hashing 50 MiB`);
  });

  it("refuses a symbolic link with a SYMLINK error", async (t) => {
    const dir = await scratch(t);
    await fs.writeFile(path.join(dir, "real"), "x");
    await fs.symlink("real", path.join(dir, "link"));
    await assert.rejects(hashFile(path.join(dir, "link")), { code: "BAD_USER_INPUT", reason: "SYMLINK" });
    await assert.rejects(hashPath(path.join(dir, "link")), { code: "BAD_USER_INPUT", reason: "SYMLINK" });
  });

  it("refuses a missing path with SOURCE_NOT_FOUND", async (t) => {
    const dir = await scratch(t);
    await assert.rejects(hashPath(path.join(dir, "nope")), { code: "NOT_FOUND", reason: "SOURCE_NOT_FOUND" });
  });
});

describe("hashFolder", () => {
  it("gives equal trees equal hashes wherever they live and whatever order their files were written in", async (t) => {
    const dir = await scratch(t);
    const a = await writeTree(path.join(dir, "a"), {
      "config.json": "{}",
      "weights/part-1.bin": "one",
      "weights/part-2.bin": "two",
      "bin/run": { content: "#!/bin/sh\n", mode: 0o755 },
      logs: null,
    });
    const b = await writeTree(path.join(dir, "elsewhere", "deeper", "b"), {
      logs: null,
      "bin/run": { content: "#!/bin/sh\n", mode: 0o700 }, // other bits than the owner's execute do not count
      "weights/part-2.bin": { content: "two", mode: 0o600 },
      "weights/part-1.bin": "one",
      "config.json": "{}",
    });
    const ha = await hashFolder(a);
    assert.deepEqual(await hashFolder(b), ha);
    assert.deepEqual(ha, { hash: ha.hash, size: 2 + 3 + 3 + 10, isDirectory: true, fileCount: 4 });
    assert.deepEqual(await hashPath(a), ha);
  });

  it("follows the documented manifest format", async (t) => {
    const dir = await scratch(t);
    const root = await writeTree(path.join(dir, "t"), {
      "b.txt": "B",
      "a/x": { content: "X", mode: 0o755 },
      "a-b": "dash sorts before slash",
      empty: null,
    });
    const manifest =
      `${TREE_FORMAT}\0` +
      `d a\0` +
      `f ${sha256("dash sorts before slash")} a-b\0` +
      `x ${sha256("X")} a/x\0` +
      `f ${sha256("B")} b.txt\0` +
      `d empty\0`;
    assert.equal((await hashFolder(root)).hash, `sha256:${sha256(manifest)}`);
  });

  it("changes when a file inside is renamed or moved to another folder", async (t) => {
    const dir = await scratch(t);
    const original = await hashFolder(await writeTree(path.join(dir, "1"), { "data/train.csv": "a,b\n1,2\n" }));
    const renamed = await hashFolder(await writeTree(path.join(dir, "2"), { "data/train2.csv": "a,b\n1,2\n" }));
    const moved = await hashFolder(await writeTree(path.join(dir, "3"), { "other/train.csv": "a,b\n1,2\n" }));
    assert.notEqual(renamed.hash, original.hash);
    assert.notEqual(moved.hash, original.hash);
    assert.notEqual(moved.hash, renamed.hash);
  });

  it("changes when one byte of one file changes", async (t) => {
    const dir = await scratch(t);
    const before = await hashFolder(await writeTree(path.join(dir, "1"), { "a.txt": "hello", "b.txt": "world" }));
    const after = await hashFolder(await writeTree(path.join(dir, "2"), { "a.txt": "hello", "b.txt": "World" }));
    assert.notEqual(after.hash, before.hash);
  });

  it("changes when a file's execute bit flips", async (t) => {
    const dir = await scratch(t);
    const plain = await hashFolder(await writeTree(path.join(dir, "1"), { run: { content: "x", mode: 0o644 } }));
    const exec = await hashFolder(await writeTree(path.join(dir, "2"), { run: { content: "x", mode: 0o744 } }));
    assert.notEqual(exec.hash, plain.hash);
  });

  it("counts empty folders, so adding one changes the hash", async (t) => {
    const dir = await scratch(t);
    const without = await hashFolder(await writeTree(path.join(dir, "1"), { "a.txt": "a" }));
    const withEmpty = await hashFolder(await writeTree(path.join(dir, "2"), { "a.txt": "a", checkpoints: null }));
    assert.notEqual(withEmpty.hash, without.hash);
    assert.equal(withEmpty.fileCount, 1);
    const empty = await hashFolder(await writeTree(path.join(dir, "3"), {}));
    assert.deepEqual(empty, { hash: `sha256:${sha256(`${TREE_FORMAT}\0`)}`, size: 0, isDirectory: true, fileCount: 0 });
  });

  it("refuses a symbolic link inside, naming it", async (t) => {
    const dir = await scratch(t);
    const root = await writeTree(path.join(dir, "t"), { "a.txt": "a", "sub/b.txt": "b" });
    await fs.symlink("/etc/passwd", path.join(root, "sub", "passwd"));
    await assert.rejects(hashFolder(root), (err: { code: string; reason: string; details: { path: string } }) => {
      assert.equal(err.code, "BAD_USER_INPUT");
      assert.equal(err.reason, "SYMLINK");
      assert.match(err.details.path, /^sub\/passwd /);
      return true;
    });
  });

  it("refuses a link to a folder inside, too", async (t) => {
    const dir = await scratch(t);
    const root = await writeTree(path.join(dir, "t"), { "a.txt": "a" });
    await fs.symlink(dir, path.join(root, "up"));
    await assert.rejects(hashFolder(root), { reason: "SYMLINK" });
  });
});
