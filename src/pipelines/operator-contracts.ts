import type { InputProblem } from "../kernel/errors";
import type { PathSegment } from "./field-path";
import { compileParamsSchema } from "./params-schema";
import { didYouMean } from "../kernel/close-match";
import { schemaErrorAt } from "../kernel/schema-problems";
import type { ArtifactKind, JsonSchema } from "./spec";

/** What a stage using a built-in operator must declare (the catalogue is src/operators/catalog.ts). */
export interface OperatorContract {
  /** Inputs that must be wired, with their kind. */
  inputs: Record<string, ArtifactKind>;
  /** Other inputs the operator reads when present. `*` means any further input of that kind. */
  optionalInputs?: Record<string, ArtifactKind>;
  /** Outputs that must be declared, with their kind. */
  outputs: Record<string, ArtifactKind>;
  /** Outputs a parameter switches on: `quarantine: true` needs `passed` and `quarantine`. */
  conditionalOutputs?: { param: string; outputs: Record<string, ArtifactKind> };
  /** The parameters, checked when the pipeline is applied. */
  paramsSchema: JsonSchema;
  /**
   * Checks a schema cannot express (e.g. a search space against the algorithm's hyperparameters),
   * run at apply after the schema passed; each problem's path is below the stage's params.
   */
  checkParams?: (params: Record<string, unknown>) => Array<{ path: Array<string | number>; message: string }>;
}

/**
 * The contracts stages are checked against, by operator name. Pipeline validation knows no
 * operator itself: the process that validates specs registers the catalogue at start (the server
 * in app/services.ts, `sluice apply` before loading a file).
 */
const contracts = new Map<string, OperatorContract>();
/** Each contract's parameter schema, compiled on first use. */
const compiled = new Map<string, ReturnType<typeof compileParamsSchema>>();

/** Adds (or replaces) the contracts of `catalogue`'s operators; a stage of an operator with none is not checked. */
export function registerOperatorContracts(catalogue: Readonly<Record<string, OperatorContract>>): void {
  for (const [name, contract] of Object.entries(catalogue)) {
    if (contracts.get(name) !== contract) compiled.delete(name);
    contracts.set(name, contract);
  }
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A built-in operator's stage against the operator's contract: its required inputs wired, its
 * outputs declared with the right kind (and the ones a parameter switches on), its parameters
 * valid — so `applyPipeline` refuses what would otherwise fail at the end of a run. Stages of
 * operators without a registered contract (`noop`) and of modules or commands are not checked here.
 */
export function operatorContractProblems(
  stage: Obj,
  at: (...rest: PathSegment[]) => PathSegment[],
  format: (p: PathSegment[]) => string,
): InputProblem[] {
  const run = stage.run;
  if (!isObject(run) || typeof run.operator !== "string") return [];
  const contract = contracts.get(run.operator);
  if (!contract) return [];
  const problems: InputProblem[] = [];
  const add = (segments: PathSegment[], message: string) => problems.push({ field: format(segments), message });
  const op = run.operator;
  const inputs = isObject(stage.inputs) ? stage.inputs : {};
  const outputs = isObject(stage.outputs) ? stage.outputs : {};
  const params = isObject(stage.params) ? stage.params : {};

  if (op === "gate") {
    // A gate passes its model on (`outputs.model`, once approved) and produces nothing else; it
    // runs on no runner, so retries and a cache have nothing to act on.
    for (const [name, declared] of Object.entries(outputs)) {
      if (name !== "model") add(at("outputs", name), "a gate stage has one optional output, model (the approved Model)");
      else if (isObject(declared) && declared.kind !== "Model") add(at("outputs", name, "kind"), "must be Model");
    }
    if (isObject(stage.cache) && stage.cache.enabled === true) add(at("cache", "enabled"), "does not apply to a gate stage");
    if (isObject(stage.retries) && typeof stage.retries.max === "number" && stage.retries.max > 0)
      add(at("retries", "max"), "does not apply to a gate stage: a decision is final");
  }
  for (const [name, kind] of Object.entries(contract.inputs)) {
    if (!(name in inputs)) add(at("inputs", name), `the ${op} operator needs this input (a ${kind})`);
  }
  const wanted = {
    ...contract.outputs,
    ...(contract.conditionalOutputs && params[contract.conditionalOutputs.param] === true ? contract.conditionalOutputs.outputs : {}),
  };
  for (const [name, kind] of Object.entries(wanted)) {
    const declared = outputs[name];
    if (!isObject(declared)) add(at("outputs", name), `the ${op} operator writes this output: declare it with kind ${kind}`);
    else if (declared.kind !== kind) add(at("outputs", name, "kind"), `must be ${kind}: the ${op} operator writes a ${kind} here`);
  }
  for (const p of operatorParamProblems(op, params) ?? []) add([...at("params"), ...p.path], p.message);
  return problems;
}

/** One problem with an operator stage's parameters, its path below the stage's params. */
export interface ParamProblem {
  path: PathSegment[];
  message: string;
}

/**
 * `params` against the registered contract of `operator`: its parameter schema, then (when the
 * schema passes) the contract's own `checkParams`. An unknown top-level parameter is named with
 * the ones the operator takes and, when one is a likely typo of it, that one: `unknown parameter
 * "algoritm"; did you mean "algorithm"? train takes algorithm, target, features, …`.
 * Undefined when the operator has no registered contract (nothing to check against).
 */
export function operatorParamProblems(operator: string, params: Record<string, unknown>): ParamProblem[] | undefined {
  const contract = contracts.get(operator);
  if (!contract) return undefined;
  let check = compiled.get(operator);
  if (!check) compiled.set(operator, (check = compileParamsSchema(contract.paramsSchema)));
  if (!check.ok) return [];
  // The validator fills in schema defaults: it checks a copy, so the caller's params stay as given.
  const data = structuredClone(params);
  const problems: ParamProblem[] = [];
  if (!check.validate(data)) {
    const known = Object.keys((contract.paramsSchema.properties as Record<string, unknown> | undefined) ?? {});
    for (const error of check.validate.errors ?? []) {
      const unknownParam =
        error.keyword === "additionalProperties" && error.instancePath === ""
          ? String((error.params as { additionalProperty: unknown }).additionalProperty)
          : undefined;
      if (unknownParam !== undefined) {
        const hint = didYouMean(unknownParam, known);
        problems.push({
          path: [unknownParam],
          message: `unknown parameter ${JSON.stringify(unknownParam)}${hint ? `${hint} ` : "; "}${operator} takes ${known.join(", ")}`,
        });
        continue;
      }
      const { segments, message } = schemaErrorAt(error, { data })!;
      problems.push({ path: segments, message });
    }
  } else if (contract.checkParams) {
    problems.push(...contract.checkParams(data));
  }
  return problems;
}
