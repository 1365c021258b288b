/**
 * A typed client of a Sluice server's GraphQL API, for scripts and tests in a pipeline
 * repository: apply a pipeline, run it, wait for it, decide its approval, deploy and call the
 * model. Plain `fetch`, no dependency. Anything the typed methods do not cover goes through
 * `request` (any query or mutation) or `mutate` (a mutation whose result union is unwrapped).
 */
import type { PipelineSpec } from "./spec";

/** Where the server is and who calls it. */
export interface ClientOptions {
  /** The server's address (`http://host:4000`, with or without `/graphql`). @default env SLUICE_URL, else http://localhost:4000 */
  url?: string;
  /** A Sluice API token. @default env SLUICE_TOKEN */
  token?: string;
  /** Gives up on one request after this long. @default 60000 */
  timeoutMs?: number;
}

/** One problem with an input: the field (a dotted path) and what is wrong with it. */
export interface InputProblem {
  field: string;
  message: string;
}

/**
 * The server refused or failed a call. `code` is the GraphQL error code (`BAD_USER_INPUT`,
 * `FORBIDDEN`, …) or the result union's member (`InvalidInputError`, `NotFoundError`, …);
 * `problems` names the inputs that were wrong.
 */
export class SluiceError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly problems: readonly InputProblem[] = [],
  ) {
    super(message);
    this.name = "SluiceError";
  }
}

/** One GraphQL error as the server answers it. */
export interface GraphQLErrorEntry {
  message: string;
  extensions?: Record<string, unknown>;
}

/**
 * Why one request failed, before it becomes the error `request` throws: the server could not be
 * reached, answered something that is not GraphQL, answered without data, or answered errors.
 */
export type RequestFailure =
  | { kind: "unreachable"; detail: string }
  | { kind: "not-graphql"; status: number }
  | { kind: "no-data"; status: number }
  | { kind: "graphql"; errors: readonly GraphQLErrorEntry[] };

/** What a failed `fetch` (or WebSocket) says about why: the system's code (`ECONNREFUSED`) when there is one. */
export function networkErrorDetail(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return (
    cause?.code ??
    cause?.message ??
    (err instanceof Error ? err.message : (err as { message?: string } | undefined)?.message) ??
    String(err)
  );
}

/** A run as the typed methods return it. */
export interface RunView {
  id: string;
  number: number;
  status: "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELED" | (string & {});
  pipelineId: string;
  projectId: string;
  error: Record<string, unknown> | null;
  stageRuns: Array<{ id: string; stageName: string; status: string; failure: Record<string, unknown> | null }>;
}

/** A registered model's version as the typed methods return it. */
export interface ModelVersionView {
  id: string;
  version: number;
  status: string;
  metrics: Record<string, unknown>;
  aliases: string[];
  approvalRequest: { id: string; status: string; reason: string; requestedBy: string | null } | null;
}

/** What `applyPipeline` did: the pipeline, its version now and whether the spec changed it. */
export interface AppliedPipeline {
  pipelineId: string;
  version: number;
  outcome: "CREATED" | "UPDATED" | "UNCHANGED" | (string & {});
}

/** Runs that ended: `waitForRun` returns when the run reaches one of these. */
export const FINAL_RUN_STATUSES: readonly string[] = ["SUCCEEDED", "FAILED", "CANCELED"];

/** The fields every result union's error members share, selected by `mutate`. */
const ERROR_FIELDS = `__typename
  ... on Error { code message }
  ... on InvalidInputError { problems { field message } }`;

const RUN_FIELDS = "id number status pipelineId projectId error stageRuns { id stageName status failure }";
const VERSION_FIELDS = "id version status metrics aliases approvalRequest { id status reason requestedBy }";

type Json = Record<string, any>;

/**
 * One row's answer (GraphQL `predict`, the OIP records form): each model output by its name. A
 * classifier whose version has class names answers the class name as `label` and its index as
 * `label_index` (as scikit-learn/skl2onnx do); without class names `label` is the model's own
 * output, usually the index. A regressor answers `variable`.
 */
export interface Prediction {
  label?: string | number;
  label_index?: number;
  probabilities?: number[];
  variable?: number | number[];
  [output: string]: unknown;
}

/** One output tensor of an OIP answer: a classifier with class names gives `label` as BYTES (the names) and `label_index` as INT64. */
export interface OipOutput {
  name: string;
  datatype: string;
  shape: number[];
  /** Row-major values: strings for BYTES, numbers for the numeric datatypes. */
  data: Array<string | number | boolean>;
  parameters?: Record<string, unknown>;
}

