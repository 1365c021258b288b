import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { lookupBy } from "../kernel/graphql/lookup";
import { captureErrors } from "../kernel/graphql/results";
import { runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import { Pipeline } from "../pipelines";
import { Run } from "../runs";
import { listFires } from "./fire-history";
import { isRowId } from "./target";
import type { ScheduleRow } from "./schedule.entity";
import {
  CreateScheduleInput,
  Schedule,
  ScheduleConnection,
  ScheduleFilter,
  ScheduleIdInput,
  ScheduleOrder,
  SchedulePayload,
  ScheduleResult,
  TriggerFire,
  TriggerFireConnection,
  UpdateScheduleInput,
  scheduleSort,
} from "./trigger.types";
import type { RunService } from "../runs/run.service";
import type { Database } from "../db/data-source";
import type { PipelineService } from "../pipelines/pipeline.service";
import type { ScheduleService } from "./schedule.service";

const summary = (row: ScheduleRow) => ({ id: row.id, pipelineId: row.pipelineId, name: row.name, cron: row.cron, paused: row.paused });

/** What ScheduleResolver uses. */
export interface ScheduleResolverDeps {
  db: Database;
  pipelines: PipelineService;
  schedules: ScheduleService;
}

@Resolver(() => Schedule)
export class ScheduleResolver {
  constructor(readonly deps: ScheduleResolverDeps) {}

  @Query(() => Schedule, { nullable: true, description: "One schedule by id, or by pipeline and name; null when there is none." })
  async schedule(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "UUID of the schedule." }) id?: string | null,
    @Arg("pipelineId", () => ID, { nullable: true, description: "The schedule's pipeline, with `name`." }) pipelineId?: string | null,
    @Arg("name", () => String, { nullable: true, description: "The schedule's name, unique in its pipeline." }) name?: string | null,
  ): Promise<Schedule | null> {
    const by = lookupBy({ id, pipelineId, name }, { key: ["pipelineId", "name"] });
    const row = by.key ? await this.deps.schedules.getByName(by.key.pipelineId, by.key.name) : await this.deps.schedules.get(by.id);
    const pipeline = by.key && !row ? await this.deps.pipelines.get(by.key.pipelineId) : null;
    ctx.authz.require(Permission.READ, row?.projectId ?? pipeline?.projectId);
    return row ? Schedule.from(row) : null;
  }

  @Query(() => ScheduleConnection, { description: "Schedules the caller may read, newest first by default." })
  async schedules(
    @Ctx() ctx: RequestContext,
    @Args() page: PageArgsInput,
    @Arg("filter", () => ScheduleFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: ScheduleFilter | null,
    @Arg("orderBy", () => ScheduleOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: ScheduleOrder | null,
  ): Promise<ScheduleConnection> {
    const projectIds = ctx.authz.projectScope(Permission.READ, filter?.projectId);
    const result = await this.deps.schedules.list(
      { projectIds, pipelineId: filter?.pipelineId ?? undefined, paused: filter?.paused ?? undefined },
      page,
      scheduleSort(orderBy),
    );
    return ScheduleConnection.from(result, Schedule.from);
  }

  @FieldResolver(() => Pipeline, { description: "The pipeline the schedule runs." })
  async pipeline(@Root() schedule: Schedule, @Ctx() ctx: RequestContext): Promise<Pipeline> {
    ctx.authz.require(Permission.READ, schedule.projectId);
    const row = await this.deps.pipelines.get(schedule.pipelineId);
    if (!row) throw new NotFoundError("Pipeline", schedule.pipelineId);
    return Pipeline.from(row);
  }

  @FieldResolver(() => TriggerFireConnection, { description: "Its fires, newest first." })
  async fires(@Root() schedule: Schedule, @Ctx() ctx: RequestContext, @Args() page: PageArgsInput): Promise<TriggerFireConnection> {
    ctx.authz.require(Permission.READ, schedule.projectId);
    return TriggerFireConnection.from(await listFires(this.deps.db, schedule.id, page), (r) => TriggerFire.from(r, schedule.projectId));
  }

  @Mutation(() => ScheduleResult, {
    description: "Creates a cron schedule that starts runs of a pipeline's latest version. Needs EDITOR in the pipeline's project.",
  })
  async createSchedule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateScheduleInput,
  ): Promise<typeof ScheduleResult> {
    return captureErrors(async () => {
      const pipeline = isRowId(input.pipelineId) ? await this.deps.pipelines.get(input.pipelineId) : null;
      return runMutation(
        ctx,
        { action: "schedule.create", permission: Permission.WRITE, projectId: pipeline?.projectId, input },
        async (tx) => {
          if (!pipeline) throw new NotFoundError("Pipeline", input.pipelineId);
          const row = await this.deps.schedules.create(tx, pipeline, input);
          return { value: SchedulePayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }

  @Mutation(() => ScheduleResult, { description: "Changes a schedule's name, expression, time zone, parameters or policy. Needs EDITOR." })
  async updateSchedule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateScheduleInput,
  ): Promise<typeof ScheduleResult> {
    return captureErrors(async () => {
      const existing = await this.deps.schedules.get(input.id);
      return runMutation(
        ctx,
        { action: "schedule.update", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          const row = await this.deps.schedules.update(tx, input.id, input);
          return { value: SchedulePayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }

  @Mutation(() => ScheduleResult, { description: "Stops a schedule firing until it is resumed. Needs EDITOR." })
  async pauseSchedule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ScheduleIdInput,
  ): Promise<typeof ScheduleResult> {
    return this.setPaused(ctx, input, true);
  }

  @Mutation(() => ScheduleResult, {
    description: "Lets a paused schedule fire again; with RUN_ONCE it first fires once for the latest tick it missed. Needs EDITOR.",
  })
  async resumeSchedule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ScheduleIdInput,
  ): Promise<typeof ScheduleResult> {
    return this.setPaused(ctx, input, false);
  }

  private async setPaused(ctx: RequestContext, input: ScheduleIdInput, paused: boolean): Promise<typeof ScheduleResult> {
    return captureErrors(async () => {
      const existing = await this.deps.schedules.get(input.id);
      const action = paused ? "schedule.pause" : "schedule.resume";
      return runMutation(ctx, { action, permission: Permission.WRITE, projectId: existing?.projectId, input }, async (tx) => {
        const row = await this.deps.schedules.setPaused(tx, input.id, paused);
        return { value: SchedulePayload.of(row), targetId: row.id, result: summary(row) };
      });
    });
  }

  @Mutation(() => ScheduleResult, { description: "Deletes a schedule (its fires stay on record). Needs EDITOR." })
  async deleteSchedule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: ScheduleIdInput,
  ): Promise<typeof ScheduleResult> {
    return captureErrors(async () => {
      const existing = await this.deps.schedules.get(input.id);
      return runMutation(
        ctx,
        { action: "schedule.delete", permission: Permission.WRITE, projectId: existing?.projectId, input },
        async (tx) => {
          const row = await this.deps.schedules.delete(tx, input.id);
          return { value: SchedulePayload.of(row), targetId: row.id, result: summary(row) };
        },
      );
    });
  }
}

/** What TriggerFireResolver uses. */
export interface TriggerFireResolverDeps {
  runs: RunService;
}

@Resolver(() => TriggerFire)
export class TriggerFireResolver {
  constructor(readonly deps: TriggerFireResolverDeps) {}

  @FieldResolver(() => Run, { nullable: true, description: "The run it started; null when it failed." })
  async run(@Root() fire: TriggerFire, @Ctx() ctx: RequestContext): Promise<Run | null> {
    ctx.authz.require(Permission.READ, fire.projectId);
    const row = fire.runId ? await this.deps.runs.get(fire.runId) : null;
    return row ? Run.from(row) : null;
  }
}
