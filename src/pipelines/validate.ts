import { DEPLOYMENT_NAME } from "./deployment-name";
import Ajv from "ajv";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { schemaErrorAt, schemaProblems } from "../kernel/schema-problems";
import { cycleMessage, findCycles, hasCycle } from "./dag";
import { formatFieldPath, joinFieldPath, type PathSegment } from "./field-path";
import { operatorContractProblems, operatorParamProblems } from "./operator-contracts";
import { compileParamsSchema } from "./params-schema";
import { normalizeStageSecrets, stageSecretProblems } from "./stage-secrets";
import { slaSpecProblems, normalizeSlaSpecs, SLA_SPEC_SCHEMA } from "./sla-spec";
import {
  ARTIFACT_KINDS,
  type InputRef,
  type JsonSchema,
  type NormalizedPipelineSpec,
  type NormalizedStageSpec,
  type PipelineSpec,
  type StageRun,
  type StageSpec,
} from "./spec";

/**
 * Checking an untrusted pipeline spec (parsed JSON or YAML, or a TypeScript module's export) and
 * normalizing it. Pure: no I/O, no database.
 */

/** Pipeline and stage names. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Input and output names: like stage names, upper case allowed, never a dot (`from` is `stage.output`). */
export const PORT_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/;
/** Environment variable names of a command stage. */
const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The defaults `validatePipelineSpec` fills in. */
export const STAGE_DEFAULTS = Object.freeze({
  runnerLabels: Object.freeze(["local"]),
  retries: Object.freeze({ max: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000 }),
  cache: Object.freeze({ enabled: false }),
  moduleExport: "default",
});

const NAME_MESSAGE = "must be 1 to 63 lowercase letters, digits, _ or -, starting with a letter or digit";
const PORT_MESSAGE = "must be 1 to 63 letters, digits, _ or -, starting with a letter, digit or _ (no dots)";
/** The longest delay Node's timers take (about 24.8 days); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const ms = (what: string) => ({
  type: "integer",
  exclusiveMinimum: 0,
  maximum: MAX_TIMER_MS,
  messages: {
    exclusiveMinimum: `must be a positive number of milliseconds (${what})`,
    maximum: "must be at most 2147483647 ms (about 24.8 days)",
  },
});

/** The shape of a spec; references, names, cycles and parameters are checked in code after it. */
const SPEC_SCHEMA = {
  title: "a pipeline",
  type: "object",
  required: ["name", "stages"],
  additionalProperties: false,
  properties: {
    name: { type: "string", pattern: NAME_PATTERN.source, messages: { pattern: NAME_MESSAGE } },
    description: { type: "string" },
    maxParallel: { type: "integer", minimum: 1, messages: { minimum: "must be a positive integer (omit it for no limit)" } },
    maxConcurrentRuns: { type: "integer", minimum: 1, messages: { minimum: "must be a positive integer (omit it for no limit)" } },
    slas: SLA_SPEC_SCHEMA,
    stages: {
      type: "array",
      minItems: 1,
      messages: { minItems: "must list at least one stage" },
      items: {
        title: "a stage",
        type: "object",
        required: ["name", "run"],
        additionalProperties: false,
        properties: {
          name: { type: "string", pattern: NAME_PATTERN.source, messages: { pattern: NAME_MESSAGE } },
          description: { type: "string" },
          run: {
            title: "run",
            type: "object",
            additionalProperties: false,
            properties: {
              operator: { type: "string", minLength: 1 },
              module: { type: "string", minLength: 1 },
              export: { type: "string", minLength: 1 },
              command: { type: "array", minItems: 1, items: { type: "string" }, messages: { minItems: "must name the program to run" } },
              cwd: { type: "string", minLength: 1 },
              env: { type: "object", additionalProperties: { type: "string" } },
              codeVersion: { type: "string", minLength: 1 },
            },
          },
          inputs: {
            type: "object",
            additionalProperties: {
              title: "an input",
              type: "object",
              additionalProperties: false,
              properties: {
                from: { type: "string" },
                artifact: { type: "string", minLength: 1 },
                kind: { enum: ARTIFACT_KINDS },
                deployment: { type: "string" },
              },
            },
          },
          outputs: {
            type: "object",
            additionalProperties: {
              title: "an output",
              type: "object",
              required: ["kind"],
              additionalProperties: false,
              properties: { kind: { enum: ARTIFACT_KINDS }, description: { type: "string" } },
            },
          },
          paramsSchema: { type: "object" },
          params: { type: "object" },
          runner: {
            title: "runner",
            type: "object",
            required: ["labels"],
            additionalProperties: false,
            properties: {
              labels: {
                type: "array",
                items: {
                  type: "string",
                  pattern: "^\\S(?:.*\\S)?$",
                  messages: { pattern: "must be a non-empty label without leading or trailing spaces" },
                },
              },
            },
          },
          retries: {
            title: "retries",
            type: "object",
            required: ["max"],
            additionalProperties: false,
            properties: {
              max: { type: "integer", minimum: 0, maximum: 20, messages: { minimum: "must be 0 to 20", maximum: "must be 0 to 20" } },
              initialDelayMs: ms("the delay before the first retry"),
              factor: { type: "number", minimum: 1, messages: { minimum: "must be at least 1 (1 keeps the delay constant)" } },
              maxDelayMs: ms("the longest delay between retries"),
            },
          },
          timeoutMs: ms("how long one attempt may run"),
          cache: {
            title: "cache",
            type: "object",
            required: ["enabled"],
            additionalProperties: false,
            properties: { enabled: { type: "boolean" } },
          },
          secrets: {
            type: "object",
            additionalProperties: { type: "string", messages: { type: "must be the name of a project secret (a string)" } },
          },
        },
      },
    },
  },
};

