import type { Command } from "commander";
import { CliError, ERROR_FIELDS, UsageError, connectionSettings, unwrap, type ConnectionFlags, type ResultUnion } from "./client";
import { commandAction, resolveProject, withClient, withConnectionOptions } from "./common";
import { colorStatus, styleFor } from "./format";
import type { SluiceClient } from "./client";

/**
 * `sluice approve` and `sluice reject`: decide a model version's approval request (what a `gate`
 * stage waits for) through `approveModelVersion` / `rejectModelVersion`, by model and version
 * number or by the request's id, with the reason the server requires.
 */

export interface DecideFlags extends ConnectionFlags {
  reason?: string;
  selfApprove?: boolean;
}

type Verb = "approve" | "reject";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerDecideCommands(program: Command): void {
  for (const verb of ["approve", "reject"] as const) {
    const command = withConnectionOptions(
      program
        .command(verb)
        .description(
          verb === "approve"
            ? "approve a model version awaiting approval (a waiting gate goes on): MODEL VERSION in the project, or an approval request id"
            : "reject a model version awaiting approval (a waiting gate fails): MODEL VERSION in the project, or an approval request id",
        )
        .argument("<model>", "the registered model's name, or an approval request id")
        .argument("[version]", "the version number (with a model name)")
        .requiredOption("-r, --reason <text>", "why (required; kept with the decision and in the audit log)"),
    );
    if (verb === "approve") {
      command.option(
        "--self-approve",
        "approve a version you requested yourself: only for an ADMIN who is the project's sole approver; recorded as a self-approval",
      );
    }
    command.action(
      commandAction((model: string, version: string | undefined, flags: DecideFlags) => decideCommand(verb, model, version, flags)),
    );
  }
}

/** The version a decision is about, as the arguments name it. */
interface Target {
  modelVersionId: string;
  modelName: string;
  version: number;
}

async function resolveTarget(client: SluiceClient, model: string, version: string | undefined): Promise<Target> {
  if (version === undefined) {
    if (!UUID.test(model)) throw new UsageError(`give MODEL VERSION (e.g. flight-delays 3) or an approval request id, not just "${model}"`);
    const res = await client.request<{
      approvalRequest: { modelVersionId: string; registeredModel: { name: string }; modelVersion: { version: number } } | null;
    }>(`query($id: ID!) { approvalRequest(id: $id) { modelVersionId registeredModel { name } modelVersion { version } } }`, { id: model });
    if (!res.approvalRequest) throw new CliError(`no approval request ${model} (or not visible to this token)`);
    const r = res.approvalRequest;
    return { modelVersionId: r.modelVersionId, modelName: r.registeredModel.name, version: r.modelVersion.version };
  }
  const number = Number(version);
  if (!/^\d+$/.test(version) || !Number.isSafeInteger(number) || number < 1) {
    throw new UsageError(`version "${version}": expected a version number (1, 2, …)`);
  }
  const project = await resolveProject(client);
  const found = await client.request<{ registeredModel: { id: string } | null }>(
    `query($p: ID!, $n: String!) { registeredModel(projectId: $p, name: $n) { id } }`,
    { p: project.id, n: model },
  );
  if (!found.registeredModel) throw new CliError(`no model "${model}" in project "${project.name}"`);
  const v = await client.request<{ modelVersion: { id: string } | null }>(
    `query($m: ID!, $v: Int!) { modelVersion(registeredModelId: $m, version: $v) { id } }`,
    { m: found.registeredModel.id, v: number },
  );
  if (!v.modelVersion) throw new CliError(`model "${model}" in project "${project.name}" has no version ${number}`);
  return { modelVersionId: v.modelVersion.id, modelName: model, version: number };
}

interface DecisionResult extends ResultUnion {
  approvalRequest?: {
    status: string;
    reason: string;
    requiredApprovals: number;
    decisions: Array<{ verdict: string; selfApproval: boolean }>;
  };
  modelVersion?: { status: string };
  otherApprovers?: number;
  selfApprovalRefused?: string | null;
  status?: string;
  byCaller?: boolean;
  decidedAt?: string | null;
}

export async function decideCommand(verb: Verb, model: string, version: string | undefined, flags: DecideFlags): Promise<number> {
  connectionSettings(flags);
  const reason = (flags.reason ?? "").trim();
  if (reason === "") throw new UsageError("--reason must say why (it is kept with the decision and in the audit log)");
  const style = styleFor(process.stdout);
  return withClient(flags, async (client) => {
    const target = await resolveTarget(client, model, version);
    const what = `${target.modelName} v${target.version}`;
    const field = verb === "approve" ? "approveModelVersion" : "rejectModelVersion";
    const input: Record<string, unknown> = { modelVersionId: target.modelVersionId, comment: reason };
    if (verb === "approve" && flags.selfApprove) input.selfApproval = true;
    const res = await client.request<Record<string, DecisionResult>>(
      `mutation($i: DecideModelVersionInput!) { ${field}(input: $i) { ${ERROR_FIELDS}
        ... on ApprovalDecisionPayload { approvalRequest { status reason requiredApprovals decisions { verdict selfApproval } } modelVersion { status } }
        ... on SeparationOfDutiesError { otherApprovers selfApprovalRefused }
        ... on AlreadyDecidedError { status byCaller decidedAt } } }`,
      { i: input },
    );
    const result = res[field]!;
    switch (result.__typename) {
      case "SeparationOfDutiesError": {
        const hint =
          result.selfApprovalRefused || flags.selfApprove
            ? []
            : result.otherApprovers === 0
              ? [
                  `you are the project's only approver: as its ADMIN, add --self-approve (recorded as a self-approval), or grant APPROVER to someone else`,
                ]
              : [`ask one of the ${result.otherApprovers} other principal(s) with APPROVER or ADMIN in the project`];
        throw new CliError(`not allowed to ${verb} ${what}: ${result.message}`, 1, hint);
      }
      case "AlreadyDecidedError":
        throw new CliError(
          result.byCaller
            ? `you have already decided on ${what}; a decision is final`
            : `${what} is already ${result.status}${result.decidedAt ? ` (since ${result.decidedAt})` : ""}; a decision is final`,
        );
      default:
        break;
    }
    const payload = unwrap<Required<Pick<DecisionResult, "approvalRequest" | "modelVersion">>>(
      result,
      "ApprovalDecisionPayload",
      `${verb} ${what}`,
    );
    const request = payload.approvalRequest;
    const approvals = request.decisions.filter((d) => d.verdict === "APPROVE");
    // At most one self-approval per request: the requester's own, which only the requester can give.
    const selfApproved = approvals.some((d) => d.selfApproval);
    if (request.status === "OPEN") {
      const as = flags.selfApprove && selfApproved ? " as a self-approval (separation of duties overridden)" : "";
      process.stdout.write(
        `approval of ${what} recorded${as}: ${approvals.length} of ${request.requiredApprovals}; it still waits for more approvers\n`,
      );
    } else {
      // A decisive self-approval says so in the reason; an earlier one is named here.
      const earlierSelf =
        request.status === "APPROVED" && selfApproved && !request.reason.startsWith("self-approved")
          ? " (one of the approvals a self-approval)"
          : "";
      process.stdout.write(
        `${what} ${colorStatus(style, request.status === "APPROVED" ? "SUCCEEDED" : "FAILED", request.status)}: ${request.reason}${earlierSelf}\n`,
      );
    }
    return 0;
  });
}
