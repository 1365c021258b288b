/**
 * TypeScript stage modules transpiled by the runner, so that a sandboxed module process need not
 * load the TypeScript compiler (half a second) on every attempt: the entry module and the `.ts`
 * files it imports by relative path, found by a scan of its import specifiers, cached by path,
 * size and modification time. Anything the scan misses is transpiled in the sandbox as before.
 * Transpiling only parses the project's source; nothing of it runs here.
 * @internal used by `module-process.ts` and `sandbox-host.ts`.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";

const TS_FILE = /\.[cm]?ts$/;
/** `from "./x"`, `import "./x"`, `require("./x")`, `import("./x")`: relative specifiers only. */
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'](\.{1,2}\/[^"'\n]+)["']/g;
/** The most files one stage's scan transpiles. */
const MAX_FILES = 200;

const cache = new Map<string, { key: string; js: string }>();

/** filename -> JavaScript for `entry` and the TypeScript files it reaches by relative imports; `{}` for a JavaScript entry. */
export function transpiledModules(entry: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!TS_FILE.test(entry)) return out;
  // Loaded lazily: only TypeScript stages need the compiler, and then once per server.
  const { transpileTypeScript } = require("./typescript") as typeof import("./typescript");
  const queue = [entry];
  while (queue.length > 0 && Object.keys(out).length < MAX_FILES) {
    const file = queue.shift()!;
    if (file in out) continue;
    let source: string;
    try {
      const stat = statSync(file);
      source = readFileSync(file, "utf8");
      const key = `${stat.size}:${stat.mtimeMs}`;
      const hit = cache.get(file);
      out[file] = hit?.key === key ? hit.js : transpileTypeScript(source, file);
      cache.set(file, { key, js: out[file] });
    } catch {
      continue; // unreadable or not TypeScript here: the sandbox reports it when it loads the module
    }
    for (const match of source.matchAll(RELATIVE_IMPORT)) {
      const target = resolveTs(path.resolve(path.dirname(file), match[1]!));
      if (target && !(target in out)) queue.push(target);
    }
  }
  return out;
}

/** The `.ts` file a specifier names (as given, or with `.ts` or `/index.ts` added), if there is one. */
function resolveTs(base: string): string | undefined {
  for (const candidate of [base, `${base}.ts`, path.join(base, "index.ts")]) {
    if (!TS_FILE.test(candidate)) continue;
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // try the next
    }
  }
  return undefined;
}

/**
 * In the sandboxed process: `require` of a `.ts` file runs the runner's transpilation when there
 * is one, else transpiles it here (loading the compiler then).
 */
export function registerTranspiled(transpiled: Record<string, string>): void {
  const extensions = require.extensions as unknown as Record<string, (m: NodeModule, filename: string) => void>;
  let fallback: ((source: string, filename: string) => string) | undefined;
  const compile = (m: NodeModule, filename: string) => {
    let js = transpiled[filename];
    if (js === undefined) {
      fallback ??= (require("./typescript") as typeof import("./typescript")).transpileTypeScript;
      js = fallback(readFileSync(filename, "utf8"), filename);
    }
    (m as unknown as { _compile(code: string, filename: string): void })._compile(js, filename);
  };
  extensions[".ts"] = compile;
  extensions[".mts"] = compile;
  extensions[".cts"] = compile;
}