const specAjv = new Ajv({ allErrors: true, verbose: true, strict: true, logger: false });
specAjv.addKeyword({ keyword: "messages", schemaType: "object" });
const validateShape = specAjv.compile(SPEC_SCHEMA);

/** The spec's shape errors as problems; a spec that is not even an object says what a spec is. */
function shapeProblems(errors: Parameters<typeof schemaProblems>[0], data: unknown): InputProblem[] {
  return schemaProblems(errors, {
    data,
    whole: "spec",
    refine: (_error, problem) =>
      problem.pointer === "" ? { pointer: "", message: "must be a pipeline spec: an object with name and stages" } : problem,
  });
}

/**
 * Copies `value` as plain JSON data: keys whose value is `undefined` are dropped (as JSON.stringify
 * does), and anything JSON cannot hold — functions, NaN, class instances, circular references, a
 * `__proto__` key — is a problem at its path. The copy is what the rest of validation reads, so
 * the caller's object is never mutated nor kept.
 */
function toJsonData(value: unknown, base: string, problems: InputProblem[]): unknown {
  // One mutable path and one set of open objects for the whole walk; a field is rendered only for a problem.
  const path: PathSegment[] = [];
  const open = new Set<object>();
  const problem = (message: string) => problems.push({ field: joinFieldPath(base, path) || "spec", message });
  const walk = (value: unknown): unknown => {
    switch (typeof value) {
      case "string":
      case "boolean":
      case "undefined":
        return value;
      case "number":
        if (!Number.isFinite(value)) problem(`must be a finite number, not ${value}`);
        return value;
      case "object":
        break;
      default:
        problem(`must be JSON data, not a ${typeof value}`);
        return undefined;
    }
    if (value === null) return null;
    if (open.has(value)) {
      problem("refers back to an object that contains it (circular data)");
      return undefined;
    }
    if (Array.isArray(value)) {
      open.add(value);
      const out: unknown[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        const item = value[i] as unknown;
        if (item === undefined) problem("must be JSON data, not undefined");
        out[i] = walk(item) ?? null;
        path.pop();
      }
      open.delete(value);
      return out;
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      problem(`must be plain JSON data, not a ${(value as { constructor?: { name?: string } }).constructor?.name ?? "object"}`);
      return undefined;
    }
    open.add(value);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      path.push(key);
      if (key === "__proto__") problem("is not an allowed key");
      else {
        const item = walk((value as Record<string, unknown>)[key]);
        if (item !== undefined) out[key] = item;
      }
      path.pop();
    }
    open.delete(value);
    return out;
  };
  return walk(value);
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;

