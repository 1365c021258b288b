import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { RequestContext } from "../kernel/context";
import { ConflictError, InvalidInputError, NotFoundError } from "../kernel/errors";
import { PageArgsInput } from "../kernel/graphql/connection";
import { captureErrors } from "../kernel/graphql/results";
import { prepareMutation, runMutation } from "../kernel/mutation";
import { Permission } from "../kernel/roles";
import type { EventRow } from "../events/event.entity";
import { cursorSubscription, eventScope } from "../events/event-subscription";
import { MonitorRow } from "./monitoring.entities";
import { MonitoringService } from "./monitoring.service";
import {
  Alert,
  AlertActionInput,
  AlertConnection,
  AlertFilter,
  AlertOrder,
  AlertPayload,
  AlertResult,
  AlertRule,
  AlertRuleConnection,
  AlertRuleFilter,
  AlertRuleIdInput,
  AlertRuleOrder,
  alertRuleSort,
  AlertRulePayload,
  AlertRuleResult,
  alertSort,
  CreateAlertRuleInput,
  CreateMonitorInput,
  DeleteAlertRulePayload,
  DeleteAlertRuleResult,
  DeleteMonitorPayload,
  DeleteMonitorResult,
  DriftMetrics,
  DriftSeries,
  MetricValue,
  Monitor,
  MonitorConnection,
  MonitorFilter,
  MonitorOrder,
  monitorSort,
  MonitorIdInput,
  MonitoringReference,
  MonitoringReferencePayload,
  MonitoringReferenceResult,
  MonitoringWindow,
  MonitoringWindowConnection,
  MonitoringWindowFilter,
  MonitoringWindowOrder,
  MonitoringWindowPayload,
  MonitoringWindowResult,
  monitoringWindowSort,
  MonitorPayload,
  MonitorResult,
  SetMonitoringReferenceInput,
  UpdateAlertRuleInput,
  UpdateMonitorInput,
} from "./monitoring.types";
import { MonitoringEvents } from "./windows/window-closer";
import { resolverOf } from "../kernel/context";
import type { EventBus } from "../events/event-bus";
import type { PredictionLogService } from "../serving/prediction-log/prediction-log.service";

/** Most points `driftMetrics` returns (the newest ones). */
const MAX_SERIES_POINTS = 10_000;

/** What MonitoringResolver uses. */
export interface MonitoringResolverDeps {
  events: EventBus;
  monitoring: MonitoringService;
  predictionLog: PredictionLogService;
}

@Resolver()
export class MonitoringResolver {
  constructor(readonly deps: MonitoringResolverDeps) {}

  // ---- monitors

