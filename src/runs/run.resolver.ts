import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { ArtifactRow } from "../artifacts/artifact.entity";
import { StageRunInputRow } from "./stage-run-input.entity";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { cursorSubscription } from "../events/event-subscription";
import { Pipeline, PipelineVersion } from "../pipelines";
import { planForVersion } from "./engine/plan";
import { RunEvents } from "./engine/run-events";
import { runRef } from "./engine/run-meta";
import { secretGrantsOf } from "./engine/stage-secrets";
import type { RunMetricRow } from "./streams/run-metric.entity";
import type { StageLogRow } from "./streams/stage-log.entity";
import { StageRunRow } from "./stage-run.entity";
import {
  Artifact,
  ArtifactReader,
  ArtifactUse,
  StageSecretGrant,
  RerunInput,
  Run,
  RunConnection,
  RunEvent,
  RunFilterInput,
  RunIdInput,
  RunOrder,
  RunPayload,
  RunResult,
  SetRunTagsInput,
  StageAttempt,
  StageRun,
  TriggerRunInput,
  runSort,
} from "./run.types";
import {
  LogChunk,
  LogChunkConnection,
  LogChunkFilter,
  LogChunkOrder,
  LogMetricsInput,
  LogMetricsPayload,
  LogMetricsResult,
  MetricPointConnection,
  MetricPointFilter,
  MetricPointOrder,
  MetricPointType,
  logChunkSort,
  metricPointSort,
} from "./streams/stream.types";
import { resolverOf } from "../kernel/context";
import type { Database } from "../db/data-source";
import type { EventBus } from "../events/event-bus";
import type { LogService } from "./streams/logs";
import type { MetricsService } from "./streams/metrics.service";
import type { PipelineService } from "../pipelines/pipeline.service";
import type { RunService } from "./run.service";
import { ResourceUsage } from "./usage.types";

const ALL_RUN_EVENTS = Object.values(RunEvents);

/** What RunResolver uses. */
export interface RunResolverDeps {
  db: Database;
  events: EventBus;
  logs: LogService;
  metrics: MetricsService;
  pipelines: PipelineService;
  runs: RunService;
}

@Resolver(() => Run)
export class RunResolver {
  constructor(readonly deps: RunResolverDeps) {}

  @Query(() => Run, { nullable: true, description: "A run by id, or by pipeline and run number." })
  async run(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the run; or give `pipelineId` and `number` instead." }) id?: string | null,
    @Arg("pipelineId", () => ID, { nullable: true, description: "The pipeline, with `number`." }) pipelineId?: string | null,
    @Arg("number", () => Int, { nullable: true, description: "The run number, with `pipelineId`." }) number?: number | null,
  ): Promise<Run | null> {
    const by = lookupBy({ id, pipelineId, number }, { key: ["pipelineId", "number"] });
    const row = by.key ? await this.deps.runs.getByNumber(by.key.pipelineId, by.key.number) : await this.deps.runs.get(by.id);
    const pipeline = by.key && !row ? await this.deps.pipelines.get(by.key.pipelineId) : null;
    ctx.authz.require(Permission.READ, row?.projectId ?? pipeline?.projectId);
    return row ? Run.from(row) : null;
  }

  @Query(() => RunConnection, { description: "Runs the caller may read, newest first by default." })
  async runs(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => RunFilterInput, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: RunFilterInput | null,
    @Arg("orderBy", () => RunOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: RunOrder | null,
  ): Promise<RunConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.runs.list(
      {
        projectIds,
        pipelineId: filter?.pipelineId ?? undefined,
        statuses: filter?.statuses ?? undefined,
        triggerKind: filter?.triggerKind ?? undefined,
      },
      page,
      runSort(orderBy),
    );
    return RunConnection.from(result, Run.from);
  }

  @Query(() => StageRun, { nullable: true, description: "A stage run by id, or by run and stage name; null when there is none." })
  async stageRun(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the stage run." }) id?: string | null,
    @Arg("runId", () => ID, { nullable: true, description: "The stage run's run, with `stageName`." }) runId?: string | null,
    @Arg("stageName", () => String, { nullable: true, description: "The stage's name in the run's pipeline version." })
    stageName?: string | null,
  ): Promise<StageRun | null> {
    const by = lookupBy({ id, runId, stageName }, { key: ["runId", "stageName"] });
    const row = by.key ? await this.deps.runs.stageRunByName(by.key.runId, by.key.stageName) : await this.deps.runs.stageRun(by.id);
    const parentId = row?.runId ?? by.key?.runId;
    const run = parentId ? await this.deps.runs.get(parentId) : null;
    ctx.authz.require(Permission.READ, run?.projectId);
    return row && run ? StageRun.from(row, run.projectId) : null;
  }

