import { randomUUID } from "node:crypto";
import { constants, type Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { hashPath, type ArtifactHash } from "./hash";
import type { ArtifactStore, PutOptions, StoredObject } from "./store";
import { ArtifactStoreError } from "./store.errors";
import { errno, forEachLimit, listTree, lstatArtifact, removeTree } from "./tree";

export interface LocalArtifactStoreOptions {
  /** The folder that holds the objects; created on the first `put`. @default `<dataDir>/artifacts` */
  root?: string;
  /**
   * The server's data directory (`SluiceConfig.dataDir`), used only to default `root`.
   * `memory://` keeps no files, so it needs an explicit `root`. @default ".sluice" (from the working directory)
   */
  dataDir?: string;
}

/** What {@link LocalArtifactStore.verify} found. */
export interface VerifyResult {
  /** True when the object's content still hashes to the hash in its address. */
  ok: boolean;
  uri: string;
  /** The hash in the uri. */
  expected: string;
  /** The hash of what is stored now; absent when it could not be hashed (see `problem`). */
  actual?: string;
  /** Why `ok` is false, for a person. */
  problem?: string;
}

/** The local, content-addressed {@link ArtifactStore}. */
export interface LocalArtifactStore extends ArtifactStore {
  /** The absolute folder holding `sha256/<2 hex>/<64 hex>` objects and a `tmp/` staging folder. */
  readonly root: string;
  /**
   * Hashes the file or folder at `localPath` and stores it under its hash, unless the store
   * already holds that hash: then the existing object is returned untouched (no write at all).
   * A new object is staged under a temporary name inside the root, made read-only (files 0o444,
   * or 0o555 inside a folder when the owner-execute bit was set; folders 0o555), flushed to disk,
   * and only then given its final name, atomically; so a crash never leaves a partial object
   * under its final name, and concurrent puts of the same content all succeed with one object.
   * A single-file object is never executable: its hash covers only its bytes.
   * @throws ArtifactStoreError `SOURCE_NOT_FOUND`, `SYMLINK` (anywhere in the tree),
   * `UNSUPPORTED_FILE_TYPE`, `OVERLAPS_STORE`, `CHANGED_WHILE_STORING` (the source was written
   * to while being copied; nothing is stored), `KIND_CLASH`
   */
  put(localPath: string, options?: PutOptions): Promise<StoredObject>;
  /**
   * The object's absolute path, to read in place (never to write: it is read-only).
   * @throws ArtifactStoreError `NOT_IN_STORE` for anything but an object address of this root
   * (another scheme or folder, `..`, a query), `OBJECT_NOT_FOUND` when it is not stored
   */
  localPath(uri: string): Promise<string>;
  /**
   * A stream of a single-file object's bytes.
   * @throws ArtifactStoreError as `localPath`, and `NOT_A_FILE` for a folder object
   */
  openRead(uri: string): Promise<NodeJS.ReadableStream>;
  /**
   * Whether the object is stored.
   * @throws ArtifactStoreError `NOT_IN_STORE` for a uri that is not an object address of this
   * store (a mistake worth hearing about, not an absent object)
   */
  exists(uri: string): Promise<boolean>;
  /**
   * Re-hashes the object and compares it with the hash in its address, to detect corruption
   * (disk errors, or someone who made it writable and edited it). Reads the whole object.
   * @throws ArtifactStoreError as `localPath`
   */
  verify(uri: string): Promise<VerifyResult>;
}

const HEX_ADDRESS = /^([0-9a-f]{2})\/([0-9a-f]{64})$/;

/**
 * Creates the local artifact store. Objects live at `<root>/sha256/<first 2 hex>/<64 hex>`
 * (a file, or a folder for folder artifacts) with uri `file://<that absolute path>`.
 * Several processes may share one root.
 * @throws Error when neither `root` nor a real `dataDir` is given (`dataDir` is `memory://`)
 */
export function createLocalArtifactStore(options: LocalArtifactStoreOptions = {}): LocalArtifactStore {
  if (options.root === undefined && options.dataDir === "memory://") {
    throw new Error("The data directory memory:// keeps no files: give the artifact store a root folder");
  }
  const root = path.resolve(options.root ?? path.join(options.dataDir ?? ".sluice", "artifacts"));
  const objects = path.join(root, "sha256");
  const staging = path.join(root, "tmp");

  const objectPath = (hash: string): string => {
    const hex = hash.slice("sha256:".length);
    return path.join(objects, hex.slice(0, 2), hex);
  };
  const uriOf = (hash: string): string => pathToFileURL(objectPath(hash)).href;
  const stored = (h: ArtifactHash): StoredObject => ({ hash: h.hash, size: h.size, uri: uriOf(h.hash), isDirectory: h.isDirectory });
  const stagingName = (): string => path.join(staging, randomUUID());

  /** The object's path and hash, when `uri` is an object address of this root. */
  function parse(uri: string): { file: string; hash: string } {
    const refuse = (why: string): never => {
      throw new ArtifactStoreError("NOT_IN_STORE", `${JSON.stringify(uri)} is not an object of the artifact store: ${why}`, {
        uri,
      });
    };
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return refuse("not a uri");
    }
    if (url.protocol !== "file:") refuse(`only file:// uris are local, not ${url.protocol}//`);
    if (url.search !== "" || url.hash !== "") refuse("a query or fragment is not part of an object address");
    let file: string;
    try {
      file = fileURLToPath(url); // `..` segments are already resolved by URL parsing
    } catch (err) {
      return refuse(err instanceof Error ? err.message : String(err));
    }
    const m = HEX_ADDRESS.exec(path.relative(objects, file).split(path.sep).join("/"));
    if (!m || m[2]!.slice(0, 2) !== m[1]) return refuse("object addresses end in /objects/<2 hex>/<64 hex> under the store's folder");
    const hash = `sha256:${m[2]}`;
    return { file: objectPath(hash), hash };
  }

  /** The stored object for `h`, if the store holds it; refuses a clash of file and folder. */
  async function existing(h: ArtifactHash): Promise<StoredObject | undefined> {
    let st: Stats;
    try {
      st = await fs.lstat(objectPath(h.hash));
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw err;
    }
    if (st.isDirectory() !== h.isDirectory || st.isSymbolicLink()) {
      throw new ArtifactStoreError(
        "KIND_CLASH",
        `The store holds a ${st.isDirectory() ? "folder" : "file"} under ${h.hash}, but this content is a ${h.isDirectory ? "folder" : "file"}`,
        { hash: h.hash },
      );
    }
    return stored(h);
  }

  /** Copies the source into a fresh staging name, then stores that copy. */
  async function copyIn(source: string, st: Stats): Promise<StoredObject> {
    const expected = await hashPath(source);
    const found = await existing(expected);
    if (found) return found;
    const staged = stagingName();
    try {
      await copyTree(source, staged, st.isDirectory());
      const actual = await hashPath(staged);
      if (actual.hash !== expected.hash) {
        throw new ArtifactStoreError(
          "CHANGED_WHILE_STORING",
          `${source} changed while it was being stored (hashed as ${expected.hash}, copied as ${actual.hash}); nothing was stored. Store it again once nothing writes to it`,
          { path: source },
        );
      }
      return await place(staged, actual);
    } finally {
      await removeTree(staged);
    }
  }

  /** Seals a staged copy (read-only, flushed) and gives it its final name; `staged` is gone afterwards. */
  async function place(staged: string, h: ArtifactHash): Promise<StoredObject> {
    const found = await existing(h);
    if (found) return found;
    const final = objectPath(h.hash);
    const shard = path.dirname(final);
    await fs.mkdir(shard, { recursive: true });
    if (!h.isDirectory) {
      await fs.chmod(staged, 0o444);
      await syncPath(staged);
      try {
        // link() never replaces an existing name, unlike rename(): a lost race leaves the
        // winner's object (equal content) untouched.
        await fs.link(staged, final);
      } catch (err) {
        if (errno(err) === "EEXIST") return (await existing(h)) ?? stored(h);
        if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS"].includes(errno(err) ?? "")) throw err;
        await fs.rename(staged, final); // a filesystem without hard links: replace, same content
      }
      await fs.rm(staged, { force: true });
      await syncPath(shard);
      return stored(h);
    }
    await sealFolder(staged);
    // Moving a folder to another parent needs write permission on the folder itself (to
    // update its `..`), so it moves into the shard still writable, is sealed there, and then
    // gets its final name within the same parent.
    const beside = path.join(shard, `.tmp-${randomUUID()}`);
    await fs.rename(staged, beside);
    try {
      await fs.chmod(beside, 0o555);
      await syncPath(beside);
      try {
        await fs.rename(beside, final);
      } catch (err) {
        if (errno(err) === "ENOTEMPTY" || errno(err) === "EEXIST") return (await existing(h)) ?? stored(h);
        if (errno(err) === "ENOTDIR") await existing(h); // throws KIND_CLASH
        throw err;
      }
      await syncPath(shard);
      return stored(h);
    } catch (err) {
      // Back to the staging name, so a moved source can still be handed back to its owner.
      await fs
        .chmod(beside, 0o755)
        .then(() => fs.rename(beside, staged))
        .catch(() => undefined);
      throw err;
    } finally {
      await removeTree(beside);
    }
  }

  /** Renames the source into staging and stores it; puts it back when it cannot be stored. */
  async function moveIn(source: string, st: Stats): Promise<StoredObject | undefined> {
    if (st.isFile() && st.nlink > 1) return undefined; // other names would see it go read-only
    if (st.isDirectory()) await listTree(source); // refuse links before moving anything
    const staged = stagingName();
    try {
      await fs.rename(source, staged);
    } catch (err) {
      if (errno(err) === "EXDEV") return undefined;
      throw err;
    }
    let h: ArtifactHash;
    try {
      h = await hashPath(staged);
    } catch (err) {
      await fs.rename(staged, source).catch((restoreError: unknown) => {
        throw new Error(`Could not store ${source} (${String(err)}), nor move it back: it is at ${staged}`, { cause: restoreError });
      });
      throw err;
    }
    let result: StoredObject;
    try {
      result = await place(staged, h);
    } catch (err) {
      // Not stored: hand the source back rather than lose it (it may have been made read-only).
      await fs.rename(staged, source).catch(() => undefined);
      throw err;
    }
    await removeTree(staged); // left behind when the store already held the content
    return result;
  }

  async function localPath(uri: string): Promise<string> {
    const { file, hash } = parse(uri);
    let st: Stats;
    try {
      st = await fs.lstat(file);
    } catch (err) {
      if (errno(err) === "ENOENT") {
        throw new ArtifactStoreError("OBJECT_NOT_FOUND", `The artifact store holds no object ${hash}`, { uri });
      }
      throw err;
    }
    if (st.isSymbolicLink()) {
      throw new ArtifactStoreError("NOT_IN_STORE", `${uri} is a symbolic link, which this store never writes; refusing to follow it`, {
        uri,
      });
    }
    return file;
  }

  return {
    root,

    async put(localPath, putOptions = {}) {
      const source = path.resolve(localPath);
      const st = await lstatArtifact(source);
      const rel = path.relative(root, source);
      if (rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel)) || !path.relative(source, root).startsWith("..")) {
        throw new ArtifactStoreError(
          "OVERLAPS_STORE",
          "The files to store overlap the artifact store's own folder; store files from outside it",
          {
            path: source,
          },
        );
      }
      await fs.mkdir(staging, { recursive: true });
      await fs.mkdir(objects, { recursive: true });
      if (putOptions.move) {
        const moved = await moveIn(source, st);
        if (moved) return moved;
      }
      const result = await copyIn(source, st);
      if (putOptions.move) await removeTree(source);
      return result;
    },

    localPath,

    async openRead(uri) {
      const file = await localPath(uri);
      const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        if ((await handle.stat()).isDirectory()) {
          throw new ArtifactStoreError("NOT_A_FILE", `${uri} is a folder; read its files through localPath()`, { uri });
        }
      } catch (err) {
        await handle.close();
        throw err;
      }
      return handle.createReadStream();
    },

    async exists(uri) {
      const { file } = parse(uri);
      try {
        await fs.lstat(file);
        return true;
      } catch (err) {
        if (errno(err) === "ENOENT") return false;
        throw err;
      }
    },

    async verify(uri) {
      const { hash: expected } = parse(uri);
      const file = await localPath(uri);
      try {
        const actual = await hashPath(file);
        if (actual.hash === expected) return { ok: true, uri, expected, actual: actual.hash };
        return {
          ok: false,
          uri,
          expected,
          actual: actual.hash,
          problem: `The content hashes to ${actual.hash}, not ${expected}: it is corrupt`,
        };
      } catch (err) {
        if (!(err instanceof ArtifactStoreError)) throw err;
        return { ok: false, uri, expected, problem: `The object cannot be hashed: ${err.message}` };
      }
    },
  };
}

