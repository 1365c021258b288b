/**
 * The end-to-end demo `npm start` runs: the whole life of a model on real data, through the
 * public API only (GraphQL, OIP v2 over HTTP), as a platform team would drive Sluice.
 *
 * January and February 2001 land; the flights example pipeline ingests, validates, builds
 * point-in-time airport features, trains a delay classifier, evaluates it and passes the approval
 * gate under a demo policy (automatic approval when ROC AUC ≥ 0.6), which promotes it to
 * `champion`. An endpoint follows `champion`; a monitor watches it; an alert rule on feature drift
 * starts the same pipeline again through an event trigger. Then March–June are replayed through
 * the endpoint at speed with their real outcomes, a month landing after it is replayed: the
 * seasonal change in delays drifts the airport features, the alert fires, the retrained model
 * (on the months landed by then) goes through evaluation and the policy, and the endpoint swaps
 * to it. A summary closes.
 */
import path from "node:path";
import type { ConnectionSettings, SluiceClient } from "../cli/client";
import { rocAuc } from "../evaluation/classification";
import { loadSpecFile } from "../pipelines/load";
import { buildReplaySet, flightsExample, flightsFile, landFlights, monthEnd, type ReplayFlight } from "./flights-data";
import { Progress, fmt3, fmtInt, seconds } from "./progress";
import { type EnrichmentProbe, probeEnrichment, replayFlights } from "./replay";
import { DemoApi } from "./demo-api";

export const DEMO_PROJECT = "flights-demo";
export const DEMO_MODEL = "flight-delays";
export const DEMO_ENDPOINT = "flight-delays";
const TRAINED_ON = ["2001-01", "2001-02"];
const REPLAYED = ["2001-03", "2001-04", "2001-05", "2001-06"];
const MONTH_NAMES: Record<string, string> = {
  "2001-01": "January",
  "2001-02": "February",
  "2001-03": "March",
  "2001-04": "April",
  "2001-05": "May",
  "2001-06": "June",
};

export interface DemoOptions {
  /** The running server, `http://host:port`. */
  baseUrl: string;
  token: string;
  /** The API client to talk to it with (the command line's, handed in by whoever starts the demo). */
  connect: (settings: ConnectionSettings) => SluiceClient;
  /** Where package.json and examples/ are. */
  repoRoot: string;
  /** Scratch space: the landing file and the replay set (inside the server's data roots). */
  workDir: string;
  /** Flights replayed per month. */
  perMonth: number;
  /** Flights per training label sample (the example's `labels.sample`). */
  trainingSample: number;
  /** Predictions per monitoring window. */
  windowSize: number;
  out: (line: string) => void;
}

export interface MonthSummary {
  month: string;
  flights: number;
  /** Live ROC AUC of the answers given this month, from the outcomes. */
  auc: number | null;
  /** The versions that answered, and how many flights each. */
  versions: Record<string, number>;
  /** Windows closed this month and the largest PSI of origin_delay_rate_7d among them. */
  windows: number;
  maxPsi: number | null;
  alerts: number;
}

export interface DemoSummary {
  projectId: string;
  versions: Array<{ version: number; status: string; rocAuc: number | null; trainedThrough: string; aliases: string[] }>;
  months: MonthSummary[];
  retrainingRuns: number;
  /** The online-enrichment probe at the start of the replay. */
  enrichment: EnrichmentProbe;
}