  @Query(() => Artifact, { nullable: true, description: "One artifact by id; null when there is none." })
  async artifact(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { description: "UUID of the artifact." }) id: string,
  ): Promise<Artifact | null> {
    const row = await this.deps.db.dataSource.getRepository(ArtifactRow).findOneBy({ id });
    ctx.authz.require(Permission.READ, row?.projectId);
    return row ? Artifact.from(row) : null;
  }

  @Query(() => MetricPointConnection, { description: "The points of one metric key of a run, by step." })
  async metricHistory(
    @Ctx() ctx: RequestContext,
    @Arg("runId", () => ID, { description: "The run whose metric to read." }) runId: string,
    @Arg("key", { description: "Name of the metric, e.g. `loss`." }) key: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => MetricPointFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: MetricPointFilter | null,
    @Arg("orderBy", () => MetricPointOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: MetricPointOrder | null,
  ): Promise<MetricPointConnection> {
    const run = await this.deps.runs.get(runId);
    ctx.authz.require(Permission.READ, run?.projectId);
    if (!run) throw new NotFoundError("Run", runId);
    const result = await this.deps.metrics.history(runId, key, filter?.stageRunId ?? undefined, page, metricPointSort(orderBy));
    return MetricPointConnection.from(result, MetricPointType.from);
  }

  @Query(() => LogChunkConnection, { description: "Stored output of a stage run, oldest first by default." })
  async stageLogs(
    @Ctx() ctx: RequestContext,
    @Arg("stageRunId", () => ID, { description: "The stage run whose output to read." }) stageRunId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => LogChunkFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: LogChunkFilter | null,
    @Arg("orderBy", () => LogChunkOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: LogChunkOrder | null,
  ): Promise<LogChunkConnection> {
    await this.requireStageRunRead(ctx, stageRunId);
    return LogChunkConnection.from(
      await this.deps.logs.page(stageRunId, filter?.stream ?? undefined, page, logChunkSort(orderBy)),
      LogChunk.from,
    );
  }

  private async requireStageRunRead(ctx: RequestContext, stageRunId: string): Promise<void> {
    const sr = await this.deps.runs.stageRun(stageRunId);
    const run = sr ? await this.deps.runs.get(sr.runId) : null;
    ctx.authz.require(Permission.READ, run?.projectId);
    if (!sr) throw new NotFoundError("StageRun", stageRunId);
  }

  @FieldResolver(() => [StageRun], { description: "In the pipeline's topological order." })
  async stageRuns(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<StageRun[]> {
    ctx.authz.require(Permission.READ, run.projectId);
    const rows = await this.deps.runs.stageRuns(run.id);
    const version = await this.deps.pipelines.getVersion(run.pipelineVersionId);
    const order = new Map(((version?.spec.stages as Array<{ name: string }>) ?? []).map((s, i) => [s.name, i]));
    return rows.sort((a, b) => (order.get(a.stageName) ?? 0) - (order.get(b.stageName) ?? 0)).map((r) => StageRun.from(r, run.projectId));
  }

  @FieldResolver(() => [StageRun], {
    description:
      "Its gate stages WAITING for an approval decision (each says what for in `approvalWait`); empty when none. A RUNNING run with one is held up by people, not machines: the CLI shows it as WAITING.",
  })
  async waitingGates(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<StageRun[]> {
    ctx.authz.require(Permission.READ, run.projectId);
    if (run.status !== "RUNNING") return []; // only a running run has a stage waiting
    const rows = await this.deps.runs.stageRuns(run.id);
    return rows.filter((r) => r.status === "WAITING").map((r) => StageRun.from(r, run.projectId));
  }

  @FieldResolver(() => Pipeline, { description: "The pipeline the run executes." })
  async pipeline(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<Pipeline> {
    ctx.authz.require(Permission.READ, run.projectId);
    const row = await this.deps.pipelines.get(run.pipelineId);
    if (!row) throw new NotFoundError("Pipeline", run.pipelineId);
    return Pipeline.from(row);
  }

  @FieldResolver(() => PipelineVersion, { description: "The exact pipeline version the run executes." })
  async pipelineVersion(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<PipelineVersion> {
    ctx.authz.require(Permission.READ, run.projectId);
    const row = await this.deps.pipelines.getVersion(run.pipelineVersionId);
    if (!row) throw new NotFoundError("PipelineVersion", run.pipelineVersionId);
    return PipelineVersion.from(row);
  }

  @FieldResolver(() => ResourceUsage, {
    description: "What its stages' attempts consumed, summed over the attempts whose runners measured it.",
  })
  async usage(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<ResourceUsage> {
    ctx.authz.require(Permission.READ, run.projectId);
    return ResourceUsage.ofSums(await this.deps.runs.usageSums({ runId: run.id }));
  }

  @FieldResolver(() => [MetricPointType], { description: "The latest point of each metric key." })
  async metrics(@Root() run: Run, @Ctx() ctx: RequestContext): Promise<MetricPointType[]> {
    ctx.authz.require(Permission.READ, run.projectId);
    return (await this.deps.metrics.latest(run.id)).map(MetricPointType.from);
  }

  @Mutation(() => RunResult, { description: "Starts a run of a pipeline (its latest version unless `version` is given). Needs EDITOR." })
  async triggerRun(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: TriggerRunInput,
  ): Promise<typeof RunResult> {
    return captureErrors(async () => {
      const pipeline = await this.deps.pipelines.get(input.pipelineId);
      return runMutation(
        ctx,
        { action: "run.trigger", permission: Permission.WRITE, projectId: pipeline?.projectId, input },
        async (tx) => {
          if (!pipeline) throw new NotFoundError("Pipeline", input.pipelineId);
          const version =
            input.version !== null && input.version !== undefined
              ? await this.deps.pipelines.getVersionByNumber(pipeline.id, input.version, tx.manager)
              : pipeline.latestVersionId
                ? await this.deps.pipelines.getVersion(pipeline.latestVersionId, tx.manager)
                : null;
          if (!version) throw new NotFoundError("PipelineVersion", `${pipeline.name} v${input.version ?? "latest"}`);
          const run = await this.deps.runs.trigger(
            tx,
            { pipeline, version, params: input.params ?? {}, tags: input.tags ?? {}, triggerKind: "MANUAL" },
            tx.caller.principalId,
          );
          return { value: RunPayload.of(run), targetId: run.id, result: { runId: run.id, number: run.number, version: version.version } };
        },
      );
    });
  }

  @Mutation(() => RunResult, { description: "Cancels a run; running stages are stopped by their runners. Needs EDITOR." })
  async cancelRun(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RunIdInput,
  ): Promise<typeof RunResult> {
    return captureErrors(async () => {
      const existing = await this.deps.runs.get(input.id);
      return runMutation(ctx, { action: "run.cancel", permission: Permission.WRITE, projectId: existing?.projectId, input }, async (tx) => {
        const run = await this.deps.runs.cancel(tx, input.id);
        return { value: RunPayload.of(run), targetId: run.id, result: { runId: run.id, status: run.status } };
      });
    });
  }

  @Mutation(() => RunResult, { description: "Runs a finished run again, reusing the outputs of its successful stages. Needs EDITOR." })
  async rerunRun(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: RerunInput,
  ): Promise<typeof RunResult> {
    return captureErrors(async () => {
      const parent = await this.deps.runs.get(input.id);
      return runMutation(ctx, { action: "run.rerun", permission: Permission.WRITE, projectId: parent?.projectId, input }, async (tx) => {
        if (!parent) throw new NotFoundError("Run", input.id);
        const version = await this.deps.pipelines.getVersion(parent.pipelineVersionId, tx.manager);
        const run = await this.deps.runs.rerun(tx, parent, version!, input.fromStages ?? undefined, tx.caller.principalId);
        return { value: RunPayload.of(run), targetId: run.id, result: { runId: run.id, number: run.number, parentRunId: parent.id } };
      });
    });
  }

  @Mutation(() => RunResult, { description: "Adds or replaces tags of a run. Needs EDITOR." })
  async setRunTags(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetRunTagsInput,
  ): Promise<typeof RunResult> {
    return captureErrors(async () => {
      const existing = await this.deps.runs.get(input.id);
      return runMutation(ctx, { action: "run.tag", permission: Permission.WRITE, projectId: existing?.projectId, input }, async (tx) => {
        const run = await this.deps.runs.setTags(tx, input.id, input.tags);
        return { value: RunPayload.of(run), targetId: run.id, result: { runId: run.id } };
      });
    });
  }

  @Mutation(() => LogMetricsResult, { description: "Records up to 10,000 metric points of a run (or stage run). Needs EDITOR or RUNNER." })
  async logMetrics(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: LogMetricsInput,
  ): Promise<typeof LogMetricsResult> {
    return captureErrors(async () => {
      const run = await this.deps.runs.get(input.runId);
      const permission = ctx.authz.can(Permission.RUN, run?.projectId) ? Permission.RUN : Permission.WRITE;
      const summary = { runId: input.runId, stageRunId: input.stageRunId, points: input.points.length };
      return runMutation(ctx, { action: "run.log_metrics", permission, projectId: run?.projectId, input: summary }, async (tx) => {
        if (!run) throw new NotFoundError("Run", input.runId);
        if (input.stageRunId && !(await tx.manager.existsBy(StageRunRow, { id: input.stageRunId, runId: run.id }))) {
          throw new NotFoundError("StageRun", input.stageRunId);
        }
        const points = input.points.map((p) => ({
          key: p.key,
          value: p.value,
          step: p.step ?? undefined,
          timestamp: p.timestamp ?? undefined,
        }));
        this.deps.metrics.validate(points);
        const batch = await this.deps.metrics.insert(tx.manager, run.id, input.stageRunId ?? null, points);
        await this.deps.metrics.announce(tx, batch);
        return {
          value: Object.assign(new LogMetricsPayload(), { count: points.length }),
          targetId: run.id,
          result: { count: points.length },
        };
      });
    });
  }

  @Subscription(() => RunEvent, {
    description: "State changes of one run, or of every run of a pipeline. Pass `after` (a cursor) to first receive what was missed.",
    subscribe: cursorSubscription<{ runId?: string | null; pipelineId?: string | null }, EventRow>(async ({ runId, pipelineId }, ctx) => {
      if (!runId === !pipelineId) throw new InvalidInputError([{ field: "runId", message: "give exactly one of runId and pipelineId" }]);
      const { deps } = resolverOf(ctx, RunResolver);
      const owner = runId ? await deps.runs.get(runId) : await deps.pipelines.get(pipelineId!);
      return {
        projectId: owner?.projectId,
        missing: owner ? undefined : new NotFoundError(runId ? "Run" : "Pipeline", (runId ?? pipelineId)!),
        open: (after) =>
          deps.events.subscribe(
            runId
              ? { subjectId: runId, types: ALL_RUN_EVENTS }
              : { projectId: owner!.projectId, types: ALL_RUN_EVENTS, payloadEquals: { pipelineId: pipelineId! } },
            after,
          ),
      };
    }),
  })
  runEvents(
    @Root() row: EventRow,
    @Arg("runId", () => ID, { nullable: true, description: "The run to follow; or give `pipelineId`." }) _runId?: string | null,
    @Arg("pipelineId", () => ID, { nullable: true, description: "Follow every run of this pipeline instead of one run." })
    _pipelineId?: string | null,
    @Arg("after", () => String, { nullable: true, description: "A `cursor` of an earlier event: first replays what came after it." })
    _after?: string | null,
  ): RunEvent {
    return RunEvent.from(row);
  }

  @Subscription(() => LogChunk, {
    description: 'Output of a stage run as it is written; `after: "0"` starts from the beginning.',
    subscribe: cursorSubscription<{ stageRunId: string }, StageLogRow>(async ({ stageRunId }, ctx) => {
      const { deps } = resolverOf(ctx, RunResolver);
      const sr = await deps.runs.stageRun(stageRunId);
      const run = sr ? await deps.runs.get(sr.runId) : null;
      return {
        projectId: run?.projectId,
        missing: sr ? undefined : new NotFoundError("StageRun", stageRunId),
        open: (after) => deps.logs.subscribe(stageRunId, after),
      };
    }),
  })
  stageLogStream(
    @Root() row: StageLogRow,
    @Arg("stageRunId", () => ID, { description: "The stage run whose output to follow." }) _stageRunId: string,
    @Arg("after", () => String, {
      nullable: true,
      description: 'A cursor of an earlier chunk: first replays what came after it; `"0"` replays from the start.',
    })
    _after?: string | null,
  ): LogChunk {
    return LogChunk.from(row);
  }

  @Subscription(() => MetricPointType, {
    description: 'Metric points of a run as they are recorded (only `keys` when given); `after: "0"` starts from the beginning.',
    subscribe: cursorSubscription<{ runId: string; keys?: string[] | null }, RunMetricRow>(async ({ runId, keys }, ctx) => {
      const { deps } = resolverOf(ctx, RunResolver);
      const run = await deps.runs.get(runId);
      return {
        projectId: run?.projectId,
        missing: run ? undefined : new NotFoundError("Run", runId),
        open: (after) => deps.metrics.subscribe(runId, keys ?? undefined, after),
      };
    }),
  })
  runMetrics(
    @Root() row: RunMetricRow,
    @Arg("runId", () => ID, { description: "The run whose metrics to follow." }) _runId: string,
    @Arg("keys", () => [String], { nullable: true, description: "Only these metric keys; every key when omitted." })
    _keys?: string[] | null,
    @Arg("after", () => String, {
      nullable: true,
      description: 'A cursor of an earlier point: first replays what came after it; `"0"` replays from the start.',
    })
    _after?: string | null,
  ): MetricPointType {
    return MetricPointType.from(row);
  }
}

/** What StageRunResolver uses. */
export interface StageRunResolverDeps {
  db: Database;
  runs: RunService;
}

@Resolver(() => StageRun)
export class StageRunResolver {
  constructor(readonly deps: StageRunResolverDeps) {}

  @FieldResolver(() => ResourceUsage, { description: "What its attempts consumed, summed over the attempts whose runners measured it." })
  async usage(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<ResourceUsage> {
    ctx.authz.require(Permission.READ, sr.projectId);
    return ResourceUsage.ofSums(await this.deps.runs.usageSums({ stageRunId: sr.id }));
  }

  @FieldResolver(() => [StageAttempt], { description: "Every attempt so far, first first." })
  async attempts(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<StageAttempt[]> {
    ctx.authz.require(Permission.READ, sr.projectId);
    return (await this.deps.runs.attempts(sr.id)).map(StageAttempt.from);
  }

  @FieldResolver(() => [Artifact], { description: "What it produced (for a reused stage, what the original produced)." })
  async outputs(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<Artifact[]> {
    ctx.authz.require(Permission.READ, sr.projectId);
    const rows = await this.deps.db.dataSource
      .getRepository(ArtifactRow)
      .find({ where: { producedBy: sr.reusedFrom ?? sr.id }, order: { outputName: "ASC" } });
    return rows.map(Artifact.from);
  }

  @FieldResolver(() => [StageSecretGrant], {
    description: "The project secrets it receives when it runs, by name (never their values), sorted by variable.",
  })
  async secrets(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<StageSecretGrant[]> {
    ctx.authz.require(Permission.READ, sr.projectId);
    const manager = this.deps.db.dataSource.manager;
    const plan = await planForVersion(manager, (await runRef(manager, sr.runId)).pipelineVersionId);
    const stage = plan.stages.get(sr.stageName);
    return (stage ? secretGrantsOf(stage.spec) : [])
      .sort((a, b) => a.variable.localeCompare(b.variable))
      .map((g) => Object.assign(new StageSecretGrant(), g));
  }

  @FieldResolver(() => [ArtifactUse], { description: "What it read, by input name (lineage upstream)." })
  async inputs(@Root() sr: StageRun, @Ctx() ctx: RequestContext): Promise<ArtifactUse[]> {
    ctx.authz.require(Permission.READ, sr.projectId);
    const uses = await this.deps.db.dataSource
      .getRepository(StageRunInputRow)
      .find({ where: { stageRunId: sr.id }, relations: { artifact: true } });
    return uses
      .sort((a, b) => a.inputName.localeCompare(b.inputName))
      .map((u) => Object.assign(new ArtifactUse(), { inputName: u.inputName, artifact: Artifact.from(u.artifact!) }));
  }
}

/** What ArtifactResolver uses. */
export interface ArtifactResolverDeps {
  db: Database;
  runs: RunService;
}

@Resolver(() => Artifact)
export class ArtifactResolver {
  constructor(readonly deps: ArtifactResolverDeps) {}

  @FieldResolver(() => StageRun, { nullable: true, description: "The stage run that made it (lineage upstream)." })
  async producer(@Root() a: Artifact, @Ctx() ctx: RequestContext): Promise<StageRun | null> {
    ctx.authz.require(Permission.READ, a.projectId);
    const row = a.producedBy ? await this.deps.runs.stageRun(a.producedBy) : null;
    return row ? StageRun.from(row, a.projectId) : null;
  }

  @FieldResolver(() => [ArtifactReader], { description: "Every stage run that read it (lineage downstream)." })
  async readBy(@Root() a: Artifact, @Ctx() ctx: RequestContext): Promise<ArtifactReader[]> {
    ctx.authz.require(Permission.READ, a.projectId);
    const uses = await this.deps.db.dataSource
      .getRepository(StageRunInputRow)
      .find({ where: { artifactId: a.id }, relations: { stageRun: true } });
    return uses.map((u) =>
      Object.assign(new ArtifactReader(), { inputName: u.inputName, stageRun: StageRun.from(u.stageRun!, a.projectId) }),
    );
  }
}
