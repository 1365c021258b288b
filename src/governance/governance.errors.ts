import { ConflictError, ForbiddenError } from "../kernel/errors";

/**
 * The approver triggered the training run of the version, and the model's policy separates
 * duties: someone else must approve it. Still FORBIDDEN (audited as a denial); mutations that
 * decide approvals answer it as the `SeparationOfDutiesError` member.
 */
export class SeparationOfDutiesError extends ForbiddenError {
  constructor(
    readonly approvalRequestId: string,
    readonly modelVersionId: string,
    readonly approverName: string,
    /** Principals other than the approver who may approve in the project. */
    readonly otherApprovers: number,
    /** Why an asked-for self-approval was refused; null when none was asked for. */
    readonly selfApprovalRefused: string | null = null,
  ) {
    super(
      `separation of duties: ${approverName} triggered the training run and cannot approve it` +
        (selfApprovalRefused
          ? `; self-approval refused: ${selfApprovalRefused}`
          : otherApprovers === 0
            ? "; no one else may approve in this project: grant APPROVER to a second person, or, as its sole ADMIN, approve with selfApproval: true"
            : `; ask one of the ${otherApprovers} other principal(s) who may approve`),
    );
    this.name = "SeparationOfDutiesError";
  }
}

/**
 * A decision on an approval request that takes no more: it is already APPROVED, REJECTED or
 * EXPIRED, or the caller already decided on it (a decision is final and counts once).
 */
export class AlreadyDecidedError extends ConflictError {
  constructor(
    message: string,
    readonly approvalRequestId: string,
    readonly status: string,
    readonly decidedAt: Date | null,
    readonly byCaller: boolean,
  ) {
    super(message, { requestId: approvalRequestId, status });
    this.name = "AlreadyDecidedError";
  }
}