function listNames(names: readonly string[], limit = 12): string {
  const shown = names.slice(0, limit).join(", ");
  return names.length > limit ? `${shown} … (${names.length} in all)` : shown;
}

/** The checks JSON Schema cannot express: run kinds, wiring, names, cycles, parameters. */
function semanticProblems(spec: Obj): InputProblem[] {
  const problems: InputProblem[] = [];
  const add = (segments: PathSegment[], message: string) => problems.push({ field: formatFieldPath(segments), message });
  const stages = Array.isArray(spec.stages) ? spec.stages : [];

  // Stage names: the first stage of a name owns it; later ones are duplicates.
  const byName = new Map<string, number>();
  stages.forEach((stage, i) => {
    if (!isObject(stage) || typeof stage.name !== "string") return;
    const first = byName.get(stage.name);
    if (first === undefined) byName.set(stage.name, i);
    else add(["stages", i, "name"], `duplicates the name of stages[${first}]; stage names must be unique in a pipeline`);
  });
  const allNames = [...byName.keys()];

  // Wires by reading stage, for the cycle check: [upstream index, input name].
  const wires: Array<Array<[number, string]>> = stages.map(() => []);

  stages.forEach((stage, i) => {
    if (!isObject(stage)) return;
    const at = (...rest: PathSegment[]): PathSegment[] => ["stages", i, ...rest];

    if (isObject(stage.run)) {
      const run = stage.run;
      const kinds = (["operator", "module", "command"] as const).filter((k) => run[k] !== undefined);
      if (kinds.length !== 1) {
        add(
          at("run"),
          kinds.length === 0
            ? "must give one of operator (a built-in), module (a file exporting the stage function) or command (a program and its arguments)"
            : `gives ${kinds.join(" and ")}; give exactly one of operator, module or command`,
        );
      }
      if (run.export !== undefined && run.module === undefined) add(at("run", "export"), "only applies with module");
      for (const key of ["cwd", "env"] as const) {
        if (run[key] !== undefined && run.command === undefined) add(at("run", key), "only applies with command");
      }
      if (run.codeVersion !== undefined && run.operator !== undefined)
        add(at("run", "codeVersion"), "does not apply to operators (their version is Sluice's)");
      if (Array.isArray(run.command) && run.command[0] === "") add(at("run", "command", 0), "must name the program to run");
      if (isObject(run.env)) {
        for (const key of Object.keys(run.env)) {
          if (!ENV_PATTERN.test(key)) add(at("run", "env", key), "is not a valid environment variable name (letters, digits and _)");
        }
      }
    }

    const outputs = isObject(stage.outputs) ? stage.outputs : {};
    for (const name of Object.keys(outputs)) if (!PORT_PATTERN.test(name)) add(at("outputs", name), `output names ${PORT_MESSAGE}`);
    problems.push(...operatorContractProblems(stage, at, formatFieldPath));
    problems.push(...stageSecretProblems(stage, at, formatFieldPath));

    if (isObject(stage.inputs)) {
      for (const [name, ref] of Object.entries(stage.inputs)) {
        if (!PORT_PATTERN.test(name)) add(at("inputs", name), `input names ${PORT_MESSAGE}`);
        if (!isObject(ref)) continue;
        const hasFrom = ref.from !== undefined;
        const hasArtifact = ref.artifact !== undefined;
        const hasDeployment = ref.deployment !== undefined;
        if (Number(hasFrom) + Number(hasArtifact) + Number(hasDeployment) > 1) {
          add(
            at("inputs", name),
            "gives more than one source; give from (another stage's output), artifact (a stored one) or deployment (what an endpoint serves)",
          );
          continue;
        }
        if (!hasFrom && !hasArtifact && !hasDeployment) {
          add(
            at("inputs", name),
            'must give from ("stage.output"), artifact and kind (an artifact already stored) or deployment (an endpoint\'s model)',
          );
          continue;
        }
        if (hasDeployment) {
          if (typeof ref.deployment !== "string" || !DEPLOYMENT_NAME.test(ref.deployment))
            add(at("inputs", name, "deployment"), "must be an endpoint name: 1-128 letters, digits, '.', '_' and '-'");
          continue;
        }
        if (hasArtifact) {
          if (ref.kind === undefined)
            add(at("inputs", name, "kind"), `is required with artifact: the kind it must have (${ARTIFACT_KINDS.join(", ")})`);
          continue;
        }
        if (typeof ref.from !== "string") continue;
        const match = /^([^.]+)\.([^.]+)$/.exec(ref.from);
        if (!match) {
          add(at("inputs", name), `reads from ${JSON.stringify(ref.from)}; from must be "stage.output", e.g. "prepare.train"`);
          continue;
        }
        const [, upstreamName, outputName] = match;
        if (upstreamName === stage.name) {
          add(at("inputs", name), `reads from ${ref.from}, an output of this same stage; a stage may not read its own output`);
          continue;
        }
        const j = byName.get(upstreamName);
        if (j === undefined) {
          add(at("inputs", name), `reads from ${ref.from}, but there is no stage "${upstreamName}"; the stages are ${listNames(allNames)}`);
          continue;
        }
        wires[i].push([j, name]);
        const upstream = stages[j] as Obj;
        const declared = isObject(upstream.outputs) ? upstream.outputs : {};
        const output = declared[outputName];
        if (!isObject(output)) {
          const names = Object.keys(declared);
          add(
            at("inputs", name),
            `reads from ${ref.from}, but stage "${upstreamName}" has no output "${outputName}"; ` +
              (names.length > 0 ? `its outputs are ${listNames(names)}` : "it declares no outputs"),
          );
          continue;
        }
        if (ref.kind !== undefined) {
          const kind = typeof output.kind === "string" ? output.kind : "unknown";
          add(
            at("inputs", name, "kind"),
            ref.kind === kind
              ? `only applies with artifact; an input wired with from takes the kind of the output (${ref.from} is a ${kind}), so leave kind out`
              : `says ${String(ref.kind)}, but ${ref.from} is a ${kind}; wire an output of the kind this stage expects, and leave kind out (only artifact inputs state it)`,
          );
        }
      }
    }

    if (isObject(stage.paramsSchema)) {
      const compiled = compileParamsSchema(stage.paramsSchema as JsonSchema);
      if (!compiled.ok) add(at("paramsSchema"), `does not compile: ${compiled.message}`);
      else if (stage.params === undefined || isObject(stage.params)) {
        const params = structuredClone(stage.params ?? {});
        if (!compiled.validate(params)) {
          for (const error of compiled.validate.errors ?? []) {
            const { segments, message } = schemaErrorAt(error, { data: params })!;
            add([...at("params"), ...segments], message);
          }
        }
      }
    }

    if (isObject(stage.retries)) {
      const { initialDelayMs = STAGE_DEFAULTS.retries.initialDelayMs, maxDelayMs = STAGE_DEFAULTS.retries.maxDelayMs } = stage.retries;
      if (isPositiveInt(initialDelayMs) && isPositiveInt(maxDelayMs) && maxDelayMs < initialDelayMs) {
        add(at("retries", "maxDelayMs"), `must be at least initialDelayMs (${initialDelayMs})`);
      }
    }
  });

  problems.push(...slaSpecProblems(spec, formatFieldPath));

  const downstream: number[][] = stages.map(() => []);
  wires.forEach((list, to) => {
    for (const [from] of list) downstream[from].push(to);
  });
  for (const cycle of hasCycle(downstream) ? findCycles(stages.length, downstream) : []) {
    const [first, last] = [cycle[0], cycle[cycle.length - 1]];
    const closing = wires[first].find(([from]) => from === last)!;
    add(["stages", first, "inputs", closing[1]], cycleMessage(cycle.map((i) => (stages[i] as Obj).name as string)));
  }
  return problems;
}

