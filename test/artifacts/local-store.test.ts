import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import { pathToFileURL } from "node:url";
import { hashFolder } from "../../src/artifacts/hash";
import { createLocalArtifactStore, type LocalArtifactStore } from "../../src/artifacts/local-store";
import { ignoresPermissions, scratch, writeTree } from "./tree-fixtures";

const sha256 = (bytes: string | Buffer): string => createHash("sha256").update(bytes).digest("hex");

async function setUp(t: TestContext): Promise<{ dir: string; store: LocalArtifactStore }> {
  const dir = await scratch(t);
  return { dir, store: createLocalArtifactStore({ root: path.join(dir, "store") }) };
}

/** Every object (and leftover) in the store: `sha256/<shard>/<name>` and `tmp/<name>` paths. */
async function contents(store: LocalArtifactStore): Promise<string[]> {
  const out: string[] = [];
  for (const top of ["sha256", "tmp"]) {
    const names = await fs.readdir(path.join(store.root, top)).catch(() => [] as string[]);
    for (const name of names) {
      if (top === "tmp") out.push(`tmp/${name}`);
      else for (const obj of await fs.readdir(path.join(store.root, top, name))) out.push(`sha256/${name}/${obj}`);
    }
  }
  return out.sort();
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("createLocalArtifactStore", () => {
  it("keeps its objects under <dataDir>/artifacts unless given a root", async (t) => {
    const dir = await scratch(t);
    assert.equal(createLocalArtifactStore({ dataDir: dir }).root, path.join(dir, "artifacts"));
    assert.equal(createLocalArtifactStore({ dataDir: dir, root: path.join(dir, "elsewhere") }).root, path.join(dir, "elsewhere"));
    assert.throws(() => createLocalArtifactStore({ dataDir: "memory://" }), /root/);
  });
});

describe("put", () => {
  it("stores a file at sha256/<first 2 hex>/<hex> with a file:// uri and leaves the source in place", async (t) => {
    const { dir, store } = await setUp(t);
    const bytes = randomBytes(100_000);
    await fs.writeFile(path.join(dir, "model.bin"), bytes);
    const obj = await store.put(path.join(dir, "model.bin"));
    const hex = sha256(bytes);
    const expectedPath = path.join(store.root, "sha256", hex.slice(0, 2), hex);
    assert.deepEqual(obj, { hash: `sha256:${hex}`, size: bytes.length, uri: pathToFileURL(expectedPath).href, isDirectory: false });
    assert.ok(obj.uri.startsWith(`file://${store.root}/`));
    assert.equal(await store.localPath(obj.uri), expectedPath);
    assert.deepEqual(await fs.readFile(expectedPath), bytes);
    assert.deepEqual(await fs.readFile(path.join(dir, "model.bin")), bytes, "the source is untouched");
    assert.deepEqual(await contents(store), [`sha256/${hex.slice(0, 2)}/${hex}`], "no staging leftovers");
  });

  it("stores the same content twice as one object with the same uri, writing nothing the second time", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "a.txt"), "same bytes");
    await fs.writeFile(path.join(dir, "b.txt"), "same bytes");
    const first = await store.put(path.join(dir, "a.txt"));
    const file = await store.localPath(first.uri);
    const before = await fs.stat(file);
    await new Promise((r) => setTimeout(r, 20)); // a rewrite would show a later mtime or ctime
    const second = await store.put(path.join(dir, "b.txt"));
    const again = await store.put(path.join(dir, "a.txt"));
    assert.deepEqual(second, first);
    assert.deepEqual(again, first);
    const after = await fs.stat(file);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.ctimeMs, before.ctimeMs, "not even its mode was touched");
    assert.equal((await contents(store)).length, 1);
  });

  it("stores different content as different objects", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "a.txt"), "one");
    await fs.writeFile(path.join(dir, "b.txt"), "two");
    const a = await store.put(path.join(dir, "a.txt"));
    const b = await store.put(path.join(dir, "b.txt"));
    assert.notEqual(a.hash, b.hash);
    assert.notEqual(a.uri, b.uri);
    assert.equal((await contents(store)).length, 2);
  });

  it("stores a folder as a folder object with its tree, execute bits and empty folders", async (t) => {
    const { dir, store } = await setUp(t);
    const src = await writeTree(path.join(dir, "model"), {
      "config.json": '{"layers":2}',
      "weights/0.bin": randomBytes(5000),
      "bin/serve": { content: "#!/bin/sh\necho hi\n", mode: 0o755 },
      checkpoints: null,
    });
    const expected = await hashFolder(src);
    const obj = await store.put(src);
    assert.deepEqual(obj, { hash: expected.hash, size: expected.size, uri: obj.uri, isDirectory: true });
    const stored = await store.localPath(obj.uri);
    assert.equal(path.basename(stored), expected.hash.slice("sha256:".length));
    assert.deepEqual(await hashFolder(stored), expected, "the stored copy hashes as the source");
    assert.equal(await fs.readFile(path.join(stored, "config.json"), "utf8"), '{"layers":2}');
    assert.deepEqual(await fs.readdir(path.join(stored, "checkpoints")), []);
    assert.deepEqual((await store.put(src)).uri, obj.uri, "a second put finds it");
  });

  it("makes stored objects read-only: files 0o444 (0o555 when executable), folders 0o555", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    const file = await store.localPath((await store.put(path.join(dir, "tool"))).uri);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o444, "a single file is never executable: its hash covers only bytes");

    const src = await writeTree(path.join(dir, "tree"), { "a.txt": "a", "sub/run": { content: "x", mode: 0o755 }, empty: null });
    const folder = await store.localPath((await store.put(src)).uri);
    const mode = async (rel: string): Promise<number> => (await fs.stat(path.join(folder, rel))).mode & 0o777;
    assert.equal(await mode("."), 0o555);
    assert.equal(await mode("sub"), 0o555);
    assert.equal(await mode("empty"), 0o555);
    assert.equal(await mode("a.txt"), 0o444);
    assert.equal(await mode("sub/run"), 0o555);
    if (!ignoresPermissions) {
      await assert.rejects(fs.writeFile(file, "edited"), { code: "EACCES" });
      await assert.rejects(fs.writeFile(path.join(folder, "new.txt"), "added"), { code: "EACCES" });
    }
  });

  it("gives ten concurrent puts of the same file one object and no leftovers", async (t) => {
    const { dir, store } = await setUp(t);
    const bytes = randomBytes(2 * 1024 * 1024);
    await fs.writeFile(path.join(dir, "data.bin"), bytes);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.put(path.join(dir, "data.bin"))));
    assert.equal(new Set(results.map((r) => r.uri)).size, 1);
    const hex = sha256(bytes);
    assert.deepEqual(await contents(store), [`sha256/${hex.slice(0, 2)}/${hex}`]);
    assert.deepEqual(await fs.readFile(await store.localPath(results[0]!.uri)), bytes);
  });

  it("gives ten concurrent puts of equal folders from different places one object and no leftovers", async (t) => {
    const { dir, store } = await setUp(t);
    const spec = { "a.txt": "a", "nested/b.txt": "b", "nested/empty": null };
    const sources = await Promise.all(Array.from({ length: 10 }, (_, i) => writeTree(path.join(dir, `copy-${i}`), spec)));
    const results = await Promise.all(sources.map((s) => store.put(s)));
    assert.equal(new Set(results.map((r) => r.uri)).size, 1);
    assert.equal((await contents(store)).length, 1, (await contents(store)).join(", "));
    const stored = await store.localPath(results[0]!.uri);
    assert.deepEqual(await hashFolder(stored), await hashFolder(sources[0]!));
  });

  it("moves the source in when asked, leaving nothing at the source path", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "out.bin"), "moved bytes");
    const obj = await store.put(path.join(dir, "out.bin"), { move: true });
    await assert.rejects(fs.access(path.join(dir, "out.bin")), { code: "ENOENT" });
    assert.equal(await fs.readFile(await store.localPath(obj.uri), "utf8"), "moved bytes");

    const src = await writeTree(path.join(dir, "outputs"), { "m.bin": "m", logs: null });
    const expected = await hashFolder(src);
    const folder = await store.put(src, { move: true });
    assert.equal(folder.hash, expected.hash);
    await assert.rejects(fs.access(src), { code: "ENOENT" });
    assert.deepEqual(await hashFolder(await store.localPath(folder.uri)), expected);
    assert.equal((await contents(store)).length, 2, "no staging leftovers");
  });

  it("removes a moved source whose content the store already holds, keeping the stored object as it was", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "first"), "dup");
    const obj = await store.put(path.join(dir, "first"));
    const before = await fs.stat(await store.localPath(obj.uri));
    await fs.writeFile(path.join(dir, "second"), "dup");
    assert.deepEqual(await store.put(path.join(dir, "second"), { move: true }), obj);
    await assert.rejects(fs.access(path.join(dir, "second")), { code: "ENOENT" });
    const after = await fs.stat(await store.localPath(obj.uri));
    assert.equal(after.ino, before.ino);
    assert.equal(after.ctimeMs, before.ctimeMs);
    assert.deepEqual(await contents(store), [`sha256/${obj.hash.slice(7, 9)}/${obj.hash.slice(7)}`]);
  });

  it("copies rather than renames a single file that has other hard links", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "shared"), "linked");
    await fs.link(path.join(dir, "shared"), path.join(dir, "other-name"));
    const obj = await store.put(path.join(dir, "shared"), { move: true });
    await assert.rejects(fs.access(path.join(dir, "shared")), { code: "ENOENT" });
    const other = await fs.stat(path.join(dir, "other-name"));
    assert.notEqual(other.ino, (await fs.stat(await store.localPath(obj.uri))).ino);
    assert.equal(other.mode & 0o777, 0o644, "the other name stays writable");
  });

  it("refuses a folder with a symbolic link inside, storing nothing and leaving a moved source in place", async (t) => {
    const { dir, store } = await setUp(t);
    const src = await writeTree(path.join(dir, "tree"), { "a.txt": "a" });
    await fs.symlink("/etc/passwd", path.join(src, "passwd"));
    await assert.rejects(store.put(src), { code: "BAD_USER_INPUT", reason: "SYMLINK" });
    await assert.rejects(store.put(src, { move: true }), { code: "BAD_USER_INPUT", reason: "SYMLINK" });
    assert.deepEqual(await fs.readdir(src), ["a.txt", "passwd"]);
    assert.deepEqual(await contents(store), []);
  });

  it("refuses a source that is a symbolic link itself, or missing", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "real"), "r");
    await fs.symlink(path.join(dir, "real"), path.join(dir, "link"));
    await assert.rejects(store.put(path.join(dir, "link")), { reason: "SYMLINK" });
    await assert.rejects(store.put(path.join(dir, "missing")), { code: "NOT_FOUND", reason: "SOURCE_NOT_FOUND" });
  });

  it("refuses a source inside the store, or containing it", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "f"), "f");
    const obj = await store.put(path.join(dir, "f"));
    await assert.rejects(store.put(await store.localPath(obj.uri)), { reason: "OVERLAPS_STORE" });
    await assert.rejects(store.put(store.root), { reason: "OVERLAPS_STORE" });
    await assert.rejects(store.put(dir), { reason: "OVERLAPS_STORE" });
  });
});