export async function runFlightsDemo(o: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  const p = new Progress(o.out, 9);
  const client = o.connect({ url: `${o.baseUrl}/graphql`, wsUrl: `${o.baseUrl.replace(/^http/, "ws")}/graphql`, token: o.token });
  const api = new DemoApi(client);
  const raw = flightsFile(o.repoRoot);
  const landing = path.join(o.workDir, "landing", "flights.parquet");

  p.begin(`project ${DEMO_PROJECT}; ${MONTH_NAMES[TRAINED_ON[0]!]}–${MONTH_NAMES[TRAINED_ON.at(-1)!]} 2001 land`);
  const projectId = await api.createProject(DEMO_PROJECT, "The end-to-end flights demo (npm start)");
  const landed = await landFlights(raw, landing, monthEnd(TRAINED_ON.at(-1)!));
  p.detail(`${fmtInt(landed)} flights in ${path.relative(o.repoRoot, landing)} (from ${path.relative(o.repoRoot, raw)})`);

  p.begin("the flights example pipeline, and a demo policy for flight-delays");
  const { spec, baseDir } = await loadSpecFile(path.join(o.repoRoot, "examples/flights/pipeline.ts"));
  const pipelineId = await api.applyPipeline(projectId, spec as unknown as Record<string, unknown>, baseDir);
  const modelId = await api.createRegisteredModel(projectId, DEMO_MODEL, "Will a flight leave more than 15 minutes late?");
  const policy = { metrics: [{ metric: "roc_auc", min: 0.6 }], approvals: { required: 0 } };
  await api.setModelPolicy(modelId, policy);
  p.detail(`policy: roc_auc ≥ 0.6 on the held-out split, no approver needed (a demo; the default needs one approver)`);
  // The run reads whatever has landed; the retraining trigger passes the same parameters.
  const runParams = { ingest: { paths: [landing], where: "date IS NOT NULL" }, labels: { sample: o.trainingSample } };

  p.begin("training run: ingest → validate → features → training set → train → evaluate → approval gate");
  const first = await api.triggerRun(pipelineId, runParams);
  await waitForRun(api, first, p);
  let champion = await api.champion(projectId, DEMO_MODEL);
  if (!champion) throw new Error(`the training run finished but ${DEMO_MODEL} has no approved champion`);
  p.detail(`${DEMO_MODEL} v${champion.version}: ${champion.status}, roc_auc ${fmt3(champion.metrics.roc_auc)} → champion`);

  p.begin(`endpoint ${DEMO_ENDPOINT}, following ${DEMO_MODEL}@champion`);
  await api.deploy(projectId, DEMO_ENDPOINT, DEMO_MODEL, "champion");
  p.detail(`OIP v2: POST ${o.baseUrl}/v2/models/${DEMO_ENDPOINT}/infer`);

  p.begin("monitoring, an alert rule, and retraining on alert");
  const monitorId = await api.setUpMonitoring(projectId, DEMO_ENDPOINT, o.windowSize, flightsExample(o.repoRoot).features);
  await api.createRetrainingRule(projectId, pipelineId, DEMO_ENDPOINT, runParams);
  p.detail(`a window every ${fmtInt(o.windowSize)} predictions: PSI of each input against the training data, live ROC AUC from outcomes`);
  p.detail(`alert: PSI of origin_delay_rate_7d above 1.0 in 2 windows in a row → alert.fired → event trigger → training run`);

  p.begin(`the replay set: ${fmtInt(o.perMonth)} flights a month, ${MONTH_NAMES[REPLAYED[0]!]}–${MONTH_NAMES[REPLAYED.at(-1)!]}`);
  const flights = await buildReplaySet({
    raw,
    repoRoot: o.repoRoot,
    workDir: path.join(o.workDir, "replay"),
    months: REPLAYED,
    perMonth: o.perMonth,
  });
  p.detail(`${fmtInt(flights.length)} flights with point-in-time airport features (the example's feature views)`);

  // The replay clock starts where the landed data ends; the online store is read as of it.
  const replayClock = new Date(`${REPLAYED[0]}-01T00:00:00Z`);
  p.begin(`online features: airports looked up by the endpoint as of the replay clock (${replayClock.toISOString().slice(0, 10)})`);
  const target = { baseUrl: o.baseUrl, token: o.token, projectId, endpoint: DEMO_ENDPOINT, model: DEMO_MODEL };
  const enrichment = await probeEnrichment(target, flights.slice(0, 50), replayClock);
  p.detail(
    `${enrichment.flights} flights sent with their airports only: ${fmtInt(enrichment.lookedUp)} airport lookups, ${fmtInt(enrichment.imputed)} imputed (unknown, or outside the 7-day TTL)`,
  );
  p.detail(`the replay below sends each flight's point-in-time features itself, as of its own departure`);

  p.begin("replaying the flights through the endpoint, a month at a time");
  const months: MonthSummary[] = [];
  let retrainingRuns = 0;
  let lastWindow = 0;
  const stopWatching = api.watchWindows(projectId, DEMO_ENDPOINT, (w) =>
    p.detail(
      `  window ${w.sequence}: ${fmtInt(w.rows)} predictions, drifted features ${fmt3(w.driftedShare)}, PSI origin_delay_rate_7d ${fmt3(w.delayRatePsi)}, live roc_auc ${fmt3(w.rocAuc)}`,
    ),
  );
  try {
    for (const month of REPLAYED) {
      const alertsBefore = (await api.alerts(projectId, DEMO_ENDPOINT)).length;
      const replayStart = Date.now();
      const ofMonth = flights.filter((f) => f.month === month);
      p.detail(
        `${MONTH_NAMES[month]}: ${fmtInt(ofMonth.length)} flights through ${DEMO_ENDPOINT}, 50 a request, 8 requests at a time; outcomes recorded as they land`,
      );
      const answered = { probabilities: [] as number[], labels: [] as number[], versions: {} as Record<string, number> };
      await replayFlights(client, target, ofMonth, {
        batchSize: 50,
        concurrency: 8,
        onBatch: (b) => {
          b.probabilities.forEach((pr, i) => {
            answered.probabilities.push(pr);
            answered.labels.push(b.flights[i]!.delayed);
          });
          answered.versions[b.version] = (answered.versions[b.version] ?? 0) + b.flights.length;
        },
      });
      const auc = rocAuc(Int32Array.from(answered.labels), Float64Array.from(answered.probabilities)).value;
      const took = Date.now() - replayStart;
      // The month's flights have left: they land, for whatever trains next.
      await landFlights(raw, landing, monthEnd(month));
      // The month ends: what the monitor holds of it closes as a window. (Every prediction is in
      // the log by now: its outcome was joined to it.)
      await api.closeWindow(monitorId);
      const windows = await api.windowsAfter(projectId, DEMO_ENDPOINT, lastWindow);
      lastWindow = windows.at(-1)?.sequence ?? lastWindow;
      const alerts = (await api.alerts(projectId, DEMO_ENDPOINT)).length - alertsBefore;
      // Lets the subscription print the month's last window before the month's line.
      await new Promise((r) => setTimeout(r, 500));
      const by = Object.entries(answered.versions)
        .map(([v, n]) => `v${v}: ${fmtInt(n)}`)
        .join(", ");
      p.detail(
        `${MONTH_NAMES[month]}: ${fmtInt(ofMonth.length)} flights in ${seconds(took)} (${by}), live roc_auc ${fmt3(auc)}, ${windows.length} windows, ${alerts} alert(s) fired`,
      );
      months.push({
        month,
        flights: ofMonth.length,
        auc,
        versions: answered.versions,
        windows: windows.length,
        maxPsi: windows.length ? Math.max(...windows.map((w) => w.delayRatePsi ?? 0)) : null,
        alerts,
      });
      // Retraining started by an alert: the demo lets it finish before the next month, as a month
      // would. The trigger starts the run just after the alert's event: give it a moment to appear.
      if (alerts > 0) await api.waitForRetrainingRuns(pipelineId, retrainingRuns + 1);
      for (const run of await api.retrainingRuns(pipelineId, retrainingRuns)) {
        retrainingRuns++;
        p.detail(`alert.fired → event trigger → retraining run #${run.number} on the flights landed so far`);
        await waitForRun(api, run.id, p);
        const now = await api.champion(projectId, DEMO_MODEL);
        if (now && now.version !== champion!.version) {
          const through = await api.trainedThroughOf(projectId, DEMO_MODEL, now.version);
          p.detail(
            `${DEMO_MODEL} v${now.version} (flights through ${through}): roc_auc ${fmt3(now.metrics.roc_auc)}, approved by policy → champion; the endpoint swaps to it`,
          );
          champion = now;
        }
      }
    }
  } finally {
    stopWatching();
  }

  p.begin(`summary (${seconds(Date.now() - started)})`);
  const versions = await api.versions(projectId, DEMO_MODEL);
  const summary: DemoSummary = { projectId, versions, months, retrainingRuns, enrichment };
  for (const line of summaryLines(summary, o.baseUrl)) p.line(line);
  return summary;
}

