import fs from "node:fs";
import path from "node:path";
import { InvalidInputError } from "../../kernel/errors";

/** Characters that make a path a glob pattern (DuckDB's and the shell's). */
const GLOB = /[*?[\]{}]/;

export function isGlob(p: string): boolean {
  return GLOB.test(p);
}

/** Whether `child` is `root` or lies inside it. */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The real path of an existing file or folder (symlinks followed), else the lexical path. */
function real(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Resolves a source path (absolute, or relative to the first root) and refuses it unless it lies
 * inside one of the allowed roots — after `..` is collapsed and symlinks are followed, so neither
 * `../../etc/passwd` nor a link to it gets through. For a glob, the folder before the first
 * wildcard is checked here and every file it matches is checked again by `checkInsideRoots`.
 */
export function resolveInsideRoots(p: string, roots: readonly string[], field = "config.paths"): string {
  if (roots.length === 0) throw new InvalidInputError([{ field, message: "no data roots are configured (SLUICE_DATA_ROOTS)" }]);
  const absolute = path.resolve(roots[0], p);
  const fixed = isGlob(absolute) ? absolute.slice(0, absolute.search(GLOB)) : absolute;
  const probe = isGlob(absolute) ? path.dirname(fixed + "x") : fixed;
  if (!roots.some((root) => isInside(real(root), real(probe)) || isInside(path.resolve(root), probe))) {
    throw new InvalidInputError([
      { field, message: `${p} is outside the allowed data roots (SLUICE_DATA_ROOTS); ask the operator which folders are allowed` },
    ]);
  }
  checkInsideRoots(isGlob(absolute) ? [] : [absolute], roots, field, p);
  return absolute;
}

/** Refuses any of `files` whose real path (symlinks followed) leaves the allowed roots. */
export function checkInsideRoots(files: readonly string[], roots: readonly string[], field = "config.paths", shown?: string): void {
  const realRoots = roots.map(real);
  for (const file of files) {
    if (!realRoots.some((root) => isInside(root, real(file)))) {
      throw new InvalidInputError([
        { field, message: `${shown ?? shownPath(file, roots)} resolves outside the allowed data roots (SLUICE_DATA_ROOTS)` },
      ]);
    }
  }
}

/**
 * `file` as a client may see it: relative to the data root holding it (the server's own folders
 * stay out of answers), or only its name when no root holds it.
 */
export function shownPath(file: string, roots: readonly string[]): string {
  for (const root of roots) {
    const rel = path.relative(path.resolve(root), file);
    if (rel && !rel.startsWith("..") && !path.isAbsolute(rel)) return rel;
  }
  return path.basename(file);
}