/** Problems in document order: pipeline fields first, then stage by stage, in the order found. */
function ordered(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.field}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const stageOf = (p: InputProblem) => Number(/^stages\[(\d+)\]/.exec(p.field)?.[1] ?? -1);
  return unique
    .map((p, i) => ({ p, i, s: stageOf(p) }))
    .sort((a, b) => a.s - b.s || a.i - b.i)
    .map(({ p }) => p);
}

/**
 * Checks an untrusted pipeline spec and returns it normalized: defaults filled in (runner labels
 * `["local"]`, retries `{ max: 0, initialDelayMs: 1000, factor: 2, maxDelayMs: 60000 }`, cache off,
 * empty inputs, outputs and params, module export `default`), runner labels sorted without
 * repeats, and every value copied, so two specs that differ only in omitted defaults or key order
 * normalize equal. Normalizing a normalized spec returns an equal one.
 *
 * @throws InvalidInputError listing every problem found, each with its field path
 *   (`stages[2].inputs.train`, `stages[0].params.lr`, `spec` for the whole value).
 */
export function validatePipelineSpec(input: unknown): NormalizedPipelineSpec {
  const problems: InputProblem[] = [];
  const data = toJsonData(input, "", problems);
  const refused = problems.length;
  const unusable = new Set(problems.map((p) => p.field));
  if (data === undefined) {
    throw new InvalidInputError(refused > 0 ? problems : [{ field: "spec", message: "must be a pipeline spec object, not undefined" }]);
  }
  if (!validateShape(data)) problems.push(...shapeProblems(validateShape.errors, data));
  if (isObject(data)) problems.push(...semanticProblems(data));
  // A value already refused as non-JSON data need not be refused again for its type or absence.
  const kept = problems.filter((p, i) => i < refused || !unusable.has(p.field));
  if (kept.length > 0) throw new InvalidInputError(ordered(kept));
  return normalize(data as unknown as PipelineSpec);
}

