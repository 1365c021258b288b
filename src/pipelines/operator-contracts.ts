import type { InputProblem } from "../kernel/errors";
import { OPERATOR_CONTRACTS } from "../operators";
import type { PathSegment } from "./field-path";
import { compileParamsSchema } from "./params-schema";
import { schemaErrorAt } from "../kernel/schema-problems";

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const compiled = new Map<string, ReturnType<typeof compileParamsSchema>>();

/**
 * A built-in operator's stage against the operator's contract: its required inputs wired, its
 * outputs declared with the right kind (and the ones a parameter switches on), its parameters
 * valid — so `applyPipeline` refuses what would otherwise fail at the end of a run. Stages of
 * operators without a contract (`noop`) and of modules or commands are not checked here.
 */
export function operatorContractProblems(
  stage: Obj,
  at: (...rest: PathSegment[]) => PathSegment[],
  format: (p: PathSegment[]) => string,
): InputProblem[] {
  const run = stage.run;
  if (!isObject(run) || typeof run.operator !== "string") return [];
  const contract = OPERATOR_CONTRACTS[run.operator];
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
  let check = compiled.get(op);
  if (!check) compiled.set(op, (check = compileParamsSchema(contract.paramsSchema)));
  if (check.ok && !check.validate(params)) {
    for (const error of check.validate.errors ?? []) {
      const { segments, message } = schemaErrorAt(error, { data: params })!;
      add([...at("params"), ...segments], message);
    }
  } else if (check.ok && contract.checkParams) {
    for (const p of contract.checkParams(params)) add([...at("params"), ...p.path], p.message);
  }
  return problems;
}