  @Query(() => MonitorConnection, { description: "A project's monitors." })
  async monitors(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project whose monitors to list." }) projectId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => MonitorFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: MonitorFilter | null,
    @Arg("orderBy", () => MonitorOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: MonitorOrder | null,
  ): Promise<MonitorConnection> {
    ctx.authz.require(Permission.READ, projectId);
    return MonitorConnection.from(await this.deps.monitoring.monitors(projectId, filter ?? {}, page, monitorSort(orderBy)), Monitor.from);
  }

  @Mutation(() => MonitorResult, { description: "Starts monitoring a served name (endpoint or model) and variant. Needs EDITOR." })
  async createMonitor(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateMonitorInput,
  ): Promise<typeof MonitorResult> {
    // Rows still queued here were answered before the monitor existed: written first, they stay history.
    await this.deps.predictionLog.log.flush();
    return captureErrors(() =>
      runMutation(ctx, { action: "monitor.create", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        const row = await this.deps.monitoring.createMonitor(tx, input);
        return { value: Object.assign(new MonitorPayload(), { monitor: Monitor.from(row) }), targetId: row.id };
      }),
    );
  }

  @Mutation(() => MonitorResult, { description: "Changes a monitor's windows, overrides or drift share. Needs EDITOR." })
  async updateMonitor(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateMonitorInput,
  ): Promise<typeof MonitorResult> {
    return captureErrors(async () => {
      const found = await this.deps.monitoring.monitor(input.monitorId);
      return runMutation(
        ctx,
        { action: "monitor.update", permission: Permission.WRITE, projectId: found?.projectId, input },
        async (tx) => {
          const m = await this.deps.monitoring.requireMonitor(input.monitorId, tx.manager);
          const row = await this.deps.monitoring.updateMonitor(tx, m, input);
          return { value: Object.assign(new MonitorPayload(), { monitor: Monitor.from(row) }), targetId: row.id };
        },
      );
    });
  }

  @Mutation(() => DeleteMonitorResult, { description: "Deletes a monitor with its windows, series, alert rules and alerts. Needs EDITOR." })
  async deleteMonitor(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: MonitorIdInput,
  ): Promise<typeof DeleteMonitorResult> {
    return captureErrors(async () => {
      const found = await this.deps.monitoring.monitor(input.monitorId);
      return runMutation(
        ctx,
        { action: "monitor.delete", permission: Permission.WRITE, projectId: found?.projectId, input },
        async (tx) => {
          const m = await this.deps.monitoring.requireMonitor(input.monitorId, tx.manager);
          await this.deps.monitoring.deleteMonitor(tx, m);
          return { value: Object.assign(new DeleteMonitorPayload(), { monitorId: m.id }), targetId: m.id };
        },
      );
    });
  }

  @Mutation(() => MonitoringWindowResult, {
    description:
      "Closes the monitor's window now: first the windows already due (a backlog of several windows' worth of predictions closes as that many), then one with the predictions left since the last (ConflictError when none are left). Needs EDITOR.",
  })
  async closeMonitoringWindow(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: MonitorIdInput,
  ): Promise<typeof MonitoringWindowResult> {
    return captureErrors(async () => {
      const monitoring = this.deps.monitoring;
      const found = await monitoring.monitor(input.monitorId);
      const scope = { action: "monitor.closeWindow", permission: Permission.WRITE, projectId: found?.projectId, input };
      // Reading the rows and computing drift (maybe the reference too) happens before the transaction.
      const prepared = await prepareMutation(ctx, scope, async () => {
        if (!found) throw new NotFoundError("Monitor", input.monitorId);
        await monitoring.windows.closeDue(found.id);
        const p = await monitoring.windows.prepare((await monitoring.monitor(found.id)) ?? found, true);
        if (!p)
          throw new ConflictError(`no predictions of ${found.servedName} (${found.variant}) since the last window`, { field: "monitorId" });
        return p;
      });
      return runMutation(ctx, scope, async (tx) => {
        const row = await monitoring.windows.commit(tx, prepared);
        const metrics = row
          ? await tx.manager.query(`SELECT metric, feature, value FROM monitoring_metrics WHERE window_id = $1 ORDER BY metric, feature`, [
              row.id,
            ])
          : [];
        return {
          value: Object.assign(new MonitoringWindowPayload(), {
            window: row
              ? MonitoringWindow.from(
                  row,
                  metrics.map((m: { metric: string; feature: string; value: number }) => MetricValue.from(m as never)),
                )
              : null,
          }),
          targetId: prepared.monitorId,
          result: { windowId: row?.id ?? null },
        };
      });
    });
  }

  // ---- references

  @Query(() => MonitoringReference, { nullable: true, description: "A model version's training reference, once computed or set." })
  async monitoringReference(
    @Ctx() ctx: RequestContext,
    @Arg("modelVersionId", () => ID, { description: "The model version." }) modelVersionId: string,
  ): Promise<MonitoringReference | null> {
    const version = await this.deps.monitoring.version(modelVersionId);
    ctx.authz.require(Permission.READ, version?.projectId);
    const row = version ? await this.deps.monitoring.reference(version.id) : null;
    return row ? MonitoringReference.from(row) : null;
  }

  @Mutation(() => MonitoringReferenceResult, {
    description:
      "Computes and stores a model version's training reference: from a dataset version given, else from its training data (lineage). Replaces the one stored. Needs EDITOR.",
  })
  async setMonitoringReference(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: SetMonitoringReferenceInput,
  ): Promise<typeof MonitoringReferenceResult> {
    return captureErrors(async () => {
      const version = await this.deps.monitoring.version(input.modelVersionId);
      const scope = { action: "monitoring.reference.set", permission: Permission.WRITE, projectId: version?.projectId, input };
      const refs = this.deps.monitoring.references;
      const computed = await prepareMutation(ctx, scope, async () => {
        if (!version) throw new NotFoundError("ModelVersion", input.modelVersionId);
        return input.datasetVersionId ? refs.computeFromDataset(version, input.datasetVersionId) : refs.computeFromTraining(version);
      });
      return runMutation(ctx, scope, async (tx) => {
        const row = await refs.save(tx.manager, version!, computed);
        return {
          value: Object.assign(new MonitoringReferencePayload(), { reference: MonitoringReference.from(row) }),
          targetId: version!.id,
          result: { source: row.source, rows: row.rows },
        };
      });
    });
  }

  // ---- windows and series

  @Query(() => MonitoringWindowConnection, { description: "Closed windows of a served name, newest first." })
  async monitoringWindows(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project of the served name." }) projectId: string,
    @Arg("servedName", { description: "The served name (endpoint or model) whose windows to read." }) servedName: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => MonitoringWindowFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: MonitoringWindowFilter | null,
    @Arg("orderBy", () => MonitoringWindowOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: MonitoringWindowOrder | null,
  ): Promise<MonitoringWindowConnection> {
    ctx.authz.require(Permission.READ, projectId);
    const rows = await this.deps.monitoring.windowsOf(projectId, servedName, filter ?? {}, page, monitoringWindowSort(orderBy));
    return MonitoringWindowConnection.from(rows, (r) => MonitoringWindow.from(r));
  }

  @Query(() => DriftMetrics, {
    description: `Plot-ready series of a served name's windows, one per (metric, feature), points oldest first (the newest ${MAX_SERIES_POINTS} points at most).`,
  })
  async driftMetrics(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project of the served name." }) projectId: string,
    @Arg("servedName", { description: "The served name (endpoint or model) whose windows to read." }) servedName: string,
    @Arg("metric", () => String, { nullable: true, description: "One metric, e.g. drift_score; all when left out." })
    metric?: string | null,
    @Arg("feature", () => String, { nullable: true, description: "One feature ('' for window metrics); all when left out." })
    feature?: string | null,
    @Arg("since", () => Date, { nullable: true, description: "Only windows closed at or after this time." }) since?: Date | null,
    @Arg("variant", () => String, { nullable: true, description: "primary, canary or shadow; all when left out." }) variant?: string | null,
  ): Promise<DriftMetrics> {
    ctx.authz.require(Permission.READ, projectId);
    const series = DriftSeries.group(
      await this.deps.monitoring.series(projectId, servedName, { metric, feature, since, variant }, MAX_SERIES_POINTS),
    );
    return Object.assign(new DriftMetrics(), { servedName, series });
  }

  @Subscription(() => MonitoringWindow, {
    name: "driftMetricEvents",
    description:
      "Each window of a served name as it closes, with its metrics. Pass `after` (an event cursor) to first receive windows closed since.",
    subscribe: cursorSubscription<{ projectId: string; servedName: string; variant?: string | null }, EventRow>(
      ({ projectId, servedName, variant }, ctx) =>
        eventScope(resolverOf(ctx, MonitoringResolver).deps.events, projectId, {
          projectId,
          types: [MonitoringEvents.windowClosed],
          payloadEquals: { servedName, ...(variant ? { variant } : {}) },
        }),
    ),
  })
  async driftMetricEvents(
    @Root() event: EventRow,
    @Arg("projectId", () => ID, { description: "The project of the served name." }) _projectId: string,
    @Arg("servedName", { description: "The served name (endpoint or model) whose windows to follow." }) _servedName: string,
    @Arg("variant", () => String, {
      nullable: true,
      description: "Only windows of this variant of the endpoint (`primary`, `canary` or `shadow`); all variants when omitted.",
    })
    _variant?: string | null,
    @Arg("after", () => String, {
      nullable: true,
      description: 'The cursor of the last event received: windows closed after it are replayed first. "0" replays from the beginning.',
    })
    _after?: string | null,
  ): Promise<MonitoringWindow> {
    const id = String(event.payload.windowId);
    const row = await this.deps.monitoring.window(id);
    if (!row) throw new NotFoundError("MonitoringWindow", id);
    return MonitoringWindow.from(row);
  }

  // ---- alert rules

  @Query(() => AlertRuleConnection, { description: "A project's alert rules." })
  async alertRules(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project whose alert rules to list." }) projectId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => AlertRuleFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: AlertRuleFilter | null,
    @Arg("orderBy", () => AlertRuleOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: AlertRuleOrder | null,
  ): Promise<AlertRuleConnection> {
    ctx.authz.require(Permission.READ, projectId);
    MonitoringService.checkFilterIds({ ...filter }, ["monitorId"]);
    return AlertRuleConnection.from(
      await this.deps.monitoring.rules(projectId, filter ?? {}, page, alertRuleSort(orderBy)),
      AlertRule.from,
    );
  }

  @Mutation(() => AlertRuleResult, {
    description: "Adds an alert rule to a monitor (by monitorId, or servedName and variant). Needs EDITOR.",
  })
  createAlertRule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: CreateAlertRuleInput,
  ): Promise<typeof AlertRuleResult> {
    return captureErrors(() =>
      runMutation(ctx, { action: "alertRule.create", permission: Permission.WRITE, projectId: input.projectId, input }, async (tx) => {
        let monitor: MonitorRow | null;
        if (input.monitorId) {
          monitor = await this.deps.monitoring.monitor(input.monitorId, tx.manager);
          if (!monitor || monitor.projectId !== input.projectId) throw new NotFoundError("Monitor", input.monitorId);
        } else if (input.servedName) {
          const variant = input.variant ?? "primary";
          monitor = await tx.manager
            .getRepository(MonitorRow)
            .findOneBy({ projectId: input.projectId, servedName: input.servedName, variant });
          if (!monitor) throw new NotFoundError("Monitor", `${input.servedName} (${variant})`);
        } else throw new InvalidInputError([{ field: "monitorId", message: "give monitorId, or servedName (and variant)" }]);
        const rule = await this.deps.monitoring.createRule(tx, monitor, input);
        return { value: Object.assign(new AlertRulePayload(), { rule: AlertRule.from(rule) }), targetId: rule.id };
      }),
    );
  }

  @Mutation(() => AlertRuleResult, { description: "Changes an alert rule. Needs EDITOR." })
  async updateAlertRule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: UpdateAlertRuleInput,
  ): Promise<typeof AlertRuleResult> {
    return captureErrors(async () => {
      const found = await this.deps.monitoring.rule(input.ruleId);
      return runMutation(
        ctx,
        { action: "alertRule.update", permission: Permission.WRITE, projectId: found?.projectId, input },
        async (tx) => {
          const rule = await this.deps.monitoring.rule(input.ruleId, tx.manager);
          if (!rule) throw new NotFoundError("AlertRule", input.ruleId);
          const saved = await this.deps.monitoring.updateRule(tx, rule, input);
          return { value: Object.assign(new AlertRulePayload(), { rule: AlertRule.from(saved) }), targetId: saved.id };
        },
      );
    });
  }

  @Mutation(() => DeleteAlertRuleResult, { description: "Deletes an alert rule and its alerts. Needs EDITOR." })
  async deleteAlertRule(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: AlertRuleIdInput,
  ): Promise<typeof DeleteAlertRuleResult> {
    return captureErrors(async () => {
      const found = await this.deps.monitoring.rule(input.ruleId);
      return runMutation(
        ctx,
        { action: "alertRule.delete", permission: Permission.WRITE, projectId: found?.projectId, input },
        async (tx) => {
          const rule = await this.deps.monitoring.rule(input.ruleId, tx.manager);
          if (!rule) throw new NotFoundError("AlertRule", input.ruleId);
          await this.deps.monitoring.deleteRule(tx, rule);
          return { value: Object.assign(new DeleteAlertRulePayload(), { ruleId: rule.id }), targetId: rule.id };
        },
      );
    });
  }

  // ---- alerts

  @Query(() => AlertConnection, { description: "A project's alerts, newest first." })
  async alerts(
    @Ctx() ctx: RequestContext,
    @Arg("projectId", () => ID, { description: "The project whose alerts to list." }) projectId: string,
    @Args() page: PageArgsInput,
    @Arg("filter", () => AlertFilter, {
      nullable: true,
      description: "Narrows the list; omitted, the list holds everything the caller may read.",
    })
    filter?: AlertFilter | null,
    @Arg("orderBy", () => AlertOrder, { nullable: true, description: "How to sort the list; each list has its own default." })
    orderBy?: AlertOrder | null,
  ): Promise<AlertConnection> {
    ctx.authz.require(Permission.READ, projectId);
    MonitoringService.checkFilterIds({ ...filter }, ["ruleId", "slaId"]);
    return AlertConnection.from(await this.deps.monitoring.alerts(projectId, filter ?? {}, page, alertSort(orderBy)), Alert.from);
  }

  @Mutation(() => AlertResult, { description: "FIRING → ACKNOWLEDGED (event alert.acknowledged). Needs EDITOR." })
  acknowledgeAlert(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: AlertActionInput,
  ): Promise<typeof AlertResult> {
    return this.act(ctx, input, "alert.acknowledge", (tx, a) => this.deps.monitoring.acknowledge(tx, a, input.note));
  }

  @Mutation(() => AlertResult, { description: "Resolves an open alert by hand (event alert.resolved). Needs EDITOR." })
  resolveAlert(
    @Ctx() ctx: RequestContext,
    @Arg("input", { description: "What to do; each field is described on the input type." }) input: AlertActionInput,
  ): Promise<typeof AlertResult> {
    return this.act(ctx, input, "alert.resolve", (tx, a) => this.deps.monitoring.resolve(tx, a, input.note));
  }

  private act(
    ctx: RequestContext,
    input: AlertActionInput,
    action: string,
    work: (
      tx: Parameters<Parameters<typeof runMutation>[2]>[0],
      alert: NonNullable<Awaited<ReturnType<MonitoringResolverDeps["monitoring"]["alert"]>>>,
    ) => Promise<NonNullable<Awaited<ReturnType<MonitoringResolverDeps["monitoring"]["alert"]>>>>,
  ): Promise<typeof AlertResult> {
    return captureErrors(async () => {
      const found = await this.deps.monitoring.alert(input.alertId);
      return runMutation(ctx, { action, permission: Permission.WRITE, projectId: found?.projectId, input }, async (tx) => {
        const alert = await this.deps.monitoring.alert(input.alertId, tx.manager);
        if (!alert) throw new NotFoundError("Alert", input.alertId);
        const saved = await work(tx, alert);
        return {
          value: Object.assign(new AlertPayload(), { alert: Alert.from(saved) }),
          targetId: saved.id,
          result: { status: saved.status },
        };
      });
    });
  }
}

/** What MonitoringWindowResolver uses. */
export interface MonitoringWindowResolverDeps {
  monitoring: MonitoringService;
}

@Resolver(() => MonitoringWindow)
export class MonitoringWindowResolver {
  constructor(readonly deps: MonitoringWindowResolverDeps) {}

  @FieldResolver(() => [MetricValue], { description: "Every metric point the window stored (the series' values at this window)." })
  async metrics(@Root() w: MonitoringWindow, @Ctx() ctx: RequestContext): Promise<MetricValue[]> {
    ctx.authz.require(Permission.READ, w.projectId);
    if (w.metricRows) return w.metricRows;
    return (await this.deps.monitoring.metricsOfWindow(w.id)).map(MetricValue.from);
  }
}

export { Int };
