import type { EntityManager } from "typeorm";
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from "../kernel/errors";
import { type MutationTx } from "../kernel/mutation";
import { AlreadyDecidedError, SeparationOfDutiesError } from "./governance.errors";
import { runSystemChange } from "../events/system-change";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import type { JsonObject } from "../db/json";
import type { EventBus } from "../events/event-bus";
import type { EventDraft } from "../events/event.store";
import { lockWritableProject } from "../projects";
import { ModelVersionRow, RegisteredModelRow } from "../registry";
import { ApprovalDecisionRow, ApprovalRequestRow, type ApprovalRequestStatus, type ApprovalVerdict } from "./approval-request.entity";
import {
  type Policy,
  type PolicyEvaluation,
  type PolicyFacts,
  approvalsSatisfied,
  canApprove,
  evaluatePolicy,
  expiresAt,
  missingForApproval,
  selfApprovalAllowed,
  validatePolicy,
} from "./policy";

export const GovernanceEvents = {
  policySet: "model.policy.set",
  requested: "approval.requested",
  /** An approval was added but more are needed. */
  approvalAdded: "approval.approval_added",
  decided: "approval.decided",
  expired: "approval.expired",
} as const;

export const APPROVAL_EVENT_TYPES: string[] = [
  GovernanceEvents.requested,
  GovernanceEvents.approvalAdded,
  GovernanceEvents.decided,
  GovernanceEvents.expired,
];

/**
 * What applies to a model without a policy of its own: nothing reaches production unseen, so one
 * person other than whoever trained it must approve. Set a policy with `approvals.required: 0`
 * to approve automatically.
 */
export const DEFAULT_POLICY: Policy = Object.freeze({
  metrics: [],
  fairness: [],
  requiredValidations: [],
  approvals: { required: 1, separationOfDuties: true },
}) as Policy;

const COMMENT_MAX = 4000;

type Tx = { manager: EntityManager; emit(event: EventDraft): void };

/** What a gate stage waits for: its version's OPEN request and what that request still needs. */
export interface GateWaitView {
  request: ApprovalRequestRow;
  modelName: string;
  version: number;
  /** The requester's display name, or null when no person triggered the run. */
  requestedByName: string | null;
  /** Display names of those who approved so far. */
  approvedBy: string[];
  /** Principals other than the requester who may approve in the project. */
  otherApprovers: number;
  /** What is missing, one line each (empty once the request is decided). */
  missing: string[];
  /** Separation of duties holds and nobody but the requester may approve: only their self-approval can pass it. */
  onlyRequesterCanApprove: boolean;
}

/** How an approver decides: `selfApproval` asks to override separation of duties (see `selfApprovalAllowed`). */
export interface DecideOptions {
  selfApproval?: boolean;
  /** Whether the caller holds ADMIN in the request's project (the resolver knows the grants). */
  callerIsAdmin?: boolean;
}

/**
 * Model governance: each registered model's policy, and each version's approval request —
 * opened at registration after the policy's automatic checks, decided by the checks themselves
 * or by approvers, or expired by the clock. A version's status follows its request's outcome.
 * The rules themselves are pure, in `policy.ts`; this service gathers the facts and records.
 */
