import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidInputError, type InputProblem } from "../../src/kernel/errors";
import {
  approvalsSatisfied,
  canApprove,
  evaluatePolicy,
  expiresAt,
  isLowerBetter,
  missingForApproval,
  selfApprovalAllowed,
  validatePolicy,
  type Policy,
  type PolicyFacts,
} from "../../src/governance/policy";

function problemsOf(input: unknown): InputProblem[] {
  try {
    validatePolicy(input);
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, `expected InvalidInputError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail("the policy was accepted");
}

const facts = (over: Partial<PolicyFacts> = {}): PolicyFacts => ({ metrics: {}, passedValidations: [], ...over });

const policy = (over: Partial<Policy> = {}): Policy => validatePolicy({ approvals: { required: 0 }, ...over } as unknown);

describe("validatePolicy", () => {
  test("fills in defaults and copies the input", () => {
    const input = { approvals: { required: 2 } };
    const p = validatePolicy(input);
    assert.deepEqual(p, { metrics: [], fairness: [], requiredValidations: [], approvals: { required: 2, separationOfDuties: true } });
    assert.deepEqual(input, { approvals: { required: 2 } }, "the input is not mutated");
  });

  test("keeps every field of a full policy", () => {
    const full = {
      metrics: [
        { metric: "auc", min: 0.8, beatsChampionBy: 0.01 },
        { metric: "log_loss", max: 0.5 },
      ],
      fairness: [{ metric: "demographic_parity_difference", max: 0.1 }],
      requiredValidations: ["holdout"],
      approvals: { required: 0, separationOfDuties: false, expiresAfterHours: 48 },
    };
    assert.deepEqual(validatePolicy(full), full);
  });

  test("names each bad field", () => {
    assert.deepEqual(
      problemsOf({
        metrics: [{ metric: "auc", min: 0.5 }, { metric: "f1", min: "high" }, { metric: "" }, { metric: "acc", beatsChampionBy: -1 }],
        fairness: [{ metric: "eo", color: 1 }],
        requiredValidations: [3],
        approvals: { required: 11, separationOfDuties: "yes", expiresAfterHours: 0 },
      }),
      [
        { field: "metrics[1].min", message: "must be a number" },
        { field: "metrics[2].metric", message: "must NOT have fewer than 1 characters" },
        { field: "metrics[3].beatsChampionBy", message: "must be at least 0" },
        { field: "fairness[0].color", message: "is not a field of a fairness rule; the fields are metric, min, max" },
        { field: "requiredValidations[0]", message: "must be a string" },
        { field: "approvals.required", message: "must be in 0..10" },
        { field: "approvals.separationOfDuties", message: "must be true or false" },
        { field: "approvals.expiresAfterHours", message: "must be greater than 0" },
      ],
    );
  });

  test("requires approvals and an integer count", () => {
    assert.deepEqual(problemsOf({}), [{ field: "approvals", message: "is required" }]);
    assert.deepEqual(problemsOf({ approvals: {} }), [{ field: "approvals.required", message: "is required" }]);
    assert.deepEqual(problemsOf({ approvals: { required: 1.5 } }), [{ field: "approvals.required", message: "must be an integer" }]);
    assert.deepEqual(problemsOf({ approvals: { required: -1 } }), [{ field: "approvals.required", message: "must be in 0..10" }]);
    assert.deepEqual(problemsOf(null), [{ field: "policy", message: "must be an object" }]);
  });

  test("refuses rules that check nothing, crossed bounds, repeats and non-finite numbers", () => {
    assert.deepEqual(
      problemsOf({
        metrics: [{ metric: "auc" }, { metric: "f1", min: 0.9, max: 0.8 }, { metric: "auc", min: 0.1 }],
        fairness: [{ metric: "dpd" }],
        requiredValidations: ["a", "a"],
        approvals: { required: 1 },
      }),
      [
        { field: "metrics[0]", message: "needs min, max or beatsChampionBy" },
        { field: "metrics[1].max", message: "must be at least min (0.9)" },
        { field: "metrics[2].metric", message: 'repeats "auc" from index 0' },
        { field: "fairness[0]", message: "needs min, max or both" },
        { field: "requiredValidations[1]", message: 'repeats "a" from index 0' },
      ],
    );
    // JSON has no NaN: it becomes null, which is not a number.
    assert.deepEqual(problemsOf({ metrics: [{ metric: "auc", min: NaN }], approvals: { required: 0 } }), [
      { field: "metrics[0].min", message: "must be a number" },
    ]);
  });
});

describe("isLowerBetter", () => {
  test("knows losses and errors by name", () => {
    for (const m of ["log_loss", "brier_score", "rmse", "mae", "mape", "hinge_loss", "mean_squared_error", "RMSE"])
      assert.ok(isLowerBetter(m), m);
    for (const m of ["auc", "accuracy", "f1", "r2", "error_rate"]) assert.ok(!isLowerBetter(m), m);
  });
});

describe("evaluatePolicy", () => {
  test("metric bounds pass and fail, inclusively", () => {
    const p = policy({ metrics: [{ metric: "auc", min: 0.8, max: 0.99 }] });
    const ok = evaluatePolicy(p, facts({ metrics: { auc: 0.8 } }));
    assert.equal(ok.passed, true);
    assert.deepEqual(ok.checks, [
      {
        kind: "metric",
        name: "auc",
        passed: true,
        observed: 0.8,
        expected: ">= 0.8 and <= 0.99",
        reason: "auc is 0.8, within >= 0.8 and <= 0.99",
      },
    ]);
    const low = evaluatePolicy(p, facts({ metrics: { auc: 0.79 } }));
    assert.equal(low.decision, "REJECT");
    assert.equal(low.checks[0].reason, "auc is 0.79, below the minimum 0.8");
    const high = evaluatePolicy(p, facts({ metrics: { auc: 0.995 } }));
    assert.equal(high.checks[0].passed, false);
    assert.equal(high.checks[0].reason, "auc is 0.995, above the maximum 0.99");
  });

  test("a missing metric fails with a clear reason", () => {
    const p = policy({ metrics: [{ metric: "auc", min: 0.8, beatsChampionBy: 0 }] });
    const r = evaluatePolicy(p, facts({ metrics: { f1: 0.9, auc: NaN }, championMetrics: { auc: 0.7 } }));
    assert.equal(r.decision, "REJECT");
    assert.deepEqual(
      r.checks.map((c) => [c.kind, c.passed, c.observed, c.reason]),
      [
        ["metric", false, null, "the metric auc was not reported for this version"],
        ["champion", false, null, "the metric auc was not reported for this version"],
      ],
    );
  });

  test("beats the champion, higher is better", () => {
    const p = policy({ metrics: [{ metric: "auc", beatsChampionBy: 0.01 }] });
    // 0.83 - 0.82 is 0.00999… in floating point; exactly the margin must still pass.
    const exact = evaluatePolicy(p, facts({ metrics: { auc: 0.83 }, championMetrics: { auc: 0.82 } }));
    assert.equal(exact.passed, true);
    assert.deepEqual(exact.checks[0], {
      kind: "champion",
      name: "auc",
      passed: true,
      observed: 0.83,
      expected: "at least 0.01 above the champion's 0.82",
      reason: "auc is 0.83, above the champion's 0.82 by at least 0.01",
    });
    const short = evaluatePolicy(p, facts({ metrics: { auc: 0.825 }, championMetrics: { auc: 0.82 } }));
    assert.equal(short.decision, "REJECT");
    assert.equal(short.checks[0].reason, "auc is 0.825; it must be at least 0.01 above the champion's 0.82");
  });

  test("beats the champion, lower is better for losses and errors", () => {
    const p = policy({
      metrics: [
        { metric: "log_loss", beatsChampionBy: 0.02 },
        { metric: "val_error", beatsChampionBy: 0 },
      ],
    });
    const better = evaluatePolicy(
      p,
      facts({ metrics: { log_loss: 0.3, val_error: 0.1 }, championMetrics: { log_loss: 0.32, val_error: 0.1 } }),
    );
    assert.equal(better.passed, true, JSON.stringify(better.checks));
    assert.equal(better.checks[0].expected, "at least 0.02 below the champion's 0.32");
    // A higher loss is worse, however much higher.
    const worse = evaluatePolicy(
      p,
      facts({ metrics: { log_loss: 0.4, val_error: 0.11 }, championMetrics: { log_loss: 0.32, val_error: 0.1 } }),
    );
    assert.deepEqual(
      worse.checks.map((c) => [c.name, c.passed]),
      [
        ["log_loss", false],
        ["val_error", false],
      ],
    );
    assert.equal(worse.checks[0].reason, "log_loss is 0.4; it must be at least 0.02 below the champion's 0.32 (lower is better)");
  });

  test("beats the champion passes when there is no champion, or it lacks the metric", () => {
    const p = policy({ metrics: [{ metric: "auc", beatsChampionBy: 0.05 }] });
    for (const championMetrics of [undefined, null]) {
      const r = evaluatePolicy(p, facts({ metrics: { auc: 0.5 }, championMetrics }));
      assert.equal(r.passed, true);
      assert.equal(r.checks[0].reason, "no champion yet");
      assert.equal(r.checks[0].observed, 0.5);
    }
    const r = evaluatePolicy(p, facts({ metrics: { auc: 0.5 }, championMetrics: { f1: 0.9 } }));
    assert.equal(r.passed, true);
    assert.equal(r.checks[0].reason, "the champion has no auc to compare with");
  });

  test("fairness limits pass, fail and fail when missing", () => {
    const p = policy({
      fairness: [
        { metric: "demographic_parity_difference", max: 0.1 },
        { metric: "disparate_impact", min: 0.8 },
      ],
    });
    const ok = evaluatePolicy(p, facts({ fairness: { demographic_parity_difference: 0.05, disparate_impact: 0.9 } }));
    assert.equal(ok.passed, true);
    assert.deepEqual(
      ok.checks.map((c) => c.kind),
      ["fairness", "fairness"],
    );
    const bad = evaluatePolicy(p, facts({ fairness: { demographic_parity_difference: 0.2 } }));
    assert.deepEqual(
      bad.checks.map((c) => [c.passed, c.reason]),
      [
        [false, "demographic_parity_difference is 0.2, above the maximum 0.1"],
        [false, "the fairness metric disparate_impact was not reported for this version"],
      ],
    );
    assert.equal(evaluatePolicy(p, facts()).decision, "REJECT");
  });

  test("required validations need a passing report", () => {
    const p = policy({ requiredValidations: ["holdout", "schema"] });
    const r = evaluatePolicy(p, facts({ passedValidations: ["schema", "other"] }));
    assert.deepEqual(r.checks, [
      {
        kind: "validation",
        name: "holdout",
        passed: false,
        observed: null,
        expected: "a passing report",
        reason: "suite holdout has no passing report for this version",
      },
      {
        kind: "validation",
        name: "schema",
        passed: true,
        observed: null,
        expected: "a passing report",
        reason: "suite schema has a passing report",
      },
    ]);
    assert.equal(r.decision, "REJECT");
  });

  test("decision: approve with 0 required approvals, request with 2, reject on any failure", () => {
    const rules = { metrics: [{ metric: "auc", min: 0.8 }], requiredValidations: ["holdout"] };
    const good = facts({ metrics: { auc: 0.9 }, passedValidations: ["holdout"] });
    assert.equal(evaluatePolicy(validatePolicy({ ...rules, approvals: { required: 0 } }), good).decision, "APPROVE");
    const two = validatePolicy({ ...rules, approvals: { required: 2 } });
    assert.deepEqual([evaluatePolicy(two, good).passed, evaluatePolicy(two, good).decision], [true, "REQUEST_APPROVAL"]);
    assert.equal(evaluatePolicy(two, { ...good, passedValidations: [] }).decision, "REJECT");
    // A policy with no checks at all decides on approvals alone.
    assert.deepEqual(evaluatePolicy(policy(), facts()), { passed: true, checks: [], decision: "APPROVE" });
  });
});

describe("approvals", () => {
  const two = validatePolicy({ approvals: { required: 2 } });

  test("separation of duties: whoever triggered the run cannot approve it", () => {
    assert.deepEqual(canApprove({ policy: two, approverId: "ann", createdBy: "ann", alreadyApprovedBy: [] }), {
      ok: false,
      rule: "SEPARATION_OF_DUTIES",
      reason: "separation of duties: ann triggered the training run and cannot approve it",
    });
    assert.deepEqual(canApprove({ policy: two, approverId: "bob", createdBy: "ann", alreadyApprovedBy: [] }), { ok: true });
    // A run no person triggered clashes with no approver.
    assert.deepEqual(canApprove({ policy: two, approverId: "bob", createdBy: null, alreadyApprovedBy: [] }), { ok: true });
    const off = validatePolicy({ approvals: { required: 2, separationOfDuties: false } });
    assert.deepEqual(canApprove({ policy: off, approverId: "ann", createdBy: "ann", alreadyApprovedBy: [] }), { ok: true });
  });

  test("the same person cannot approve twice", () => {
    assert.deepEqual(canApprove({ policy: two, approverId: "bob", createdBy: "ann", alreadyApprovedBy: ["bob"] }), {
      ok: false,
      rule: "ONE_APPROVAL_PER_PERSON",
      reason: "bob has already approved this version",
    });
  });

  test("approvalsSatisfied counts against the requirement", () => {
    assert.equal(approvalsSatisfied(two, 1), false);
    assert.equal(approvalsSatisfied(two, 2), true);
    assert.equal(approvalsSatisfied(two, 3), true);
    assert.equal(approvalsSatisfied(validatePolicy({ approvals: { required: 0 } }), 0), true);
  });

  test("expiresAt adds the hours, or is null without an expiry", () => {
    const opened = new Date("2024-03-01T10:00:00Z");
    assert.equal(expiresAt(two, opened), null);
    const p = validatePolicy({ approvals: { required: 1, expiresAfterHours: 36 } });
    assert.equal(expiresAt(p, opened)?.toISOString(), "2024-03-02T22:00:00.000Z");
    const half = validatePolicy({ approvals: { required: 1, expiresAfterHours: 0.5 } });
    assert.equal(expiresAt(half, opened)?.toISOString(), "2024-03-01T10:30:00.000Z");
  });
});

describe("what an open request waits for, and self-approval", () => {
  const fourEyes = validatePolicy({ approvals: { required: 2, expiresAfterHours: 24 } });
  const noSeparation = validatePolicy({ approvals: { required: 1, separationOfDuties: false } });

  test("self-approval is only for an ADMIN who is the sole approver", () => {
    assert.deepEqual(selfApprovalAllowed({ isAdmin: true, otherApprovers: 0 }), { ok: true });
    const notAdmin = selfApprovalAllowed({ isAdmin: false, otherApprovers: 0 });
    assert.equal(notAdmin.ok, false);
    const others = selfApprovalAllowed({ isAdmin: true, otherApprovers: 2 });
    assert.equal(others.ok, false);
    assert.match(!others.ok ? others.reason : "", /^2 other principal\(s\) may approve/);
  });

  test("names how many approvals are missing, from whom, and when it lapses", () => {
    const lapses = new Date("2026-01-02T00:00:00Z");
    assert.deepEqual(
      missingForApproval({ policy: fourEyes, requester: "alice", approvedBy: ["bob"], otherApprovers: 3, expiresAt: lapses }),
      [
        "needs 1 more approval by someone other than alice, bob (1 of 2 so far)",
        "separation of duties: alice requested it and cannot approve it; 3 other principal(s) may",
        "expires at 2026-01-02T00:00:00.000Z",
      ],
    );
    const lone = missingForApproval({ policy: fourEyes, requester: "admin", approvedBy: [], otherApprovers: 0, expiresAt: null });
    assert.equal(lone[0], "needs 2 more approvals by someone other than admin");
    assert.match(lone[1]!, /^no one but admin may approve in this project: .*self-approval$/);
    assert.deepEqual(missingForApproval({ policy: noSeparation, requester: "alice", approvedBy: [], otherApprovers: 0, expiresAt: null }), [
      "needs 1 more approval",
    ]);
    // A schedule triggered it: nobody is excluded.
    assert.deepEqual(missingForApproval({ policy: fourEyes, requester: null, approvedBy: [], otherApprovers: 1, expiresAt: null }), [
      "needs 2 more approvals",
    ]);
  });
});
