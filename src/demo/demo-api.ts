/**
 * The GraphQL operations the demo sends, in one place: each one a public API call a client of
 * Sluice could make, unwrapped so that any error result stops the demo with its message.
 */
import type { SluiceClient } from "../cli/client";

type Json = Record<string, any>;

export interface VersionView {
  id: string;
  version: number;
  status: string;
  metrics: Record<string, number>;
}

/** What the demo shows of a monitoring window. */
export interface WindowView {
  sequence: number;
  rows: number;
  driftedShare: number | null;
  /** The alert rule's metric: PSI of origin_delay_rate_7d. */
  delayRatePsi: number | null;
  rocAuc: number | null;
}

function windowView(w: Json): WindowView {
  const psi = (w.metrics as Json[]).find((m) => m.metric === "psi" && m.feature === "origin_delay_rate_7d");
  const live = w.performance?.live ?? {};
  return {
    sequence: w.sequence,
    rows: w.rows,
    driftedShare: w.driftedShare ?? null,
    delayRatePsi: psi ? psi.value : null,
    rocAuc: typeof live.roc_auc === "number" ? live.roc_auc : null,
  };
}

export class DemoApi {
  constructor(readonly client: SluiceClient) {}

  private async mutate(field: string, inputType: string, input: Json, expected: string, select: string): Promise<Json> {
    return this.client.mutate<Json>(field, inputType, input, expected, select);
  }

  async createProject(name: string, description: string): Promise<string> {
    const r = await this.mutate("createProject", "CreateProjectInput", { name, description }, "ProjectPayload", "project { id }");
    return r.project.id;
  }

  async applyPipeline(projectId: string, spec: Json, baseDir: string): Promise<string> {
    const r = await this.mutate(
      "applyPipeline",
      "ApplyPipelineInput",
      { projectId, spec, baseDir },
      "ApplyPipelinePayload",
      "pipeline { id }",
    );
    return r.pipeline.id;
  }

  async createRegisteredModel(projectId: string, name: string, description: string): Promise<string> {
    const r = await this.mutate(
      "createRegisteredModel",
      "CreateRegisteredModelInput",
      { projectId, name, description },
      "RegisteredModelPayload",
      "registeredModel { id }",
    );
    return r.registeredModel.id;
  }

  async setModelPolicy(registeredModelId: string, policy: Json): Promise<void> {
    await this.mutate("setModelPolicy", "SetModelPolicyInput", { registeredModelId, policy }, "ModelPolicyPayload", "policy");
  }

  async triggerRun(pipelineId: string, params: Json): Promise<string> {
    const r = await this.mutate("triggerRun", "TriggerRunInput", { pipelineId, params }, "RunPayload", "run { id }");
    return r.run.id;
  }

  async run(id: string): Promise<{
    id: string;
    number: number;
    status: string;
    stageRuns: Array<{ stageName: string; status: string; failure: Json | null }>;
  }> {
    const data = await this.client.request<Json>(
      `query($id: ID!) { run(id: $id) { id number status stageRuns { stageName status failure } } }`,
      { id },
    );
    return data.run;
  }

  /** Runs of the pipeline started by an event trigger, oldest first, after the first `skip`. */
  async retrainingRuns(pipelineId: string, skip = 0): Promise<Array<{ id: string; number: number }>> {
    const data = await this.client.request<Json>(
      `query($f: RunFilter) { runs(filter: $f, first: 100, orderBy: { field: NUMBER, direction: ASC }) { nodes { id number } } }`,
      { f: { pipelineId, triggerKind: "EVENT" } },
    );
    return (data.runs.nodes as Array<{ id: string; number: number }>).slice(skip);
  }

