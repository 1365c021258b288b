import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { ErrorCode, InvalidInputError, SluiceError, type InputProblem } from "../kernel/errors";
import type { NormalizedPipelineSpec } from "./spec";
import { registerTypeScript } from "../../runners/local/typescript";
import { validatePipelineSpec } from "./validate";

/**
 * Reading a pipeline spec from a file: JSON, YAML, or a TypeScript/JavaScript module exporting it.
 * The only I/O of the spec layer.
 */

/** Why a spec file could not be read. */
export type SpecFileFailure = "NOT_FOUND" | "UNSUPPORTED" | "PARSE" | "NO_EXPORT" | "LOAD_FAILED";

/** A spec file that could not be read, parsed or loaded. Its message starts with the file name. */
export class SpecFileError extends SluiceError {
  constructor(
    /** The absolute path of the file. */
    readonly file: string,
    readonly reason: SpecFileFailure,
    message: string,
    /** Where a parse error is, 1-based, when known. */
    readonly position?: { line: number; column: number },
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.BAD_USER_INPUT, message, { file, reason, ...position }, options);
    this.name = "SpecFileError";
  }
}

/** A spec file that was read but is not a valid spec: the problems, and the file in the message. */
export class InvalidSpecFileError extends InvalidInputError {
  constructor(
    readonly file: string,
    problems: InputProblem[],
    shownAs: string,
  ) {
    super(problems);
    this.name = "InvalidSpecFileError";
    this.message = `${shownAs}: invalid pipeline spec: ${this.message}`;
    this.details.file = file;
  }
}

export interface LoadedSpec {
  /** Validated and normalized. */
  spec: NormalizedPipelineSpec;
  /** The absolute folder of the file: where `module` paths and commands are resolved from. */
  baseDir: string;
  /** The absolute path of the file. */
  file: string;
}

const MODULE_EXTENSIONS = new Set([".ts", ".cts", ".mts", ".js", ".cjs"]);

/**
 * Loads, validates and normalizes the pipeline spec in `file`:
 * - `.json`, `.yaml` / `.yml`: the document is the spec;
 * - `.ts`, `.cts`, `.mts`, `.js`, `.cjs`: a module whose default export, or else its `pipeline`
 *   export (or, for CommonJS, `module.exports` itself), is the spec; when that is a function it
 *   is called with no arguments and its result (awaited) is the spec. TypeScript is transpiled on
 *   load (no type check). Inside this repository `import … from "sluice"` resolves to the SDK.
 *   The file is loaded afresh on each call; modules it imports stay in Node's module cache.
 *
 * @throws SpecFileError (`reason` NOT_FOUND, UNSUPPORTED, PARSE with `position`, NO_EXPORT,
 *   LOAD_FAILED when the module throws) and InvalidSpecFileError (the spec's problems), each
 *   message starting with the file name.
 */
export async function loadSpecFile(file: string): Promise<LoadedSpec> {
  const absolute = path.resolve(file);
  const ext = path.extname(absolute).toLowerCase();
  const fail = (reason: SpecFileFailure, message: string, position?: { line: number; column: number }, cause?: unknown) =>
    new SpecFileError(absolute, reason, `${file}${position ? `:${position.line}:${position.column}` : ""}: ${message}`, position, {
      cause,
    });

  const isData = ext === ".json" || ext === ".yaml" || ext === ".yml";
  if (!isData && !MODULE_EXTENSIONS.has(ext)) {
    throw fail("UNSUPPORTED", `cannot read a pipeline from a "${ext || "(no extension)"}" file; use .json, .yaml, .yml, .ts, .js or .cjs`);
  }
  let text = "";
  try {
    const stat = await fs.stat(absolute);
    if (!stat.isFile()) throw fail("NOT_FOUND", "is not a file");
    if (isData) text = (await fs.readFile(absolute, "utf8")).replace(/^\uFEFF/, "");
  } catch (err) {
    if (err instanceof SpecFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw fail("NOT_FOUND", code === "ENOENT" ? "no such file" : `cannot be read (${code ?? String(err)})`, undefined, err);
  }

  let data: unknown;
  if (ext === ".json") data = parseJson(text, fail);
  else if (isData) data = parseYaml(text, fail);
  else data = await loadModule(absolute, fail);
  if (data === undefined || data === null) throw fail("PARSE", isData ? "is empty; it should hold a pipeline spec" : "exports nothing");

  try {
    const baseDir = path.dirname(absolute);
    return { spec: await withCodeVersions(validatePipelineSpec(data), baseDir), baseDir, file: absolute };
  } catch (err) {
    if (err instanceof InvalidInputError) throw new InvalidSpecFileError(absolute, err.problems, file);
    throw err;
  }
}

type Fail = (reason: SpecFileFailure, message: string, position?: { line: number; column: number }, cause?: unknown) => SpecFileError;

function parseJson(text: string, fail: Fail): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    const offset = jsonErrorOffset(text);
    const reason = String((err as Error).message)
      .replace(/ in JSON at position \d+.*$/s, "")
      .replace(/, ".*" is not valid JSON$/s, "");
    throw fail("PARSE", `invalid JSON: ${reason}`, offset < 0 ? undefined : positionOf(text, offset), err);
  }
}

