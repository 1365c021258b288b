/**
 * What a gate stage waits for, as the client commands show it: the model version under review,
 * what its approval request still needs (the server's words, `StageRun.approvalWait.missing`),
 * and the exact `sluice approve` / `sluice reject` commands that decide it.
 */

/** `StageRun.approvalWait` as the commands select it. */
export interface ApprovalWaitSummary {
  approvalRequestId: string;
  status: string;
  modelName: string;
  version: number;
  missing: string[];
  onlyRequesterCanApprove: boolean;
  requestedBy: string | null;
}

export const APPROVAL_WAIT_FIELDS = `approvalWait { approvalRequestId status modelName version missing onlyRequesterCanApprove requestedBy }`;

/** Quotes a shell word only when it needs it (model names are plain: `[a-z0-9_.-]`). */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_.:/@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `sluice approve flight-delays 3 --reason "…"`, with `--project` when the user gave one on the
 * command line (an environment variable they set carries over by itself).
 */
export function decideCommand(
  verb: "approve" | "reject",
  wait: Pick<ApprovalWaitSummary, "modelName" | "version">,
  project?: string,
): string {
  const parts = ["sluice", verb, shellWord(wait.modelName), String(wait.version)];
  if (project) parts.push("--project", shellWord(project));
  parts.push("--reason", '"…"');
  return parts.join(" ");
}

/** `approval of flight-delays v3: needs 1 more approval by someone other than alice` */
export function waitingSummary(wait: ApprovalWaitSummary): string {
  const what = `approval of ${wait.modelName} v${wait.version}`;
  return wait.missing.length > 0 ? `${what}: ${wait.missing[0]}` : what;
}

/**
 * The lines under a waiting gate: what it needs, in full, then how to decide it. A sole approver
 * who requested it is told about `--self-approve` (the server says when that applies).
 */
export function waitingLines(wait: ApprovalWaitSummary, project?: string): string[] {
  const lines = [`waits for approval of ${wait.modelName} v${wait.version} (request ${wait.approvalRequestId})`];
  for (const m of wait.missing) lines.push(`  ${m}`);
  const self = wait.onlyRequesterCanApprove ? " --self-approve" : "";
  lines.push(`  approve: ${decideCommand("approve", wait, project)}${self}`);
  lines.push(`  reject:  ${decideCommand("reject", wait, project)}`);
  return lines;
}