  /** Waits (up to a minute) until the event trigger has started at least `count` runs of the pipeline. */
  async waitForRetrainingRuns(pipelineId: string, count: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while ((await this.retrainingRuns(pipelineId)).length < count) {
      if (Date.now() > deadline) throw new Error("an alert fired but the retraining trigger started no run within a minute");
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The version `champion` points at, if any. */
  async champion(projectId: string, model: string): Promise<VersionView | null> {
    const data = await this.client.request<Json>(
      `query($p: ID!, $n: String!) { registeredModel(projectId: $p, name: $n) { versions(first: 100) { nodes { id version status metrics aliases } } } }`,
      { p: projectId, n: model },
    );
    const v = data.registeredModel?.versions.nodes.find((n: Json) => n.aliases.includes("champion"));
    return v ? { id: v.id, version: v.version, status: v.status, metrics: v.metrics } : null;
  }

  /** An endpoint serving `model`, following `alias`. */
  async deploy(projectId: string, name: string, model: string, alias: string): Promise<void> {
    await this.mutate(
      "deployModel",
      "DeployModelInput",
      { projectId, name, model, alias, mode: "REALTIME" },
      "DeploymentPayload",
      "deployment { id }",
    );
  }

  /**
   * A monitor on the endpoint (a window every `windowSize` predictions; PSI for every feature:
   * it grades how far a distribution moved rather than whether it moved at all, which large
   * windows of real data always do), and the alert rule: PSI of an airport's 7-day delay rate
   * above 1.0 — a distribution that moved a lot, not a weather week — in two windows in a row.
   */
  async setUpMonitoring(projectId: string, servedName: string, windowSize: number, features: readonly string[]): Promise<string> {
    const monitor = await this.mutate(
      "createMonitor",
      "CreateMonitorInput",
      { projectId, servedName, windowSize, featureOverrides: features.map((feature) => ({ feature, method: "psi" })) },
      "MonitorPayload",
      "monitor { id }",
    );
    await this.mutate(
      "createAlertRule",
      "CreateAlertRuleInput",
      {
        projectId,
        monitorId: monitor.monitor.id,
        name: "origin-delay-rate-shift",
        metric: "psi",
        feature: "origin_delay_rate_7d",
        op: "GT",
        threshold: 1.0,
        windows: 2,
        severity: "WARNING",
      },
      "AlertRulePayload",
      "rule { id }",
    );
    return monitor.monitor.id;
  }

  /** `alert.fired` on this endpoint → a run of the pipeline with `params`. */
  async createRetrainingRule(projectId: string, pipelineId: string, servedName: string, params: Json): Promise<void> {
    await this.mutate(
      "createEventRule",
      "CreateEventRuleInput",
      { pipelineId, name: "retrain-on-alert", eventType: "alert.fired", filter: { "payload.servedName": servedName }, params },
      "EventRulePayload",
      "eventRule { id }",
    );
  }

  /** Closes what the monitor has buffered into a window now (the end of a month). */
  async closeWindow(monitorId: string): Promise<void> {
    // Nothing buffered (a ConflictError) is not an error for the demo.
    await this.client.mutate("closeMonitoringWindow", "MonitorIdInput", { monitorId }, "MonitoringWindowPayload", "window { id }", [
      "ConflictError",
    ]);
  }

  /** Closed windows of the endpoint after `sequence`, oldest first. */
  async windowsAfter(projectId: string, servedName: string, sequence: number): Promise<WindowView[]> {
    const data = await this.client.request<Json>(
      `query($p: ID!, $s: String!) { monitoringWindows(projectId: $p, servedName: $s, first: 500) { nodes { sequence rows driftedShare performance metrics { metric feature value } } } }`,
      { p: projectId, s: servedName },
    );
    return (data.monitoringWindows.nodes as Json[])
      .filter((w) => w.sequence > sequence)
      .sort((a, b) => a.sequence - b.sequence)
      .map(windowView);
  }

  /** Calls `onWindow` as each window of the endpoint closes (the `driftMetricEvents` subscription); returns a function that stops. */
  watchWindows(projectId: string, servedName: string, onWindow: (w: WindowView) => void): () => void {
    return this.client.subscribe<Json>(
      `subscription($p: ID!, $s: String!) { driftMetricEvents(projectId: $p, servedName: $s) { sequence rows driftedShare performance metrics { metric feature value } } }`,
      { p: projectId, s: servedName },
      { next: (data) => onWindow(windowView(data.driftMetricEvents)), error: () => undefined, complete: () => undefined },
    );
  }

  /** Alerts of the endpoint, newest first. */
  async alerts(projectId: string, servedName: string): Promise<Array<{ id: string; status: string; value: number; firedAt: string }>> {
    const data = await this.client.request<Json>(
      `query($p: ID!, $f: AlertFilter) { alerts(projectId: $p, filter: $f, first: 500) { nodes { id status value firedAt } } }`,
      { p: projectId, f: { servedName } },
    );
    return data.alerts.nodes;
  }

  /** The last day of flights `version` was trained on. */
  async trainedThroughOf(projectId: string, model: string, version: number): Promise<string> {
    return (await this.versions(projectId, model)).find((v) => v.version === version)?.trainedThrough ?? "?";
  }

  /** Every version, oldest first, with the last month of the flights it was trained on. */
  async versions(projectId: string, model: string) {
    const data = await this.client.request<Json>(
      `query($p: ID!, $n: String!) { registeredModel(projectId: $p, name: $n) { versions(first: 100) { nodes { version status metrics aliases lineage } } } }`,
      { p: projectId, n: model },
    );
    const nodes: Json[] = data.registeredModel?.versions.nodes ?? [];
    const flights = await this.client.request<Json>(`query($p: ID!) { dataset(projectId: $p, name: "flights") { id } }`, { p: projectId });
    const out = [];
    for (const v of [...nodes].sort((a, b) => a.version - b.version)) {
      out.push({
        version: v.version,
        status: v.status,
        rocAuc: typeof v.metrics.roc_auc === "number" ? v.metrics.roc_auc : null,
        trainedThrough: await this.trainedThrough(v.lineage, flights.dataset?.id),
        aliases: v.aliases as string[],
      });
    }
    return out;
  }

  /** The latest flight date in the `flights` dataset version the model was trained from. */
  private async trainedThrough(lineage: Json, flightsId: string | undefined): Promise<string> {
    for (const id of (lineage.datasetVersionIds as string[] | undefined) ?? []) {
      const data = await this.client.request<Json>(
        `query($id: ID!) { datasetVersion(id: $id) { datasetId profile { columns { name max } } } }`,
        {
          id,
        },
      );
      const dv = data.datasetVersion;
      if (!dv || dv.datasetId !== flightsId) continue;
      const max = dv.profile?.columns.find((c: Json) => c.name === "date")?.max?.value;
      if (max) return String(max).slice(0, 10);
    }
    return "?";
  }
}
