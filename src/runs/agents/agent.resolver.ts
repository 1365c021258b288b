/**
 * The runner API: what remote agents (`sluice runner`) call, with a RUNNER token (or an admin's).
 * Every operation needs the `run` permission. Registration, leasing (when it leases something),
 * completion and deregistration go through `runMutation` and are audited; heartbeats and log
 * appends — every few seconds per agent, many times per stage — are authorized the same way but
 * not audited row by row (they change only lease deadlines and append output), and neither are
 * lease polls that found nothing. A runner bound to some projects leases only their stage runs.
 */
import { Arg, Args, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../kernel/context";
import { InvalidInputError, NotFoundError } from "../../kernel/errors";
import { PageArgsInput } from "../../kernel/graphql/connection";
import { captureErrors } from "../../kernel/graphql/results";
import { runMutation } from "../../kernel/mutation";
import { runSystemChange } from "../../events/system-change";
import { Permission } from "../../kernel/roles";
import { type AgentService, type RunnerCaller, agentOwner, isUuid, MAX_LEASE_BATCH, MAX_LEASE_WAIT_MS } from "./agent.service";
import {
  AppendStageLogsInput,
  AppendStageLogsPayload,
  AppendStageLogsResult,
  CompleteStageRunInput,
  CompleteStageRunPayload,
  CompleteStageRunResult,
  DeregisterRunnerResult,
  HeartbeatInput,
  HeartbeatPayload,
  HeartbeatResult,
  LeasedInput,
  LeasedOutput,
  LeasedTask,
  LeaseStageRunsInput,
  LeaseStageRunsPayload,
  LeaseStageRunsResult,
  LeaseState,
  RegisterRunnerInput,
  RegisterRunnerPayload,
  RegisterRunnerResult,
  RunnerAgent,
  RunnerAgentConnection,
  RunnerAgentFilter,
  RunnerAgentOrder,
  RunnerIdInput,
  RunnerPayload,
  runnerAgentSort,
} from "./agent.types";
import { releaseLeases } from "../engine/completion";
import type { RunRow } from "../run.entity";
import { StageRun } from "../run.types";
import type { StageRunRow } from "../stage-run.entity";
import type { ArtifactStore } from "../../artifacts/store";
import type { Database } from "../../db/data-source";
import type { EventBus } from "../../events/event-bus";
import type { LogService } from "../streams/logs";
import type { RunService } from "../run.service";

/** The caller as a runner: who it is, whether it may act for any runner, and where it may run. */
interface RunnerScope extends RunnerCaller {
  projects: "all" | string[];
  /** The project a runner-wide change is audited under: none for a global runner, else its first. */
  auditProject: string | undefined;
}

/**
 * The caller's runner scope. A caller without the run permission anywhere gets `auditProject`
 * undefined and no projects, so the mutation it goes on to (which needs the permission
 * globally then) is refused and audited as DENIED.
 */
function runnerScope(ctx: RequestContext): RunnerScope {
  const projects = ctx.authz.visibleProjects(Permission.RUN);
  return {
    principalId: ctx.authz.caller!.principalId,
    isAdmin: ctx.authz.can(Permission.ADMIN),
    projects,
    auditProject: projects === "all" ? undefined : projects[0],
  };
}

/** As `runnerScope`, refusing (FORBIDDEN, not audited) a caller that may run nowhere. */
function requireRunner(ctx: RequestContext): RunnerScope {
  const scope = runnerScope(ctx);
  if (scope.projects !== "all" && scope.projects.length === 0) ctx.authz.require(Permission.RUN);
  return scope;
}

async function ownRunner(agents: AgentService, scope: RunnerScope, runnerId: string) {
  const runner = await agents.ownedBy(runnerId, scope);
  if (!runner) throw new NotFoundError("Runner", runnerId);
  return runner;
}

async function stageRunAndRun(runs: RunService, stageRunId: string): Promise<{ sr: StageRunRow | null; run: RunRow | null }> {
  const sr = isUuid(stageRunId) ? await runs.stageRun(stageRunId) : null;
  const run = sr ? await runs.get(sr.runId) : null;
  return { sr, run };
}

function runnerPayloadOf(agents: AgentService, row: Parameters<typeof RunnerAgent.from>[0]): RunnerAgent {
  return RunnerAgent.from(row, agents.offlineAfterMs);
}

/** What AgentResolver uses. */
export interface AgentResolverDeps {
  agents: AgentService;
  artifacts: ArtifactStore;
  db: Database;
  events: EventBus;
  logs: LogService;
  runs: RunService;
}

@Resolver(() => RunnerAgent)
export class AgentResolver {
  constructor(readonly deps: AgentResolverDeps) {}

  @Query(() => RunnerAgentConnection, { description: "Registered remote runners, by name by default. Needs a global VIEWER or above." })
  async runners(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => RunnerAgentFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: RunnerAgentFilter | null,
    @Arg("orderBy", () => RunnerAgentOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: RunnerAgentOrder | null,
  ): Promise<RunnerAgentConnection> {
    ctx.authz.require(Permission.READ);
    const result = await this.deps.agents.list(
      { status: filter?.status ?? undefined, label: filter?.label ?? undefined },
      page,
      runnerAgentSort(orderBy),
    );
    const offlineAfter = this.deps.agents.offlineAfterMs;
    return RunnerAgentConnection.from(result, (row) => RunnerAgent.from(row, offlineAfter));
  }

  @FieldResolver(() => [StageRun], { description: "The stage runs it holds now (those the caller may see)." })
  async currentWork(@Root() runner: RunnerAgent, @Ctx() ctx: RequestContext): Promise<StageRun[]> {
    const held = await this.deps.agents.heldBy(runner.id);
    return held
      .filter((h) => ctx.authz.can(Permission.READ, h.projectId) || ctx.authz.can(Permission.RUN, h.projectId))
      .map((h) => StageRun.from(h.row, h.projectId));
  }

  @Mutation(() => RegisterRunnerResult, {
    description: "Registers a remote runner (the same name again updates it) and says how often to heartbeat. Needs RUNNER.",
  })
  async registerRunner(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RegisterRunnerInput,
  ): Promise<typeof RegisterRunnerResult> {
    return captureErrors(async () => {
      const scope = runnerScope(ctx);
      return runMutation(
        ctx,
        { action: "runner.register", permission: Permission.RUN, projectId: scope.auditProject, input },
        async (tx) => {
          const row = await this.deps.agents.register(tx.manager, scope, input);
          const value = Object.assign(new RegisterRunnerPayload(), {
            runner: runnerPayloadOf(this.deps.agents, row),
            leaseMs: this.deps.agents.leaseMs,
            heartbeatIntervalMs: this.deps.agents.heartbeatIntervalMs,
            maxWaitMs: MAX_LEASE_WAIT_MS,
          });
          return { value, targetId: row.id, result: { runnerId: row.id, name: row.name, labels: row.labels } };
        },
      );
    });
  }

  @Mutation(() => LeaseStageRunsResult, {
    description: "Leases up to `max` queued stage runs the runner can run (long-polling up to `waitMs` when there are none). Needs RUNNER.",
  })
  async leaseStageRuns(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: LeaseStageRunsInput,
  ): Promise<typeof LeaseStageRunsResult> {
    return captureErrors(async () => {
      const scope = requireRunner(ctx);
      const waitMs = input.waitMs ?? 0;
      const problems = [];
      if (!Number.isInteger(input.max) || input.max < 1 || input.max > MAX_LEASE_BATCH) {
        problems.push({ field: "max", message: `must be a whole number from 1 to ${MAX_LEASE_BATCH}` });
      }
      if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_LEASE_WAIT_MS) {
        problems.push({ field: "waitMs", message: `must be a whole number of milliseconds from 0 to ${MAX_LEASE_WAIT_MS}` });
      }
      if (problems.length) throw new InvalidInputError(problems);
      const runner = await ownRunner(this.deps.agents, scope, input.runnerId);
      if (runner.stoppedAt) throw new NotFoundError("Runner", `${input.runnerId} (deregistered; register again)`);
      const projectIds = scope.projects === "all" ? null : scope.projects;
      const claimed = await this.deps.agents.leaseWithWait({
        runner,
        projectIds,
        waitMs,
        signal: ctx.signal,
        claim: () =>
          runMutation(
            ctx,
            {
              action: "runner.lease",
              permission: Permission.RUN,
              projectId: scope.auditProject,
              input: { runnerId: runner.id, max: input.max },
            },
            async (tx) => {
              const rows = await this.deps.agents.claim(tx, runner, input.max, projectIds);
              return { value: rows, targetId: runner.id, result: { stageRunIds: rows.map((r) => r.id) } };
            },
          ),
      });
      if (claimed.length === 0) return Object.assign(new LeaseStageRunsPayload(), { tasks: [] });
      const giveBack = () =>
        runSystemChange(this.deps, (tx) =>
          releaseLeases(
            tx,
            agentOwner(runner.id),
            claimed.map((c) => c.id),
          ),
        );
      let tasks;
      try {
        tasks = await this.deps.agents.tasksFor(claimed);
      } catch (err) {
        await giveBack().catch((e) => ctx.log.error({ err: e }, "could not give back stage runs leased for a failed request"));
        throw err;
      }
      if (ctx.signal?.aborted) {
        // The agent went away while we leased: give the stage runs back rather than let their leases expire.
        await giveBack().catch((e) => ctx.log.error({ err: e }, "could not give back stage runs leased for a client that left"));
        return Object.assign(new LeaseStageRunsPayload(), { tasks: [] });
      }
      return Object.assign(new LeaseStageRunsPayload(), {
        tasks: tasks.map((t) =>
          Object.assign(new LeasedTask(), {
            ...t,
            inputs: t.inputs.map((i) => Object.assign(new LeasedInput(), i)),
            outputs: t.outputs.map((o) => Object.assign(new LeasedOutput(), o)),
          }),
        ),
      });
    });
  }

  @Mutation(() => HeartbeatResult, {
    description:
      "Renews the leases of the stage runs the runner is running and says, for each, whether it still holds it and whether its run was canceled. Needs RUNNER; not audited.",
  })
  async heartbeat(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: HeartbeatInput,
  ): Promise<typeof HeartbeatResult> {
    return captureErrors(async () => {
      const scope = requireRunner(ctx);
      if (input.stageRunIds.length > MAX_LEASE_BATCH) {
        throw new InvalidInputError([{ field: "stageRunIds", message: `at most ${MAX_LEASE_BATCH} per heartbeat` }]);
      }
      const runner = await ownRunner(this.deps.agents, scope, input.runnerId);
      const leases = await this.deps.agents.heartbeat(runner, input.stageRunIds);
      return Object.assign(new HeartbeatPayload(), { leases: leases.map((l) => Object.assign(new LeaseState(), l)) });
    });
  }

  @Mutation(() => AppendStageLogsResult, {
    description:
      "Appends output of a leased stage run, in order. Refused with LeaseLostError once the lease is gone. Needs RUNNER; not audited.",
  })
  async appendStageLogs(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: AppendStageLogsInput,
  ): Promise<typeof AppendStageLogsResult> {
    // A LeaseLostError answers as its registered member (listed in this union).
    return captureErrors(async () => {
      const { sr, run } = await stageRunAndRun(this.deps.runs, input.stageRunId);
      ctx.authz.require(Permission.RUN, run?.projectId);
      if (!sr || !run) throw new NotFoundError("StageRun", input.stageRunId);
      this.deps.agents.validateLogChunks(input.chunks);
      await this.deps.agents.checkLease(sr, input.epoch, runnerScope(ctx));
      let count = 0;
      for (const chunk of input.chunks) {
        if (chunk.text === "") continue;
        const text = chunk.text.endsWith("\n") ? chunk.text : `${chunk.text}\n`;
        await this.deps.logs.append({ runId: sr.runId, stageRunId: sr.id, attempt: sr.attempt }, chunk.stream, text);
        count++;
      }
      return Object.assign(new AppendStageLogsPayload(), { count });
    });
  }

  @Mutation(() => CompleteStageRunResult, {
    description:
      "Records how a leased attempt ended, fenced by its lease epoch: from a runner that lost the lease it answers LeaseLostError and changes nothing. Needs RUNNER.",
  })
  async completeStageRun(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CompleteStageRunInput,
  ): Promise<typeof CompleteStageRunResult> {
    // A LeaseLostError answers as its registered member (listed in this union).
    return captureErrors(async () => {
      const { sr, run } = await stageRunAndRun(this.deps.runs, input.stageRunId);
      const summary = {
        stageRunId: input.stageRunId,
        epoch: input.epoch,
        status: input.status,
        failure: input.failure?.type ?? null,
        outputs: (input.outputs ?? []).map((o) => o.name),
      };
      return runMutation(
        ctx,
        { action: "stage.complete", permission: Permission.RUN, projectId: run?.projectId, input: summary },
        async (tx) => {
          if (!sr || !run) throw new NotFoundError("StageRun", input.stageRunId);
          await this.deps.agents.checkLease(sr, input.epoch, runnerScope(ctx), tx.manager);
          const result = await this.deps.agents.attemptResult(this.deps.artifacts, input);
          const inputIds = await this.deps.agents.inputIdsOf(sr, tx.manager);
          const outcome = await this.deps.agents.complete(tx, sr.id, input.epoch, result, inputIds);
          return {
            value: Object.assign(new CompleteStageRunPayload(), { stageRunId: sr.id, status: outcome }),
            targetId: sr.id,
            result: { status: outcome },
          };
        },
      );
    });
  }

  @Mutation(() => DeregisterRunnerResult, {
    description:
      "A runner stopping: gives back the stage runs it still holds (requeued without charging retries) and marks it STOPPED. Needs RUNNER.",
  })
  async deregisterRunner(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RunnerIdInput,
  ): Promise<typeof DeregisterRunnerResult> {
    return captureErrors(async () => {
      const scope = runnerScope(ctx);
      const runner = scope.projects === "all" || scope.projects.length > 0 ? await this.deps.agents.ownedBy(input.runnerId, scope) : null;
      return runMutation(
        ctx,
        { action: "runner.deregister", permission: Permission.RUN, projectId: scope.auditProject, input },
        async (tx) => {
          if (!runner) throw new NotFoundError("Runner", input.runnerId);
          const released = await this.deps.agents.deregister(tx, runner);
          return {
            value: Object.assign(new RunnerPayload(), { runner: runnerPayloadOf(this.deps.agents, runner), released }),
            targetId: runner.id,
            result: { released },
          };
        },
      );
    });
  }
}