describe("localPath, exists and openRead", () => {
  it("refuse uris that are not objects of this store's root", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "f"), "f");
    const obj = await store.put(path.join(dir, "f"));
    const hex = obj.hash.slice("sha256:".length);
    const rootUri = pathToFileURL(store.root).href;
    const outside = [
      "file:///etc/passwd",
      `${rootUri}/sha256/../../../../../etc/passwd`,
      `${rootUri}/sha256/${hex.slice(0, 2)}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`,
      `${obj.uri}/../../../tmp/${hex}`,
      `${rootUri}/tmp/${hex}`,
      `${rootUri}/sha256/00/${hex}`, // wrong shard
      `${rootUri}/sha256/${hex.slice(0, 2)}/${hex.toUpperCase()}`,
      `${obj.uri}/inner.txt`,
      `${obj.uri}?x=1`,
      `file://otherhost${new URL(obj.uri).pathname}`,
      `s3://bucket/sha256/${hex.slice(0, 2)}/${hex}`,
      `${path.join(store.root, "sha256", hex.slice(0, 2), hex)}`, // a path, not a uri
      "not a uri",
    ];
    for (const uri of outside) {
      await assert.rejects(store.localPath(uri), { code: "BAD_USER_INPUT", reason: "NOT_IN_STORE" }, uri);
      await assert.rejects(store.exists(uri), { reason: "NOT_IN_STORE" }, uri);
      await assert.rejects(store.openRead(uri), { reason: "NOT_IN_STORE" }, uri);
    }
    const other = createLocalArtifactStore({ root: path.join(dir, "other-store") });
    await assert.rejects(other.localPath(obj.uri), { reason: "NOT_IN_STORE" }, "another root's object");
  });

  it("refuse a well-formed uri of a missing object with NOT_FOUND, while exists says false", async (t) => {
    const { store } = await setUp(t);
    const hex = sha256("never stored");
    const uri = pathToFileURL(path.join(store.root, "sha256", hex.slice(0, 2), hex)).href;
    assert.equal(await store.exists(uri), false);
    await assert.rejects(store.localPath(uri), { code: "NOT_FOUND", reason: "OBJECT_NOT_FOUND" });
    await assert.rejects(store.openRead(uri), { code: "NOT_FOUND", reason: "OBJECT_NOT_FOUND" });
  });

  it("read a stored file's bytes and refuse to stream a folder", async (t) => {
    const { dir, store } = await setUp(t);
    const bytes = randomBytes(300_000);
    await fs.writeFile(path.join(dir, "f.bin"), bytes);
    const file = await store.put(path.join(dir, "f.bin"));
    assert.equal(await store.exists(file.uri), true);
    assert.deepEqual(await readAll(await store.openRead(file.uri)), bytes);

    const folder = await store.put(await writeTree(path.join(dir, "d"), { "x.txt": "x" }));
    assert.equal(await store.exists(folder.uri), true);
    await assert.rejects(store.openRead(folder.uri), { code: "BAD_USER_INPUT", reason: "NOT_A_FILE" });
  });
});