export class GovernanceService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
  ) {}

  /** Sets (or, with null, removes) a registered model's policy; versions already judged keep theirs. */
  async setPolicy(tx: MutationTx, registeredModelId: string, input: unknown): Promise<RegisteredModelRow> {
    const model = await tx.manager.findOne(RegisteredModelRow, { where: { id: registeredModelId }, lock: { mode: "pessimistic_write" } });
    if (!model) throw new NotFoundError("RegisteredModel", registeredModelId);
    await lockWritableProject(tx.manager, model.projectId);
    const policy = input === null ? null : validatePolicy(input);
    await tx.manager.update(RegisteredModelRow, { id: model.id }, { policy: policy as unknown as JsonObject });
    tx.emit({
      type: GovernanceEvents.policySet,
      projectId: model.projectId,
      subjectId: model.id,
      payload: { registeredModelId: model.id, name: model.name, policy: policy as unknown as JsonObject },
    });
    return (await tx.manager.findOneByOrFail(RegisteredModelRow, { id: model.id }))!;
  }

  /** The policy in force for a model: its own, or the default. */
  static policyOf(model: RegisteredModelRow): { policy: Policy; isDefault: boolean } {
    return model.policy ? { policy: validatePolicy(model.policy), isDefault: false } : { policy: DEFAULT_POLICY, isDefault: true };
  }

  /**
   * A version was just registered (same transaction): runs the policy's automatic checks and
   * records the outcome — REJECTED with the failed checks, APPROVED when no person need decide,
   * or an OPEN request for approvers. The version's status follows.
   */
  async onVersionRegistered(tx: Tx, version: ModelVersionRow, model: RegisteredModelRow, now = new Date()): Promise<ApprovalRequestRow> {
    const { policy, isDefault } = GovernanceService.policyOf(model);
    const facts = await this.factsFor(tx.manager, version);
    const evaluation = evaluatePolicy(policy, facts);
    const status: ApprovalRequestStatus =
      evaluation.decision === "REJECT" ? "REJECTED" : evaluation.decision === "APPROVE" ? "APPROVED" : "OPEN";
    const decided = status !== "OPEN";
    const request = await tx.manager.save(
      tx.manager.create(ApprovalRequestRow, {
        projectId: version.projectId,
        registeredModelId: model.id,
        modelVersionId: version.id,
        status,
        policy: policy as unknown as JsonObject,
        policyIsDefault: isDefault,
        checks: evaluation.checks as unknown as JsonObject[],
        requiredApprovals: policy.approvals.required,
        requestedBy: version.createdBy,
        expiresAt: decided ? null : expiresAt(policy, now),
        reason: reasonOf(evaluation),
        decidedAt: decided ? now : null,
        decidedBy: null,
      }),
    );
    if (decided) await this.setVersionStatus(tx.manager, version, status === "APPROVED" ? "APPROVED" : "REJECTED");
    tx.emit(this.event(decided ? GovernanceEvents.decided : GovernanceEvents.requested, request, model, version, { automatic: decided }));
    return request;
  }

  /**
   * An approver's decision. An approval counts once per person and never from whoever trained
   * the version when the policy separates duties; enough approvals approve the version, one
   * rejection rejects it. Either is final: a decided or expired request takes no more decisions.
   */
  async decide(
    tx: MutationTx,
    versionId: string,
    verdict: ApprovalVerdict,
    comment: string,
    options: DecideOptions = {},
    now = new Date(),
  ): Promise<{ request: ApprovalRequestRow; version: ModelVersionRow; selfApproved: boolean }> {
    const text = (comment ?? "").trim();
    if (text === "") throw new InvalidInputError([{ field: "comment", message: "is required: say why" }]);
    if (text.length > COMMENT_MAX) throw new InvalidInputError([{ field: "comment", message: `is over ${COMMENT_MAX} characters` }]);
    const version = await tx.manager.findOneBy(ModelVersionRow, { id: versionId });
    if (!version) throw new NotFoundError("ModelVersion", versionId);
    // The request row is the lock every decision on this version queues behind.
    const request = await tx.manager.findOne(ApprovalRequestRow, {
      where: { modelVersionId: versionId },
      lock: { mode: "pessimistic_write" },
    });
    if (!request) throw new NotFoundError("ApprovalRequest for ModelVersion", versionId);
    if (request.status !== "OPEN") {
      throw new AlreadyDecidedError(
        `The approval request of version ${version.version} is already ${request.status}${request.decidedAt ? ` (since ${request.decidedAt.toISOString()})` : ""}; a decision is final`,
        request.id,
        request.status,
        request.decidedAt,
        false,
      );
    }
    if (request.expiresAt && request.expiresAt.getTime() <= now.getTime()) {
      throw new AlreadyDecidedError(
        `The approval request of version ${version.version} expired at ${request.expiresAt.toISOString()}`,
        request.id,
        "EXPIRED",
        request.expiresAt,
        false,
      );
    }
    if (version.status === "ARCHIVED") throw new ConflictError(`Version ${version.version} is archived`, { status: version.status });
    const approverId = tx.caller.principalId;
    const earlier = await tx.manager.findBy(ApprovalDecisionRow, { requestId: request.id });
    if (earlier.some((d) => d.principalId === approverId)) {
      throw new AlreadyDecidedError(
        `${tx.caller.principalName} has already decided on this request; a decision is final`,
        request.id,
        request.status,
        null,
        true,
      );
    }
    const policy = validatePolicy(request.policy);
    let selfApproved = false;
    if (verdict === "APPROVE") {
      const eligible = canApprove({
        policy,
        approverId,
        createdBy: request.requestedBy,
        alreadyApprovedBy: earlier.filter((d) => d.verdict === "APPROVE").map((d) => d.principalId),
      });
      if (!eligible.ok && eligible.rule === "SEPARATION_OF_DUTIES") {
        const others = await otherApprovers(tx.manager, request.projectId, approverId);
        const override = options.selfApproval
          ? selfApprovalAllowed({ isAdmin: options.callerIsAdmin === true, otherApprovers: others })
          : { ok: false as const, reason: null };
        if (!override.ok) throw new SeparationOfDutiesError(request.id, version.id, tx.caller.principalName, others, override.reason);
        selfApproved = true;
      } else if (!eligible.ok) throw new ForbiddenError(eligible.reason.replace(approverId, tx.caller.principalName));
    }
    await tx.manager.save(
      tx.manager.create(ApprovalDecisionRow, {
        requestId: request.id,
        principalId: approverId,
        verdict,
        comment: text,
        selfApproval: selfApproved,
      }),
    );
    const model = await tx.manager.findOneByOrFail(RegisteredModelRow, { id: request.registeredModelId });
    const approvals = earlier.filter((d) => d.verdict === "APPROVE").length + (verdict === "APPROVE" ? 1 : 0);
    if (verdict === "APPROVE" && !approvalsSatisfied(policy, approvals)) {
      tx.emit(
        this.event(GovernanceEvents.approvalAdded, request, model, version, { approvals, by: approverId, comment: text, selfApproved }),
      );
      return { request, version, selfApproved };
    }
    const status = verdict === "APPROVE" ? "APPROVED" : "REJECTED";
    Object.assign(request, {
      status,
      decidedAt: now,
      decidedBy: approverId,
      reason:
        verdict === "REJECT"
          ? `rejected by ${tx.caller.principalName}: ${text}`
          : selfApproved
            ? `self-approved by ${tx.caller.principalName}, the sole approver (separation of duties overridden): ${text}`
            : `approved by ${tx.caller.principalName}: ${text}`,
    });
    await tx.manager.save(request);
    await this.setVersionStatus(tx.manager, version, status);
    tx.emit(
      this.event(GovernanceEvents.decided, request, model, version, {
        automatic: false,
        decision: status,
        by: approverId,
        comment: text,
        selfApproved,
      }),
    );
    return { request, version, selfApproved };
  }

  /**
   * Open requests past their expiry lapse: EXPIRED, and their versions REJECTED, since nobody
   * approved them in time. Returns the ids expired. Safe to run on every server at once.
   */
  async expireOverdue(now = new Date()): Promise<string[]> {
    const due: Array<{ id: string }> = await this.db.dataSource.query(
      `SELECT id FROM approval_requests WHERE status = 'OPEN' AND expires_at <= $1 ORDER BY expires_at LIMIT 100`,
      [now],
    );
    const expired: string[] = [];
    for (const { id } of due) {
      await runSystemChange({ db: this.db, events: this.events }, async (tx) => {
        const request = await tx.manager.findOne(ApprovalRequestRow, { where: { id }, lock: { mode: "pessimistic_write" } });
        if (!request || request.status !== "OPEN" || !request.expiresAt || request.expiresAt.getTime() > now.getTime()) return;
        Object.assign(request, {
          status: "EXPIRED",
          decidedAt: now,
          reason: `no decision by ${request.expiresAt.toISOString()} (${request.requiredApprovals} approval(s) were needed)`,
        });
        await tx.manager.save(request);
        const version = await tx.manager.findOneByOrFail(ModelVersionRow, { id: request.modelVersionId });
        if (version.status === "PENDING_APPROVAL") await this.setVersionStatus(tx.manager, version, "REJECTED");
        const model = await tx.manager.findOneByOrFail(RegisteredModelRow, { id: request.registeredModelId });
        tx.emit(this.event(GovernanceEvents.expired, request, model, version, {}));
        expired.push(id);
      });
    }
    return expired;
  }

  /** The facts the policy judges: the version's metrics, the champion's, fairness, validations. */
  private async factsFor(manager: EntityManager, version: ModelVersionRow): Promise<PolicyFacts> {
    const [champion]: Array<{ metrics: Record<string, number> }> = await manager.query(
      `SELECT v.metrics FROM model_aliases a JOIN model_versions v ON v.id = a.version_id
        WHERE a.registered_model_id = $1 AND a.alias = 'champion' AND v.id <> $2`,
      [version.registeredModelId, version.id],
    );
    // Fairness metrics live in the version's latest evaluation report (linked at registration).
    const [report]: Array<{ metrics: Record<string, number> }> = await manager.query(
      `SELECT metrics FROM evaluation_reports WHERE model_version_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`,
      [version.id],
    );
    const datasetVersionIds = Array.isArray(version.lineage.datasetVersionIds) ? (version.lineage.datasetVersionIds as string[]) : [];
    const passed: Array<{ suite_name: string }> = datasetVersionIds.length
      ? await manager.query(
          `SELECT DISTINCT suite_name FROM validation_reports WHERE success AND dataset_version_id = ANY($1::uuid[]) ORDER BY 1`,
          [datasetVersionIds],
        )
      : [];
    return {
      metrics: version.metrics,
      championMetrics: champion?.metrics ?? null,
      fairness: { ...(report?.metrics ?? {}) },
      passedValidations: passed.map((p) => p.suite_name),
    };
  }

  private async setVersionStatus(manager: EntityManager, version: ModelVersionRow, status: "APPROVED" | "REJECTED"): Promise<void> {
    await manager.update(ModelVersionRow, { id: version.id }, { status });
    version.status = status;
  }

  private event(
    type: string,
    request: ApprovalRequestRow,
    model: RegisteredModelRow,
    version: ModelVersionRow,
    extra: Record<string, unknown>,
  ): EventDraft {
    return {
      type,
      projectId: request.projectId,
      subjectId: request.id,
      payload: {
        requestId: request.id,
        registeredModelId: model.id,
        name: model.name,
        versionId: version.id,
        version: version.version,
        status: request.status,
        requiredApprovals: request.requiredApprovals,
        reason: request.reason,
        ...extra,
      },
    };
  }

  // -- reads

  async request(id: string): Promise<ApprovalRequestRow | null> {
    return this.db.dataSource.getRepository(ApprovalRequestRow).findOneBy({ id });
  }

  async requestForVersion(versionId: string): Promise<ApprovalRequestRow | null> {
    return this.db.dataSource.getRepository(ApprovalRequestRow).findOneBy({ modelVersionId: versionId });
  }

  /** What the gate `stageRunId` waits for; null when it is no gate or has not registered its version yet. */
  async gateWait(stageRunId: string): Promise<GateWaitView | null> {
    const manager = this.db.dataSource.manager;
    const [row]: Array<{ request_id: string; model_name: string; version: number; requester: string | null }> = await manager.query(
      `SELECT q.id AS request_id, m.name AS model_name, v.version, p.name AS requester
         FROM gate_waits g JOIN approval_requests q ON q.id = g.request_id
         JOIN model_versions v ON v.id = q.model_version_id JOIN registered_models m ON m.id = q.registered_model_id
         LEFT JOIN principals p ON p.id = q.requested_by
        WHERE g.stage_run_id = $1`,
      [stageRunId],
    );
    if (!row) return null;
    const request = await manager.findOneByOrFail(ApprovalRequestRow, { id: row.request_id });
    const approved: Array<{ name: string }> = await manager.query(
      `SELECT coalesce(p.name, d.principal_id::text) AS name FROM approval_decisions d LEFT JOIN principals p ON p.id = d.principal_id
        WHERE d.request_id = $1 AND d.verdict = 'APPROVE' ORDER BY d.created_at, d.id`,
      [request.id],
    );
    const others = request.requestedBy ? await otherApprovers(manager, request.projectId, request.requestedBy) : 0;
    const approvedBy = approved.map((a) => a.name);
    const requester = request.requestedBy ? (row.requester ?? request.requestedBy) : null;
    const policy = validatePolicy(request.policy);
    const open = request.status === "OPEN";
    return {
      request,
      modelName: row.model_name,
      version: row.version,
      requestedByName: requester,
      approvedBy,
      otherApprovers: others,
      missing: open ? missingForApproval({ policy, requester, approvedBy, otherApprovers: others, expiresAt: request.expiresAt }) : [],
      onlyRequesterCanApprove: open && policy.approvals.separationOfDuties && requester !== null && others === 0,
    };
  }

  async decisions(requestId: string): Promise<ApprovalDecisionRow[]> {
    return this.db.dataSource.getRepository(ApprovalDecisionRow).find({ where: { requestId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  async requests(
    filter: { projectIds: "all" | string[]; status?: ApprovalRequestStatus; registeredModelId?: string },
    page: PageArgs,
    sort: SortSpec<ApprovalRequestRow>,
  ): Promise<Page<ApprovalRequestRow>> {
    const qb = this.db.dataSource.getRepository(ApprovalRequestRow).createQueryBuilder("r");
    if (filter.projectIds !== "all") {
      if (filter.projectIds.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("r.projectId IN (:...ids)", { ids: filter.projectIds });
    }
    if (filter.status) qb.andWhere("r.status = :s", { s: filter.status });
    if (filter.registeredModelId) qb.andWhere("r.registeredModelId = :m", { m: filter.registeredModelId });
    return paginate(qb, page, sort);
  }
}

/**
 * How many principals other than `principalId` may approve in the project: those holding APPROVER
 * or ADMIN there or globally. Zero means a lone approver, the one case self-approval is allowed.
 */
async function otherApprovers(manager: EntityManager, projectId: string, principalId: string): Promise<number> {
  const [{ n }]: Array<{ n: number | string }> = await manager.query(
    `SELECT count(DISTINCT principal_id) AS n FROM role_bindings
      WHERE role IN ('APPROVER', 'ADMIN') AND (project_id IS NULL OR project_id = $1) AND principal_id <> $2`,
    [projectId, principalId],
  );
  return Number(n);
}

/** The failed checks, or a line saying what happens next. */
function reasonOf(evaluation: PolicyEvaluation): string {
  if (evaluation.decision === "REJECT") {
    return `automatic checks failed: ${evaluation.checks
      .filter((c) => !c.passed)
      .map((c) => c.reason)
      .join("; ")}`;
  }
  if (evaluation.decision === "APPROVE") return "passed every automatic check; the policy needs no human approval";
  return "passed every automatic check; waiting for approvers";
}
