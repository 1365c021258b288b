import type { Stats } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ArtifactStoreError } from "./store.errors";

/**
 * One entry of a folder artifact: a regular file or a folder, never a link. `path` is relative
 * to the artifact's top folder, with `/` separators on every platform.
 * @internal shared by the hash and the local store
 */
export interface TreeEntry {
  path: string;
  kind: "file" | "directory";
  /** Permission bits from `lstat` (`mode & 0o7777`). */
  mode: number;
  /** Bytes; 0 for folders. */
  size: number;
}

/** Parallel `lstat`s and file operations per folder; enough to keep a disk busy. */
const WALK_CONCURRENCY = 16;

/**
 * The `lstat` of a path about to be stored or hashed, refusing links and special files.
 * @throws ArtifactStoreError `SOURCE_NOT_FOUND`, `SYMLINK` or `UNSUPPORTED_FILE_TYPE`
 * @internal
 */
export async function lstatArtifact(localPath: string, shownAs: string = localPath): Promise<Stats> {
  let st: Stats;
  try {
    st = await fs.lstat(localPath);
  } catch (err) {
    if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") {
      throw new ArtifactStoreError("SOURCE_NOT_FOUND", `Nothing to store at ${shownAs}: no such file or folder`, { path: shownAs });
    }
    throw err;
  }
  refuseSpecial(st, shownAs);
  return st;
}

function refuseSpecial(st: Stats, shownAs: string): void {
  if (st.isSymbolicLink()) {
    throw new ArtifactStoreError(
      "SYMLINK",
      `${shownAs} is a symbolic link; artifacts may not contain links (they could point outside the artifact). Copy the target in place of the link`,
      { path: shownAs },
    );
  }
  if (!st.isFile() && !st.isDirectory()) {
    throw new ArtifactStoreError("UNSUPPORTED_FILE_TYPE", `${shownAs} is neither a regular file nor a folder (a socket, FIFO or device?)`, {
      path: shownAs,
    });
  }
}

/**
 * Every file and folder under `root` (not `root` itself), sorted by the UTF-8 bytes of their
 * relative paths, so parents come before their children and the order is the same everywhere.
 * Refuses symbolic links and special files anywhere in the tree, naming the offending path.
 * @throws ArtifactStoreError `SYMLINK` or `UNSUPPORTED_FILE_TYPE`
 * @internal
 */
export async function listTree(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const folders: string[] = [""];
  while (folders.length > 0) {
    const rel = folders.pop()!;
    const names = await fs.readdir(rel === "" ? root : path.join(root, ...rel.split("/")));
    await forEachLimit(names, WALK_CONCURRENCY, async (name) => {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, ...childRel.split("/")));
      refuseSpecial(st, `${childRel} (in ${root})`);
      if (st.isDirectory()) {
        entries.push({ path: childRel, kind: "directory", mode: st.mode & 0o7777, size: 0 });
        folders.push(childRel);
      } else {
        entries.push({ path: childRel, kind: "file", mode: st.mode & 0o7777, size: st.size });
      }
    });
  }
  return entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure
 * after the calls already started have settled.
 * @internal
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/**
 * Deletes a file or folder even when it was made read-only (folders at 0o555 cannot lose their
 * entries): gives every folder back its owner write bit first, without following links.
 * A missing path is fine.
 * @internal
 */
export async function removeTree(target: string): Promise<void> {
  let st: Stats;
  try {
    st = await fs.lstat(target);
  } catch (err) {
    if (errno(err) === "ENOENT") return;
    throw err;
  }
  if (st.isDirectory()) await makeFoldersWritable(target);
  await fs.rm(target, { recursive: true, force: true });
}

async function makeFoldersWritable(folder: string): Promise<void> {
  await fs.chmod(folder, 0o755);
  const children = await fs.readdir(folder, { withFileTypes: true });
  await forEachLimit(children, WALK_CONCURRENCY, async (child) => {
    if (child.isDirectory()) await makeFoldersWritable(path.join(folder, child.name));
  });
}

/** The `code` of a Node system error (`ENOENT`, `EXDEV` …), or undefined. @internal */
export function errno(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" ? err.code : undefined;
}