describe("verify", () => {
  it("passes an intact object and detects a changed byte in a file object", async (t) => {
    const { dir, store } = await setUp(t);
    await fs.writeFile(path.join(dir, "f"), "pristine content");
    const obj = await store.put(path.join(dir, "f"));
    assert.deepEqual(await store.verify(obj.uri), { ok: true, uri: obj.uri, expected: obj.hash, actual: obj.hash });

    const file = await store.localPath(obj.uri);
    await fs.chmod(file, 0o644);
    const handle = await fs.open(file, "r+");
    await handle.write(Buffer.from("P"), 0, 1, 0);
    await handle.close();
    const result = await store.verify(obj.uri);
    assert.equal(result.ok, false);
    assert.equal(result.expected, obj.hash);
    assert.equal(result.actual, `sha256:${sha256("Pristine content")}`);
    assert.ok(result.problem);
  });

  it("detects a changed file and an added file in a folder object", async (t) => {
    const { dir, store } = await setUp(t);
    const obj = await store.put(await writeTree(path.join(dir, "d"), { "a.txt": "a", "sub/b.txt": "b" }));
    const folder = await store.localPath(obj.uri);
    assert.equal((await store.verify(obj.uri)).ok, true);

    await fs.chmod(path.join(folder, "sub"), 0o755);
    await fs.chmod(path.join(folder, "sub", "b.txt"), 0o644);
    await fs.writeFile(path.join(folder, "sub", "b.txt"), "B");
    assert.equal((await store.verify(obj.uri)).ok, false);

    await fs.writeFile(path.join(folder, "sub", "b.txt"), "b");
    assert.equal((await store.verify(obj.uri)).ok, true, "restored");
    await fs.writeFile(path.join(folder, "sub", "extra"), "");
    assert.equal((await store.verify(obj.uri)).ok, false);
  });
});
