import os from "node:os";
import path from "node:path";

/*
 * The last line of defence against answers that name the server's own folders: every error
 * message and detail leaving through GraphQL or a plain-HTTP route passes `hideServerPaths`, which
 * writes a registered folder (data dir, artifact store, work dir, data roots, the process's
 * working and temporary folders) as a placeholder, keeping the part below it. The messages
 * themselves should already name things in the client's terms; the logs keep full paths.
 */

const folders = new Map<string, string>();
let pattern: RegExp | undefined;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Registers `folder` (absolute) to be shown as `<label>`. A folder registered twice keeps its first label. */
export function registerServerFolder(folder: string | undefined, label: string): void {
  if (!folder || !path.isAbsolute(folder) || folder === path.parse(folder).root) return;
  const clean = path.resolve(folder);
  if (folders.has(clean)) return;
  folders.set(clean, `<${label}>`);
  // Longest first, so a store inside the data dir shows as the store.
  const sorted = [...folders.keys()].sort((a, b) => b.length - a.length);
  pattern = new RegExp(`(?:file://)?(?:${sorted.map(escapeRegExp).join("|")})(?=$|[/\\\\\\s"'\`:;,)\\]}])`, "g");
}

registerServerFolder(process.cwd(), "server folder");
registerServerFolder(os.tmpdir(), "temporary folder");

/** `text` with every registered server folder replaced by its placeholder. */
export function hideServerPaths(text: string): string {
  if (!pattern) return text;
  return text.replace(pattern, (match) => folders.get(match.replace(/^file:\/\//, "")) ?? "<server folder>");
}

/** `value` (an error's message or extensions) with server folders hidden in every string. */
export function hideServerPathsIn<T>(value: T, depth = 0): T {
  if (typeof value === "string") return hideServerPaths(value) as T;
  if (depth > 8 || !value || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => hideServerPathsIn(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = hideServerPathsIn(v, depth + 1);
  return out as T;
}
