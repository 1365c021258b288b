import Ajv from "ajv";
import { InvalidInputError, type InputProblem } from "../kernel/errors";
import { schemaProblems } from "../kernel/schema-problems";
import { isLowerBetter } from "../evaluation";

// Policy rules compare metrics in the direction they improve; re-exported for policy readers.
export { isLowerBetter };

/**
 * Model governance policies: their types, checking an untrusted definition into a normalized
 * policy, and the pure decisions made with one (automatic checks on registration, who may approve,
 * when enough have, when a request expires). No database and no clock: callers pass in the facts
 * and the times, so every rule here can be tested on its own.
 */

export interface MetricRule {
  metric: string;
  /** Inclusive lower bound on the candidate's value. */
  min?: number;
  /** Inclusive upper bound on the candidate's value. */
  max?: number;
  /**
   * The candidate must be better than the champion by at least this much (>= 0). "Better" is
   * higher unless the metric is lower-is-better (see `isLowerBetter`). 0 means "no worse than".
   */
  beatsChampionBy?: number;
}

export interface FairnessRule {
  /** e.g. `demographic_parity_difference`, `equalized_odds_difference`. */
  metric: string;
  max?: number;
  min?: number;
}

export interface ApprovalRule {
  /** Human approvals needed, 0..10; 0 approves a version that passes its checks outright. */
  required: number;
  /** Whoever triggered the training run cannot approve its version. */
  separationOfDuties: boolean;
  /** An open request lapses this many hours after it opens; absent means never. */
  expiresAfterHours?: number;
}

/** A policy as validated: lists always present, defaults filled in. */
export interface Policy {
  metrics: MetricRule[];
  fairness: FairnessRule[];
  /** Validation suite names that must each have a passing report for the version. */
  requiredValidations: string[];
  approvals: ApprovalRule;
}

/** A policy as an author writes it. */
export interface PolicyInput {
  metrics?: MetricRule[];
  fairness?: FairnessRule[];
  requiredValidations?: string[];
  approvals: { required: number; separationOfDuties?: boolean; expiresAfterHours?: number };
}

export const SEPARATION_OF_DUTIES_DEFAULT = true;
export const MAX_REQUIRED_APPROVALS = 10;

// ---------------------------------------------------------------------------------------------
// Validation

const name = { type: "string", minLength: 1 };
const finite = { type: "number" };

