import { createHash } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ArtifactStoreError } from "./store.errors";
import { errno, forEachLimit, listTree, lstatArtifact } from "./tree";

/** The content address of a file or folder artifact. */
export interface ArtifactHash {
  /** `sha256:<64 lowercase hex>`. */
  hash: string;
  /** Bytes: the file's, or the sum of a folder's files. */
  size: number;
  isDirectory: boolean;
  /** Regular files: 1 for a file artifact, every file at any depth for a folder. */
  fileCount: number;
}

/**
 * First line of the manifest a folder hash is taken over; a change to the format changes this
 * name, so hashes of different formats never compare equal by accident.
 */
export const TREE_FORMAT = "sluice-tree-v1";

/** Bytes read per call. One buffer per file being hashed is all the memory hashing takes. */
const CHUNK_BYTES = 1024 * 1024;

/** Files hashed at once inside a folder (helps folders of many small files). */
const FILE_CONCURRENCY = 8;

/**
 * SHA-256 of a regular file, read in 1 MiB chunks into one reused buffer, so a file of any size
 * takes constant memory. The hash equals `sha256sum`'s.
 * @throws ArtifactStoreError `SOURCE_NOT_FOUND`, `SYMLINK` (the path itself is a link) or
 * `UNSUPPORTED_FILE_TYPE` (not a regular file)
 */
export async function hashFile(filePath: string): Promise<ArtifactHash> {
  const digest = await digestFile(filePath, filePath);
  return { hash: `sha256:${digest.hex}`, size: digest.size, isDirectory: false, fileCount: 1 };
}

/**
 * The hash of a folder, independent of where it lives and of the order its files were written.
 *
 * It is SHA-256 over a manifest: the line `sluice-tree-v1` and a NUL, then one record per entry
 * under the folder, sorted by the UTF-8 bytes of its relative path (`/` separators), each ended
 * by a NUL (which no path can contain):
 * - a file: `f <sha256 hex> <path>`, or `x <sha256 hex> <path>` when its owner-execute bit is
 *   set (as git records it; the other permission bits are not part of the content);
 * - a folder: `d <path>`. Every folder is listed, so empty folders count: adding or removing
 *   one changes the hash, and a stored copy reproduces the tree exactly.
 *
 * Renaming or moving a file, changing a byte, or flipping an execute bit changes the hash.
 * An empty folder is a valid artifact (size 0, no files).
 * @throws ArtifactStoreError `SYMLINK` or `UNSUPPORTED_FILE_TYPE` naming the offending entry;
 * `SOURCE_NOT_FOUND` when `folder` is missing
 */
export async function hashFolder(folder: string): Promise<ArtifactHash> {
  const top = await lstatArtifact(folder);
  if (!top.isDirectory()) {
    throw new ArtifactStoreError("UNSUPPORTED_FILE_TYPE", `${path.basename(folder)} is not a folder`, { path: path.basename(folder) });
  }
  const entries = await listTree(folder);
  const fileHex = new Map<string, string>();
  let size = 0;
  await forEachLimit(
    entries.filter((e) => e.kind === "file"),
    FILE_CONCURRENCY,
    async (entry) => {
      const digest = await digestFile(path.join(folder, ...entry.path.split("/")), `${entry.path} (in ${folder})`);
      fileHex.set(entry.path, digest.hex);
      size += digest.size;
    },
  );
  const manifest = createHash("sha256");
  manifest.update(`${TREE_FORMAT}\0`);
  for (const entry of entries) {
    if (entry.kind === "directory") manifest.update(`d ${entry.path}\0`);
    else manifest.update(`${entry.mode & 0o100 ? "x" : "f"} ${fileHex.get(entry.path)} ${entry.path}\0`);
  }
  return { hash: `sha256:${manifest.digest("hex")}`, size, isDirectory: true, fileCount: fileHex.size };
}

/**
 * {@link hashFile} or {@link hashFolder}, whichever `localPath` is. Links are refused, the
 * path itself included: resolve a link yourself if you mean its target.
 * @throws ArtifactStoreError as `hashFile` and `hashFolder` do
 */
export async function hashPath(localPath: string): Promise<ArtifactHash> {
  const st = await lstatArtifact(localPath);
  return st.isDirectory() ? hashFolder(localPath) : hashFile(localPath);
}

async function digestFile(filePath: string, shownAs: string): Promise<{ hex: string; size: number }> {
  let handle: fs.FileHandle;
  try {
    // O_NOFOLLOW: a file swapped for a link after it was listed is refused, not followed.
    handle = await fs.open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errno(err) === "ELOOP") await lstatArtifact(filePath, shownAs); // throws SYMLINK
    if (errno(err) === "ENOENT") await lstatArtifact(filePath, shownAs); // throws SOURCE_NOT_FOUND
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new ArtifactStoreError("UNSUPPORTED_FILE_TYPE", `${shownAs} is not a regular file`, { path: shownAs });
    }
    const hash = createHash("sha256");
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { hex: hash.digest("hex"), size };
  } finally {
    await handle.close();
  }
}