/** An OIP answer: `outputs` for the tensor form, `predictions` for the records form (`instances`). */
export interface OipAnswer {
  model_name: string;
  model_version: string;
  id: string;
  outputs?: OipOutput[];
  predictions?: Prediction[];
  parameters?: Record<string, unknown>;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Talks to one Sluice server over HTTP. */
export class SluiceClient {
  /** The GraphQL endpoint. */
  readonly url: string;
  /** The server's base address (the OIP routes live under it). */
  readonly server: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    const env = typeof process === "object" ? process.env : {};
    const base = (options.url ?? env.SLUICE_URL ?? "http://localhost:4000").replace(/\/+$/, "");
    this.server = base.replace(/\/graphql$/, "");
    this.url = `${this.server}/graphql`;
    this.token = options.token ?? env.SLUICE_TOKEN;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /**
   * Runs one query or mutation and returns its `data`. A 429 is retried (three times, as
   * `Retry-After` says, at most 5 s each).
   * @throws SluiceError for GraphQL errors (code from `extensions.code`) or an unreachable server.
   */
  async request<T = Json>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await this.post(this.url, { query, variables });
    let body: { data?: T | null; errors?: GraphQLErrorEntry[] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw this.failure({ kind: "not-graphql", status: res.status });
    }
    if (body.errors?.length) throw this.failure({ kind: "graphql", errors: body.errors });
    if (!body.data) throw this.failure({ kind: "no-data", status: res.status });
    return body.data;
  }

  /**
   * The error a failed request throws: a {@link SluiceError}. A subclass that reports failures its
   * own way (the `sluice` command line) overrides this, keeping the request and its retries.
   */
  protected failure(failure: RequestFailure): Error {
    switch (failure.kind) {
      case "unreachable":
        return new SluiceError(`cannot reach the Sluice server at ${this.server} (${failure.detail})`, "UNREACHABLE");
      case "not-graphql":
        return new SluiceError(`${this.url} answered HTTP ${failure.status} without a GraphQL response`, `HTTP_${failure.status}`);
      case "no-data":
        return new SluiceError(`${this.url} answered HTTP ${failure.status} without data`, `HTTP_${failure.status}`);
      case "graphql": {
        const [first] = failure.errors;
        const problems = Array.isArray(first.extensions?.problems) ? (first.extensions.problems as InputProblem[]) : [];
        const code = String(first.extensions?.code ?? "GRAPHQL_ERROR");
        return new SluiceError(failure.errors.map((e) => e.message).join("; "), code, problems);
      }
    }
  }

  /**
   * Runs the mutation `field(input: $i)` and returns its `expected` result member (selecting
   * `select` on it).
   * @throws SluiceError with the member's name as `code` when the result is an error member.
   */
  async mutate<T = Json>(field: string, inputType: string, input: Record<string, unknown>, expected: string, select: string): Promise<T> {
    const data = await this.request<Record<string, Json>>(
      `mutation($i: ${inputType}!) { ${field}(input: $i) { ${ERROR_FIELDS} ... on ${expected} { ${select} } } }`,
      { i: input },
    );
    const result = data[field];
    if (result.__typename === expected) return result as T;
    const problems = (result.problems ?? []) as InputProblem[];
    const detail = problems.length > 0 ? problems.map((p) => `${p.field}: ${p.message}`).join("; ") : (result.message ?? result.__typename);
    throw new SluiceError(`${field}: ${detail}`, result.__typename, problems);
  }

  /** The project of that name, or null. */
  async project(name: string): Promise<{ id: string; name: string } | null> {
    const data = await this.request<Json>(`query($n: String) { project(name: $n) { id name } }`, { n: name });
    return data.project ?? null;
  }

  /** The project of that name, created (with `description`) when there is none. */
  async ensureProject(name: string, description = ""): Promise<{ id: string; name: string }> {
    const found = await this.project(name);
    if (found) return found;
    const r = await this.mutate<Json>(
      "createProject",
      "CreateProjectInput",
      { name, description },
      "ProjectPayload",
      "project { id name }",
    );
    return r.project;
  }

  /**
   * Applies a pipeline spec to a project. `baseDir` is the absolute folder its module and command
   * paths resolve against, on the runners' machines (the server must allow it: SLUICE_CODE_ROOTS).
   */
  async applyPipeline(projectId: string, spec: PipelineSpec, options: { baseDir?: string } = {}): Promise<AppliedPipeline> {
    const r = await this.mutate<Json>(
      "applyPipeline",
      "ApplyPipelineInput",
      { projectId, spec, ...(options.baseDir !== undefined && { baseDir: options.baseDir }) },
      "ApplyPipelinePayload",
      "outcome pipeline { id } version { version }",
    );
    return { pipelineId: r.pipeline.id, version: r.version.version, outcome: r.outcome };
  }

  /** Starts a run; `params` overrides stage parameters by stage name (`{ train: { seed: 7 } }`). */
  async triggerRun(pipelineId: string, options: { params?: Json; tags?: Record<string, string>; version?: number } = {}): Promise<RunView> {
    const r = await this.mutate<Json>("triggerRun", "TriggerRunInput", { pipelineId, ...options }, "RunPayload", `run { ${RUN_FIELDS} }`);
    return r.run as RunView;
  }