const SCHEMA = {
  title: "a policy",
  type: "object",
  required: ["approvals"],
  additionalProperties: false,
  properties: {
    metrics: {
      type: "array",
      items: {
        title: "a metric rule",
        type: "object",
        required: ["metric"],
        additionalProperties: false,
        properties: {
          metric: name,
          min: finite,
          max: finite,
          beatsChampionBy: { type: "number", minimum: 0, messages: { minimum: "must be at least 0" } },
        },
      },
    },
    fairness: {
      type: "array",
      items: {
        title: "a fairness rule",
        type: "object",
        required: ["metric"],
        additionalProperties: false,
        properties: { metric: name, min: finite, max: finite },
      },
    },
    requiredValidations: { type: "array", items: name },
    approvals: {
      title: "the approvals rule",
      type: "object",
      required: ["required"],
      additionalProperties: false,
      properties: {
        required: {
          type: "integer",
          minimum: 0,
          maximum: MAX_REQUIRED_APPROVALS,
          messages: { minimum: `must be in 0..${MAX_REQUIRED_APPROVALS}`, maximum: `must be in 0..${MAX_REQUIRED_APPROVALS}` },
        },
        separationOfDuties: { type: "boolean" },
        expiresAfterHours: { type: "number", exclusiveMinimum: 0, messages: { exclusiveMinimum: "must be greater than 0" } },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, logger: false });
// Our own per-keyword messages, read back by `schemaProblems`; ajv's defaults ("must be >= 0") name no range.
ajv.addKeyword({ keyword: "messages", schemaType: "object" });
const validateShape = ajv.compile(SCHEMA);

/** Bounds that cannot all hold, or a rule that checks nothing, are author mistakes worth naming. */
function boundProblems(at: string, rule: { min?: number; max?: number }, needs: string): InputProblem[] {
  if (rule.min === undefined && rule.max === undefined && needs !== "") return [{ field: at, message: `needs ${needs}` }];
  if (rule.min !== undefined && rule.max !== undefined && rule.min > rule.max)
    return [{ field: `${at}.max`, message: `must be at least min (${rule.min})` }];
  return [];
}

/** A name listed twice would be checked twice and reported twice; it is almost surely a typo. */
function duplicateProblems(names: string[], at: (i: number) => string): InputProblem[] {
  const first = new Map<string, number>();
  const problems: InputProblem[] = [];
  names.forEach((n, i) => {
    const seen = first.get(n);
    if (seen !== undefined) problems.push({ field: at(i), message: `repeats ${JSON.stringify(n)} from index ${seen}` });
    else first.set(n, i);
  });
  return problems;
}

/**
 * Checks an untrusted policy (parsed JSON or YAML) and returns it normalized: absent lists are
 * empty, `separationOfDuties` defaults to true. Throws `InvalidInputError` naming every bad field,
 * e.g. `metrics[1].max`.
 */
export function validatePolicy(input: unknown): Policy {
  let data: unknown;
  try {
    // A JSON round trip copies the input, so the caller's object is never mutated or aliased, and
    // turns NaN and Infinity into null, which the schema then refuses.
    data = JSON.parse(JSON.stringify(input ?? null));
  } catch (err) {
    throw new InvalidInputError([{ field: "policy", message: `must be plain JSON data (${(err as Error).message})` }]);
  }
  if (!validateShape(data)) {
    throw new InvalidInputError(dedupe(schemaProblems(validateShape.errors, { data, whole: "policy" })));
  }
  const raw = data as unknown as PolicyInput;
  const metrics = raw.metrics ?? [];
  const fairness = raw.fairness ?? [];
  const requiredValidations = raw.requiredValidations ?? [];
  const problems: InputProblem[] = [
    ...metrics.flatMap((m, i) => boundProblems(`metrics[${i}]`, m, m.beatsChampionBy === undefined ? "min, max or beatsChampionBy" : "")),
    ...duplicateProblems(
      metrics.map((m) => m.metric),
      (i) => `metrics[${i}].metric`,
    ),
    ...fairness.flatMap((f, i) => boundProblems(`fairness[${i}]`, f, "min, max or both")),
    ...duplicateProblems(
      fairness.map((f) => f.metric),
      (i) => `fairness[${i}].metric`,
    ),
    ...duplicateProblems(requiredValidations, (i) => `requiredValidations[${i}]`),
  ];
  if (problems.length > 0) throw new InvalidInputError(problems);
  const approvals: ApprovalRule = {
    required: raw.approvals.required,
    separationOfDuties: raw.approvals.separationOfDuties ?? SEPARATION_OF_DUTIES_DEFAULT,
  };
  if (raw.approvals.expiresAfterHours !== undefined) approvals.expiresAfterHours = raw.approvals.expiresAfterHours;
  return { metrics, fairness, requiredValidations, approvals };
}

function dedupe(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.field}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/**
 * Metrics are floating point, so `0.83 - 0.82` is 0.00999…; without a tolerance a candidate that
 * beats the champion by exactly the margin, or sits exactly on a bound, could fail.
 */
const TOLERANCE = 1e-9;

export interface PolicyFacts {
  /** The candidate version's metrics. */
  metrics: Record<string, number>;
  /** The current champion's metrics; null or absent when there is no champion yet. */
  championMetrics?: Record<string, number> | null;
  fairness?: Record<string, number>;
  /** Names of the validation suites with a passing report for the candidate. */
  passedValidations: string[];
}

export type CheckKind = "metric" | "champion" | "fairness" | "validation";

export interface PolicyCheck {
  kind: CheckKind;
  /** The metric or suite name. */
  name: string;
  passed: boolean;
  /** The candidate's value; null when missing and for validations. */
  observed: number | null;
  /** The condition, readable: `>= 0.8`, `at least 0.01 above the champion's 0.82`, `a passing report`. */
  expected: string;
  reason: string;
}

export type PolicyDecision = "REJECT" | "APPROVE" | "REQUEST_APPROVAL";

export interface PolicyEvaluation {
  passed: boolean;
  checks: PolicyCheck[];
  decision: PolicyDecision;
}

/** The value of `key` if it is a finite number; a NaN or Infinity metric is as good as missing. */
function valueOf(record: Record<string, number> | null | undefined, key: string): number | null {
  if (!record || !Object.prototype.hasOwnProperty.call(record, key)) return null;
  const v = record[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function boundsCheck(
  kind: "metric" | "fairness",
  rule: { metric: string; min?: number; max?: number },
  source: Record<string, number> | undefined,
): PolicyCheck {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  const expected = parts.join(" and ");
  const observed = valueOf(source, rule.metric);
  const base = { kind, name: rule.metric, observed, expected };
  const what = kind === "fairness" ? "fairness metric" : "metric";
  if (observed === null) return { ...base, passed: false, reason: `the ${what} ${rule.metric} was not reported for this version` };
  if (rule.min !== undefined && observed < rule.min - TOLERANCE)
    return { ...base, passed: false, reason: `${rule.metric} is ${observed}, below the minimum ${rule.min}` };
  if (rule.max !== undefined && observed > rule.max + TOLERANCE)
    return { ...base, passed: false, reason: `${rule.metric} is ${observed}, above the maximum ${rule.max}` };
  return { ...base, passed: true, reason: `${rule.metric} is ${observed}, within ${expected}` };
}

function championCheck(rule: MetricRule & { beatsChampionBy: number }, facts: PolicyFacts): PolicyCheck {
  const lower = isLowerBetter(rule.metric);
  const direction = lower ? "below" : "above";
  const observed = valueOf(facts.metrics, rule.metric);
  const base = { kind: "champion" as const, name: rule.metric, observed };
  const margin = rule.beatsChampionBy;
  if (!facts.championMetrics) {
    return { ...base, expected: `at least ${margin} ${direction} the champion's`, passed: true, reason: "no champion yet" };
  }
  const champion = valueOf(facts.championMetrics, rule.metric);
  if (champion === null) {
    // Fails open on purpose: the champion's metrics are fixed when it is registered, so failing here
    // would reject every candidate until someone replaced the champion by hand. The reason says so.
    return {
      ...base,
      expected: `at least ${margin} ${direction} the champion's`,
      passed: true,
      reason: `the champion has no ${rule.metric} to compare with`,
    };
  }
  const expected = `at least ${margin} ${direction} the champion's ${champion}`;
  if (observed === null) return { ...base, expected, passed: false, reason: `the metric ${rule.metric} was not reported for this version` };
  // Positive when the candidate is better, whichever way "better" points for this metric.
  const improvement = lower ? champion - observed : observed - champion;
  const passed = improvement >= margin - TOLERANCE;
  const reason = passed
    ? `${rule.metric} is ${observed}, ${direction} the champion's ${champion} by at least ${margin}`
    : `${rule.metric} is ${observed}; it must be at least ${margin} ${direction} the champion's ${champion}${lower ? " (lower is better)" : ""}`;
  return { ...base, expected, passed, reason };
}

/**
 * Runs the policy's automatic checks on a newly registered version, in policy order: each metric
 * rule's bounds then its champion comparison, then fairness, then required validations.
 * Any failed check rejects; otherwise the version is approved outright when no human approval is
 * required, and an approval request opens when one is.
 */
export function evaluatePolicy(policy: Policy, facts: PolicyFacts): PolicyEvaluation {
  const checks: PolicyCheck[] = [];
  for (const rule of policy.metrics) {
    if (rule.min !== undefined || rule.max !== undefined) checks.push(boundsCheck("metric", rule, facts.metrics));
    if (rule.beatsChampionBy !== undefined) checks.push(championCheck({ ...rule, beatsChampionBy: rule.beatsChampionBy }, facts));
  }
  for (const rule of policy.fairness) checks.push(boundsCheck("fairness", rule, facts.fairness));
  const passedValidations = new Set(facts.passedValidations);
  for (const suite of policy.requiredValidations) {
    const passed = passedValidations.has(suite);
    checks.push({
      kind: "validation",
      name: suite,
      passed,
      observed: null,
      expected: "a passing report",
      reason: passed ? `suite ${suite} has a passing report` : `suite ${suite} has no passing report for this version`,
    });
  }
  const passed = checks.every((c) => c.passed);
  const decision: PolicyDecision = !passed ? "REJECT" : policy.approvals.required === 0 ? "APPROVE" : "REQUEST_APPROVAL";
  return { passed, checks, decision };
}

// ---------------------------------------------------------------------------------------------
// Approvals

export type ApprovalEligibility = { ok: true } | { ok: false; rule: "SEPARATION_OF_DUTIES" | "ONE_APPROVAL_PER_PERSON"; reason: string };

/**
 * Whether `approverId` may add an approval to a request. `createdBy` is whoever triggered the
 * training run; null when no person did (a schedule or trigger), which no approver can clash with.
 */
export function canApprove(args: {
  policy: Policy;
  approverId: string;
  createdBy: string | null;
  alreadyApprovedBy: string[];
}): ApprovalEligibility {
  const { policy, approverId, createdBy, alreadyApprovedBy } = args;
  if (policy.approvals.separationOfDuties && createdBy !== null && approverId === createdBy) {
    return {
      ok: false,
      rule: "SEPARATION_OF_DUTIES",
      reason: `separation of duties: ${approverId} triggered the training run and cannot approve it`,
    };
  }
  // Counting one person twice would let a single approver meet a requirement of two.
  if (alreadyApprovedBy.includes(approverId)) {
    return { ok: false, rule: "ONE_APPROVAL_PER_PERSON", reason: `${approverId} has already approved this version` };
  }
  return { ok: true };
}

/** Whether `approvals` distinct approvals meet the policy. */
export function approvalsSatisfied(policy: Policy, approvals: number): boolean {
  return approvals >= policy.approvals.required;
}

/** When a request opened at `openedAt` lapses; null when the policy sets no expiry. */
export function expiresAt(policy: Policy, openedAt: Date): Date | null {
  const hours = policy.approvals.expiresAfterHours;
  if (hours === undefined) return null;
  return new Date(openedAt.getTime() + hours * 3_600_000);
}

// ---------------------------------------------------------------------------------------------
// What an open request waits for

/**
 * Whether the caller may approve a version they requested themselves, overriding separation of
 * duties: only an ADMIN, only when they asked for it explicitly, and only when nobody else could
 * approve (no other principal holds APPROVER or ADMIN in the project or globally). A lone admin's
 * first gated run would otherwise wait forever; with a second approver, four eyes stay required.
 */
export function selfApprovalAllowed(args: { isAdmin: boolean; otherApprovers: number }): { ok: true } | { ok: false; reason: string } {
  if (!args.isAdmin) return { ok: false, reason: "only an ADMIN may approve their own version, and only as the sole approver" };
  if (args.otherApprovers > 0) {
    return {
      ok: false,
      reason: `${args.otherApprovers} other principal(s) may approve in this project; one of them must (self-approval is for a server with a single approver)`,
    };
  }
  return { ok: true };
}

/**
 * What an OPEN request still needs, in words, one line per missing thing: how many more approvals,
 * and from whom (not the requester when the policy separates duties; not those who already
 * approved), and when it lapses. `requester` and `approvedBy` are display names.
 */
export function missingForApproval(args: {
  policy: Policy;
  requester: string | null;
  approvedBy: string[];
  otherApprovers: number;
  expiresAt: Date | null;
}): string[] {
  const { policy, requester, approvedBy, otherApprovers, expiresAt: lapses } = args;
  const remaining = Math.max(0, policy.approvals.required - approvedBy.length);
  const lines: string[] = [];
  if (remaining > 0) {
    const excluded = [...(policy.approvals.separationOfDuties && requester ? [requester] : []), ...approvedBy];
    const who = excluded.length > 0 ? ` by someone other than ${[...new Set(excluded)].join(", ")}` : "";
    const so = approvedBy.length > 0 ? ` (${approvedBy.length} of ${policy.approvals.required} so far)` : "";
    lines.push(`needs ${remaining} more approval${remaining === 1 ? "" : "s"}${who}${so}`);
    if (policy.approvals.separationOfDuties && requester) {
      lines.push(
        otherApprovers === 0
          ? `no one but ${requester} may approve in this project: grant APPROVER to a second person, or as the sole ADMIN approve it yourself with an explicit self-approval`
          : `separation of duties: ${requester} requested it and cannot approve it; ${otherApprovers} other principal(s) may`,
      );
    }
  }
  if (lapses) lines.push(`expires at ${lapses.toISOString()}`);
  return lines;
}
