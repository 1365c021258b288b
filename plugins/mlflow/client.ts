/**
 * A small MLflow REST API (2.0) client over fetch: the calls the mirror makes, MLflow's JSON in
 * and out. Errors carry MLflow's `error_code` and whether trying again may help.
 */
export class MlflowHttpError extends Error {
  constructor(
    readonly status: number | null,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = "MlflowHttpError";
  }

  /** Network failures, timeouts, 5xx and 429 may pass on a later attempt; other 4xx will not. */
  get retryable(): boolean {
    return this.status === null || this.status >= 500 || this.status === 429;
  }
}

export interface MlflowClientOptions {
  /** The tracking server, e.g. `http://mlflow:5000` (no trailing slash). */
  uri: string;
  /** Sent as `Authorization: Bearer <token>` (MLflow's MLFLOW_TRACKING_TOKEN). */
  token?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

type Json = Record<string, any>;

export class MlflowClient {
  constructor(private readonly options: MlflowClientOptions) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}), ...extra };
  }

  private async send(
    method: string,
    url: string,
    init: { body?: string | Uint8Array; headers?: Record<string, string> },
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    const signal = this.options.signal ? AbortSignal.any([timeout, this.options.signal]) : timeout;
    try {
      return await fetch(url, { method, body: init.body, headers: this.headers(init.headers), signal });
    } catch (err) {
      throw new MlflowHttpError(null, "NETWORK_ERROR", `${method} ${url}: ${(err as Error).message}`);
    }
  }

  /** One API call: GET parameters go in the query string, others in a JSON body. */
  async call(method: "GET" | "POST" | "PATCH" | "DELETE", endpoint: string, params: Json = {}): Promise<Json> {
    let url = `${this.options.uri}/api/2.0/mlflow/${endpoint}`;
    let body: string | undefined;
    if (method === "GET") {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params))
        if (v !== undefined) for (const item of Array.isArray(v) ? v : [v]) qs.append(k, String(item));
      url += `?${qs.toString()}`;
    } else body = JSON.stringify(params);
    const res = await this.send(method, url, { body, headers: body ? { "content-type": "application/json" } : {} });
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      json = { message: text.slice(0, 200) };
    }
    if (!res.ok)
      throw new MlflowHttpError(
        res.status,
        String(json.error_code ?? `HTTP_${res.status}`),
        `${method} ${endpoint}: ${json.message ?? res.statusText}`,
      );
    return json;
  }

  /** Finds the experiment by name, creating it when missing (a concurrent creation is fine). */
  async ensureExperiment(name: string): Promise<string> {
    try {
      return (await this.call("GET", "experiments/get-by-name", { experiment_name: name })).experiment.experiment_id;
    } catch (err) {
      if (!(err instanceof MlflowHttpError) || err.errorCode !== "RESOURCE_DOES_NOT_EXIST") throw err;
    }
    try {
      return (await this.call("POST", "experiments/create", { name })).experiment_id;
    } catch (err) {
      if (err instanceof MlflowHttpError && err.errorCode === "RESOURCE_ALREADY_EXISTS") {
        return (await this.call("GET", "experiments/get-by-name", { experiment_name: name })).experiment.experiment_id;
      }
      throw err;
    }
  }

  /** The first run of the experiment whose tag `key` equals `value`, or null. */
  async findRunByTag(experimentId: string, key: string, value: string): Promise<Json | null> {
    const res = await this.call("POST", "runs/search", {
      experiment_ids: [experimentId],
      filter: `tags.\`${key}\` = '${value.replace(/'/g, "\\'")}'`,
      max_results: 1,
    });
    return res.runs?.[0] ?? null;
  }

  /** Uploads a file below a run's `mlflow-artifacts:` artifact URI (MLflow's artifact proxy). */
  async uploadArtifact(artifactUri: string, file: string, bytes: Uint8Array): Promise<void> {
    const m = /^mlflow-artifacts:\/+(.*)$/.exec(artifactUri);
    if (!m) throw new MlflowHttpError(400, "UNSUPPORTED_ARTIFACT_URI", `cannot upload to ${artifactUri}: only mlflow-artifacts: URIs`);
    const path = `${m[1]!.replace(/\/+$/, "")}/${file}`.split("/").map(encodeURIComponent).join("/");
    const res = await this.send("PUT", `${this.options.uri}/api/2.0/mlflow-artifacts/artifacts/${path}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    if (!res.ok) {
      const text = await res.text();
      throw new MlflowHttpError(res.status, `HTTP_${res.status}`, `PUT artifact ${file}: ${text.slice(0, 200)}`);
    }
  }
}
