import path from "node:path";
import { dataOf, type TestServer } from "./server";
import { eventually } from "./eventually";

/** Stage modules the run-engine tests use, loaded from source by the local runner. */
export const RUN_FIXTURES = path.resolve(__dirname, "../../../test/runs/fixtures");

/** A module stage running `fn` from test/runs/fixtures/stages.ts. */
export function moduleRun(fn: string): { module: string; export: string } {
  return { module: "./stages.ts", export: fn };
}

export async function applyPipeline(
  t: TestServer,
  projectId: string,
  spec: Record<string, unknown>,
  baseDir: string = RUN_FIXTURES,
): Promise<{ pipelineId: string; versionId: string; version: number; outcome: string }> {
  const res = dataOf(
    await t.gql(
      `mutation($i: ApplyPipelineInput!) { applyPipeline(input: $i) {
         __typename ... on ApplyPipelinePayload { outcome pipeline { id } version { id version } }
         ... on InvalidInputError { problems { field message } } ... on Error { message } } }`,
      { i: { projectId, spec, baseDir } },
    ),
  );
  const r = res.applyPipeline;
  if (r.__typename !== "ApplyPipelinePayload") throw new Error(`applyPipeline: ${r.__typename} ${JSON.stringify(r.problems ?? r.message)}`);
  return { pipelineId: r.pipeline.id, versionId: r.version.id, version: r.version.version, outcome: r.outcome };
}

export async function triggerRun(t: TestServer, pipelineId: string, params?: Record<string, unknown>): Promise<string> {
  const res = dataOf(
    await t.gql(
      `mutation($i: TriggerRunInput!) { triggerRun(input: $i) { __typename ... on RunPayload { run { id } } ... on Error { message } } }`,
      { i: { pipelineId, params } },
    ),
  );
  if (res.triggerRun.__typename !== "RunPayload") throw new Error(`triggerRun: ${res.triggerRun.message}`);
  return res.triggerRun.run.id;
}

export const RUN_FIELDS = `id number status error stageRuns { id stageName status attempt maxAttempts failure reuseReason reusedFrom
  outputs { id kind hash outputName } inputs { inputName artifact { id } } attempts { attempt outcome failure } }`;

export interface RunView {
  id: string;
  number: number;
  status: string;
  error: Record<string, unknown> | null;
  stageRuns: Array<{
    id: string;
    stageName: string;
    status: string;
    attempt: number;
    maxAttempts: number;
    failure: Record<string, any> | null;
    reuseReason: string | null;
    reusedFrom: string | null;
    outputs: Array<{ id: string; kind: string; hash: string; outputName: string }>;
    inputs: Array<{ inputName: string; artifact: { id: string } }>;
    attempts: Array<{ attempt: number; outcome: string | null; failure: Record<string, any> | null }>;
  }>;
}

export async function getRun(t: TestServer, runId: string): Promise<RunView> {
  return dataOf(await t.gql(`query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id: runId })).run;
}

/** Polls until the run is finished (or `until` holds); fails the test after `timeoutMs`. */
export async function waitForRun(t: TestServer, runId: string, timeoutMs = 15_000, until?: (r: RunView) => boolean): Promise<RunView> {
  const finished = (status: string) => ["SUCCEEDED", "FAILED", "CANCELED"].includes(status);
  const stages = (run: RunView) => JSON.stringify(run.stageRuns.map((s) => [s.stageName, s.status]));
  return eventually(
    async () => {
      if (!until) {
        // A light poll; the whole run is read once, at the end.
        const { status } = dataOf(await t.gql(`query($id: ID!) { run(id: $id) { status } }`, { id: runId })).run;
        if (finished(status)) return getRun(t, runId);
        throw new Error(`run ${runId} still ${status}`);
      }
      const run = await getRun(t, runId);
      if (until(run)) return run;
      throw new Error(`run ${runId} still ${run.status}: ${stages(run)}`);
    },
    { timeoutMs, intervalMs: 40 },
  ).catch(async (err: Error) => {
    // Say where each stage stood when the wait gave up.
    if (!until) err.message += `: ${stages(await getRun(t, runId))}`;
    throw err;
  });
}

export function stage(run: RunView, name: string): RunView["stageRuns"][number] {
  const s = run.stageRuns.find((x) => x.stageName === name);
  if (!s) throw new Error(`no stage ${name} in run`);
  return s;
}