/** Copies a file, or a folder's files and folders (refusing links), to a new path `to`. */
async function copyTree(from: string, to: string, isDirectory: boolean): Promise<void> {
  if (!isDirectory) {
    await fs.copyFile(from, to, constants.COPYFILE_EXCL);
    return;
  }
  const entries = await listTree(from);
  await fs.mkdir(to, { mode: 0o755 });
  for (const entry of entries) {
    if (entry.kind === "directory") await fs.mkdir(path.join(to, ...entry.path.split("/")), { mode: 0o755 });
  }
  // copyFile keeps the source's permission bits, so the execute bit survives into the copy.
  await forEachLimit(
    entries.filter((e) => e.kind === "file"),
    8,
    async (e) => fs.copyFile(path.join(from, ...e.path.split("/")), path.join(to, ...e.path.split("/")), constants.COPYFILE_EXCL),
  );
}

/**
 * Makes everything under a staged folder read-only and flushes it to disk: files 0o444, or
 * 0o555 when the owner-execute bit is set; subfolders 0o555. The top folder itself stays
 * writable until it has been moved next to its final name.
 */
async function sealFolder(folder: string): Promise<void> {
  const entries = await listTree(folder);
  await forEachLimit(entries, 8, async (e) => {
    const full = path.join(folder, ...e.path.split("/"));
    if (e.kind === "file") {
      await fs.chmod(full, e.mode & 0o100 ? 0o555 : 0o444);
      await syncPath(full);
    }
  });
  // Folders last and deepest first, so each is flushed after its entries were written.
  for (const e of [...entries].reverse()) {
    if (e.kind !== "directory") continue;
    const full = path.join(folder, ...e.path.split("/"));
    await fs.chmod(full, 0o555);
    await syncPath(full);
  }
}

/** fsync of a file or folder, so a renamed object survives a power cut with its content. */
async function syncPath(target: string): Promise<void> {
  const handle = await fs.open(target, constants.O_RDONLY);
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems cannot fsync a folder; the rename is still atomic.
    if (!["EINVAL", "EISDIR", "EPERM", "ENOTSUP", "EBADF"].includes(errno(err) ?? "")) throw err;
  } finally {
    await handle.close();
  }
}