  /** The run, or null. */
  async run(id: string): Promise<RunView | null> {
    const data = await this.request<Json>(`query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id });
    return (data.run as RunView | null) ?? null;
  }

  /**
   * Polls the run until it ends (SUCCEEDED, FAILED or CANCELED) and returns it; `onPoll` sees each
   * state (say, to approve a version a gate waits for).
   * @throws SluiceError (`TIMEOUT`) after `timeoutMs`.
   */
  async waitForRun(
    id: string,
    options: { timeoutMs?: number; pollMs?: number; onPoll?: (run: RunView) => void | Promise<void> } = {},
  ): Promise<RunView> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const run = await this.run(id);
      if (!run) throw new SluiceError(`run ${id} not found`, "NOT_FOUND");
      if (FINAL_RUN_STATUSES.includes(run.status)) return run;
      await options.onPoll?.(run);
      if (Date.now() > deadline) throw new SluiceError(`run ${id} is still ${run.status}`, "TIMEOUT");
      await sleep(options.pollMs ?? 500);
    }
  }

  /** A version of a registered model by number (or, with `alias`, the one it points at), or null. */
  async modelVersion(projectId: string, model: string, which: { version?: number; alias?: string }): Promise<ModelVersionView | null> {
    const data = await this.request<Json>(
      `query($p: ID!, $n: String!) { registeredModel(projectId: $p, name: $n) { versions(first: 100) { nodes { ${VERSION_FIELDS} } } } }`,
      { p: projectId, n: model },
    );
    const versions = (data.registeredModel?.versions.nodes ?? []) as ModelVersionView[];
    if (which.alias !== undefined) return versions.find((v) => v.aliases.includes(which.alias!)) ?? null;
    return versions.find((v) => v.version === which.version) ?? null;
  }

  /** Approves a version awaiting approval (its approval request must be OPEN). */
  async approveModelVersion(modelVersionId: string, comment: string): Promise<void> {
    await this.mutate(
      "approveModelVersion",
      "DecideModelVersionInput",
      { modelVersionId, comment },
      "ApprovalDecisionPayload",
      "__typename",
    );
  }

  /** Rejects a version awaiting approval. */
  async rejectModelVersion(modelVersionId: string, comment: string): Promise<void> {
    await this.mutate(
      "rejectModelVersion",
      "DecideModelVersionInput",
      { modelVersionId, comment },
      "ApprovalDecisionPayload",
      "__typename",
    );
  }

  /** Creates or retargets the endpoint `name`, following `alias` or pinned to `version`. */
  async deployModel(
    projectId: string,
    options: { name: string; model: string; alias?: string; version?: number; mode?: "REALTIME" | "BATCH" },
  ): Promise<{ id: string; name: string }> {
    const r = await this.mutate<Json>(
      "deployModel",
      "DeployModelInput",
      { projectId, ...options },
      "DeploymentPayload",
      "deployment { id name }",
    );
    return r.deployment;
  }

  /** Scores rows (`{ column: value }` each) with a deployment (or a model's champion) of the project. */
  async predict(
    projectId: string,
    model: string,
    instances: Json[],
  ): Promise<{ modelName: string; modelVersion: string; predictions: Prediction[] }> {
    const data = await this.request<Json>(
      `query($p: ID!, $m: String!, $x: [JSON!]!) { predict(projectId: $p, model: $m, instances: $x) { modelName modelVersion predictions } }`,
      { p: projectId, m: model, x: instances },
    );
    return data.predict;
  }

  /**
   * An Open Inference Protocol call: `POST /v2/models/{name}/infer` with `body`
   * (`{ inputs: [{ name, datatype, shape, data }] }`, or `{ instances: [{ column: value }] }`);
   * `project` picks the project when the token reaches several.
   */
  async infer(name: string, body: Json, options: { project?: string } = {}): Promise<OipAnswer> {
    const res = await this.post(`${this.server}/v2/models/${encodeURIComponent(name)}/infer`, body, options.project);
    const answer = (await res.json().catch(() => ({}))) as Json;
    if (!res.ok) throw new SluiceError(`infer ${name}: ${answer.error ?? `HTTP ${res.status}`}`, `HTTP_${res.status}`);
    return answer as OipAnswer;
  }

  /** POSTs `body` as JSON with the token; a 429 is retried (three times, as `Retry-After` says, at most 5 s each). */
  private async post(url: string, body: unknown, project?: string): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (project) headers["x-sluice-project"] = project;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (err) {
        throw this.failure({ kind: "unreachable", detail: networkErrorDetail(err) });
      }
      if (res.status !== 429 || attempt >= 3) return res;
      const wait = Number(res.headers.get("retry-after"));
      await res.body?.cancel().catch(() => undefined);
      await sleep(Math.min(5, Number.isFinite(wait) && wait > 0 ? wait : 1) * 1000);
    }
  }
}