async function waitForRun(api: DemoApi, runId: string, p: Progress): Promise<void> {
  const seen = new Map<string, string>();
  for (;;) {
    const run = await api.run(runId);
    for (const s of run.stageRuns) {
      if (seen.get(s.stageName) === s.status) continue;
      seen.set(s.stageName, s.status);
      if (["SUCCEEDED", "FAILED", "SKIPPED", "WAITING"].includes(s.status)) {
        p.detail(`  ${s.stageName.padEnd(22)} ${s.status}${s.failure ? `: ${s.failure.message}` : ""}`);
      }
    }
    if (["SUCCEEDED", "FAILED", "CANCELED"].includes(run.status)) {
      if (run.status !== "SUCCEEDED") throw new Error(`run #${run.number} ${run.status}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function summaryLines(s: DemoSummary, baseUrl: string): string[] {
  const lines = ["", "  Model versions of flight-delays:"];
  for (const v of s.versions) {
    lines.push(
      `    v${v.version}  ${v.status.padEnd(16)} roc_auc ${fmt3(v.rocAuc)}  trained on flights through ${v.trainedThrough}${v.aliases.length ? `  [${v.aliases.join(", ")}]` : ""}`,
    );
  }
  lines.push(
    "",
    "  Replayed months (live ROC AUC from the outcomes; PSI = the largest PSI of origin_delay_rate_7d in the month's windows):",
  );
  for (const m of s.months) {
    const by = Object.entries(m.versions)
      .map(([v, n]) => `v${v} ${fmtInt(n)}`)
      .join(", ");
    lines.push(
      `    ${MONTH_NAMES[m.month]!.padEnd(9)} roc_auc ${fmt3(m.auc)}  PSI ${fmt3(m.maxPsi)}  windows ${m.windows}  alerts ${m.alerts}  answered by ${by}`,
    );
  }
  lines.push(`  Retraining runs started by alerts: ${s.retrainingRuns}`);
  const e = s.enrichment;
  lines.push(
    `  Online features as of ${e.asOf.slice(0, 10)} (the replay clock): ${fmtInt(e.lookedUp)} airport lookups for ${fmtInt(e.flights)} flights, ${fmtInt(e.imputed)} imputed`,
  );
  lines.push(
    "",
    `  GraphQL (queries, mutations, subscriptions): ${baseUrl}/graphql — for example:`,
    ...summaryQueries(s.projectId).map((q) => `    ${q}`),
    `  Inference (Open Inference Protocol v2):     ${baseUrl}/v2/models/${DEMO_ENDPOINT}/infer   (header X-Sluice-Project: ${DEMO_PROJECT})`,
    `  Metrics:                                    ${baseUrl}/metrics`,
    "",
  );
  return lines;
}

/**
 * The GraphQL operations the summary suggests, ready to paste (test/demo/summary-queries.test.ts
 * checks that each one validates against the schema).
 */
export function summaryQueries(projectId: string): string[] {
  const p = JSON.stringify(projectId);
  const m = JSON.stringify(DEMO_MODEL);
  const e = JSON.stringify(DEMO_ENDPOINT);
  return [
    `{ registeredModel(projectId: ${p}, name: ${m}) { versions { nodes { version status aliases metrics } } } }`,
    `{ monitoringWindows(projectId: ${p}, servedName: ${e}, first: 5) { nodes { sequence rows driftedShare performance } } }`,
    `{ alerts(projectId: ${p}, first: 5) { nodes { status value firedAt } } }`,
    `{ runs(filter: { projectId: ${p} }) { nodes { number status triggerKind } } }`,
    `subscription { driftMetricEvents(projectId: ${p}, servedName: ${e}) { sequence rows driftedShare } }`,
  ];
}

export type { ReplayFlight };