/**
 * Normalizes a spec without refusing it: what `validatePipelineSpec` returns for a valid spec, and
 * for an invalid one the same normalization applied as far as its shape allows (for showing specs
 * stored before a rule was tightened). Returns undefined when the shape is too broken to normalize.
 *
 * @internal used by diff.ts.
 */
export function normalizeLeniently(input: unknown): NormalizedPipelineSpec | undefined {
  try {
    return validatePipelineSpec(input);
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
  }
  const data = toJsonData(input, "", []);
  if (!isObject(data) || !Array.isArray(data.stages) || !data.stages.every((s) => isObject(s) && isObject(s.run))) return undefined;
  try {
    return normalize(data as unknown as PipelineSpec);
  } catch {
    return undefined;
  }
}

/** Builds the normalized spec from checked data (fresh objects, a fixed key order). */
function normalize(spec: PipelineSpec): NormalizedPipelineSpec {
  const out: NormalizedPipelineSpec = { name: spec.name, stages: [] };
  if (spec.description !== undefined) out.description = spec.description;
  if (spec.maxParallel !== undefined) out.maxParallel = spec.maxParallel;
  if (spec.maxConcurrentRuns !== undefined) out.maxConcurrentRuns = spec.maxConcurrentRuns;
  const slas = normalizeSlaSpecs(spec.slas);
  if (slas) out.slas = slas;
  for (const stage of spec.stages) {
    const inputs: Record<string, InputRef> = {};
    for (const [name, ref] of Object.entries(stage.inputs ?? {})) {
      inputs[name] =
        "from" in ref
          ? { from: ref.from }
          : "deployment" in ref
            ? { deployment: ref.deployment }
            : { artifact: ref.artifact, kind: ref.kind };
    }
    const outputs: NormalizedStageSpec["outputs"] = {};
    for (const [name, output] of Object.entries(stage.outputs ?? {})) {
      outputs[name] = output.description === undefined ? { kind: output.kind } : { kind: output.kind, description: output.description };
    }
    const retries = { ...STAGE_DEFAULTS.retries, ...stage.retries };
    const secrets = normalizeStageSecrets(stage.secrets);
    const normalized: NormalizedStageSpec = {
      name: stage.name,
      ...(stage.description !== undefined && { description: stage.description }),
      run: normalizeRun(stage.run),
      inputs,
      outputs,
      ...(stage.paramsSchema !== undefined && { paramsSchema: stage.paramsSchema }),
      params: stage.params ?? {},
      runner: { labels: [...new Set(stage.runner?.labels ?? STAGE_DEFAULTS.runnerLabels)].sort() },
      retries: { max: retries.max, initialDelayMs: retries.initialDelayMs, factor: retries.factor, maxDelayMs: retries.maxDelayMs },
      ...(stage.timeoutMs !== undefined && { timeoutMs: stage.timeoutMs }),
      cache: { enabled: stage.cache?.enabled ?? STAGE_DEFAULTS.cache.enabled },
      ...(secrets !== undefined && { secrets }),
    };
    out.stages.push(normalized);
  }
  return out;
}

