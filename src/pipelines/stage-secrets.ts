/**
 * The `secrets` of a stage: which project secrets it receives, under which environment variable
 * names. Pure rules, no I/O; that each named secret exists is checked against the project at
 * apply and at trigger (`secret-grants.ts`).
 */
import type { InputProblem } from "../kernel/errors";
import { SECRET_NAME, SECRET_NAME_RULE } from "../secrets/secret-name";
import type { PathSegment } from "./field-path";

/** A variable a secret may be given as: upper case, digits and `_`, not starting with a digit. */
export const SECRET_ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
/** Most secrets one stage may receive. */
export const MAX_STAGE_SECRETS = 64;

/**
 * Variables a secret may not be given as, and why: Sluice's own, and those that tell a shell,
 * the dynamic loader or an interpreter what code to load — a secret there would change what the
 * stage runs rather than what it reads.
 */
const RESERVED_PREFIXES: ReadonlyArray<[string, string]> = [
  ["SLUICE_", "is reserved for the variables Sluice sets itself"],
  ["LD_", "controls the dynamic loader"],
  ["DYLD_", "controls the dynamic loader"],
  ["BASH_FUNC_", "defines shell functions"],
];
const LOADER_VARIABLES = new Set([
  "PATH",
  "IFS",
  "ENV",
  "BASH_ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "GCONV_PATH",
  "HOSTALIASES",
  "NODE_OPTIONS",
  "NODE_PATH",
  "PYTHONPATH",
  "PYTHONHOME",
  "PYTHONSTARTUP",
  "PYTHONUSERBASE",
  "PYTHONINSPECT",
  "PERL5LIB",
  "PERL5OPT",
  "PERLLIB",
  "RUBYLIB",
  "RUBYOPT",
  "CLASSPATH",
  "JAVA_TOOL_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "_JAVA_OPTIONS",
]);

/** Why `name` cannot carry a secret, or undefined when it can. */
export function reservedEnvReason(name: string): string | undefined {
  for (const [prefix, why] of RESERVED_PREFIXES) if (name.startsWith(prefix)) return `${why} (${prefix}*): choose another name`;
  if (LOADER_VARIABLES.has(name)) return "tells programs where to find or how to load code: choose another name";
  return undefined;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The problems of one stage's `secrets` (its shape is checked by the spec schema first): the
 * stage kind, each variable name and each secret name.
 */
export function stageSecretProblems(
  stage: Obj,
  at: (...rest: PathSegment[]) => PathSegment[],
  format: (segments: PathSegment[]) => string,
): InputProblem[] {
  const problems: InputProblem[] = [];
  const add = (segments: PathSegment[], message: string) => problems.push({ field: format(segments), message });
  if (!isObject(stage.secrets)) return problems;
  const run = isObject(stage.run) ? stage.run : {};
  const entries = Object.entries(stage.secrets);
  if (entries.length > 0 && run.module === undefined && run.command === undefined) {
    add(at("secrets"), "only applies to module and command stages (operators are Sluice's own code)");
    return problems;
  }
  if (entries.length > MAX_STAGE_SECRETS)
    add(at("secrets"), `gives ${entries.length} secrets; a stage may receive at most ${MAX_STAGE_SECRETS}`);
  const env = isObject(run.env) ? run.env : {};
  for (const [variable, secret] of entries) {
    if (!SECRET_ENV_NAME.test(variable)) {
      add(at("secrets", variable), "is not a valid variable name: 1-128 uppercase letters, digits and _, not starting with a digit");
      continue;
    }
    const reserved = reservedEnvReason(variable);
    if (reserved) add(at("secrets", variable), reserved);
    else if (variable in env) add(at("secrets", variable), "is also set in run.env; give a variable one value");
    if (typeof secret === "string" && !SECRET_NAME.test(secret)) add(at("secrets", variable), `names a secret that ${SECRET_NAME_RULE}`);
  }
  return problems;
}

/** The normalized `secrets`: keys sorted, or undefined when there are none (so the content hash of a spec without secrets is unchanged). */
export function normalizeStageSecrets(secrets: Record<string, string> | undefined): Record<string, string> | undefined {
  const keys = Object.keys(secrets ?? {}).sort();
  if (keys.length === 0) return undefined;
  return Object.fromEntries(keys.map((k) => [k, secrets![k]!]));
}