function parseYaml(text: string, fail: Fail): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: false });
  const [first] = doc.errors;
  if (first) {
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : "";
    throw fail("PARSE", `invalid YAML: ${first.message}${more}`, positionOf(text, first.pos[0]), first);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw fail("PARSE", `invalid YAML: ${(err as Error).message}`, undefined, err);
  }
}

async function loadModule(file: string, fail: Fail): Promise<unknown> {
  registerTypeScript();
  delete require.cache[file];
  let exported: Record<string, unknown>;
  try {
    exported = require(file) as Record<string, unknown>;
  } catch (err) {
    throw fail("LOAD_FAILED", `loading the module failed: ${describe(err)}`, undefined, err);
  }
  let spec: unknown =
    exported?.default ??
    exported?.pipeline ??
    (typeof exported === "function" || (exported && "stages" in exported) ? exported : undefined);
  if (spec === undefined) {
    const names = exported && typeof exported === "object" ? Object.keys(exported).filter((k) => k !== "__esModule") : [];
    throw fail(
      "NO_EXPORT",
      "exports no pipeline: export it as the default export (`export default definePipeline({ … })`) or as `pipeline`" +
        (names.length > 0 ? `; it exports ${names.join(", ")}` : ""),
    );
  }
  if (typeof spec === "function") {
    try {
      spec = await (spec as () => unknown)();
    } catch (err) {
      throw fail("LOAD_FAILED", `its exported function threw: ${describe(err)}`, undefined, err);
    }
  }
  return spec;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name === "Error" ? "" : `${err.name}: `}${err.message}` : String(err);
}

/** 1-based line and column of a character offset. */
function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Where JSON.parse gave up, found by a small strict scanner (V8's messages carry a position only
 * for some errors). -1 when the scanner finds no error or the nesting is too deep for it.
 */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const fail = (): never => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- a control-flow sentinel caught below, never seen outside
    throw new JsonStop(i);
  };
  const string = () => {
    i++; // the opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 92) {
        const e = text[i + 1];
        i++; // the escaped character is where an error is
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
        else if (e !== undefined && e !== "u" && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
    fail();
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '"') return string();
    NUMBER.lastIndex = i;
    if (NUMBER.test(text)) {
      i = NUMBER.lastIndex;
      return;
    }
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return;
      }
    }
    fail();
  };
  try {
    value();
    ws();
    if (i < n) fail();
    return -1;
  } catch (err) {
    if (err instanceof JsonStop) return err.offset;
    return -1;
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/**
 * Gives each module stage without a `codeVersion` the hash of its module file, so that editing
 * the code makes a new pipeline version and misses the cache, as a changed spec would. (The
 * module's own imports are not followed; set `codeVersion` when they matter.)
 */
async function withCodeVersions(spec: NormalizedPipelineSpec, baseDir: string): Promise<NormalizedPipelineSpec> {
  let changed = false;
  const stages = await Promise.all(
    spec.stages.map(async (stage) => {
      const run = stage.run;
      if (!("module" in run) || run.codeVersion !== undefined) return stage;
      const file = await resolveModuleFile(path.resolve(baseDir, run.module));
      if (!file) return stage;
      changed = true;
      const digest = createHash("sha256")
        .update(await fs.readFile(file))
        .digest("hex");
      return { ...stage, run: { ...run, codeVersion: `sha256:${digest}` } };
    }),
  );
  return changed ? validatePipelineSpec({ ...spec, stages }) : spec;
}

/** The file `require` would load for `target` (tried as given, then with JS/TS extensions). */
async function resolveModuleFile(target: string): Promise<string | undefined> {
  for (const candidate of [target, ...[".ts", ".js", ".cjs", ".mts", ".mjs"].map((e) => target + e)]) {
    const stat = await fs.stat(candidate).catch(() => undefined);
    if (stat?.isFile()) return candidate;
  }
  return undefined;
}