function normalizeRun(run: StageRun): StageRun {
  if ("operator" in run) return { operator: run.operator };
  if ("module" in run) {
    const out: StageRun = { module: run.module, export: run.export ?? STAGE_DEFAULTS.moduleExport };
    if (run.codeVersion !== undefined) out.codeVersion = run.codeVersion;
    return out;
  }
  const out: StageRun = { command: [...run.command] };
  if (run.cwd !== undefined) out.cwd = run.cwd;
  if (run.env !== undefined) out.env = { ...run.env };
  if (run.codeVersion !== undefined) out.codeVersion = run.codeVersion;
  return out;
}

const stageMaps = new WeakMap<PipelineSpec, Map<string, StageSpec>>();

/** The stages of a spec by name (the first of a name), kept per spec object: specs are not changed once validated. */
function stagesByName(spec: PipelineSpec): Map<string, StageSpec> {
  let map = stageMaps.get(spec);
  if (!map) {
    map = new Map();
    for (const stage of spec.stages) if (!map.has(stage.name)) map.set(stage.name, stage);
    stageMaps.set(spec, map);
  }
  return map;
}

/**
 * The parameters a stage runs with: its spec `params` with the run's `overrides` laid over them
 * (shallow: an override replaces a whole top-level parameter), then checked against the stage's
 * `paramsSchema` with the schema's `default`s filled in, or, for a built-in operator's stage given
 * overrides, against the operator's registered contract (an unknown parameter is refused with the
 * ones the operator takes). Returns a fresh object; neither the spec
 * nor `overrides` is changed.
 *
 * @throws InvalidInputError with fields `params.<stage>` (unknown stage, overrides not an object or
 *   not JSON data) and `params.<stage>.<path>` (a value the schema refuses).
 */
export function resolveStageParams(
  spec: PipelineSpec,
  stageName: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const base = `params.${stageName}`;
  const stage = stagesByName(spec).get(stageName);
  if (!stage) {
    throw new InvalidInputError([
      {
        field: base,
        message: `pipeline "${spec.name}" has no stage "${stageName}"; its stages are ${listNames(spec.stages.map((s) => s.name))}`,
      },
    ]);
  }
  const problems: InputProblem[] = [];
  const copy = toJsonData(overrides, base, problems);
  if (problems.length > 0) throw new InvalidInputError(problems);
  if (!isObject(copy)) throw new InvalidInputError([{ field: base, message: "overrides must be an object of parameter values" }]);
  const params = { ...structuredClone(stage.params ?? {}), ...copy };
  if ("operator" in stage.run && Object.keys(copy).length > 0) {
    // A built-in operator's stage has no paramsSchema of its own: its overrides are checked against
    // the operator's contract, as the spec's params were at apply. Without overrides the params
    // are the ones accepted then, and a stored spec stays runnable when a contract tightens.
    const found = operatorParamProblems(stage.run.operator, params);
    if (found && found.length > 0)
      throw new InvalidInputError(found.map((p) => ({ field: joinFieldPath(base, p.path), message: p.message })));
  }
  if (!stage.paramsSchema) return params;
  const compiled = compileParamsSchema(stage.paramsSchema);
  if (!compiled.ok)
    throw new InvalidInputError([{ field: base, message: `the stage's paramsSchema does not compile: ${compiled.message}` }]);
  if (!compiled.validate(params)) {
    throw new InvalidInputError(schemaProblems(compiled.validate.errors, { data: params, base }));
  }
  return params;
}
