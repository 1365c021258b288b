import type { TestServer } from "../helpers/server";

/** An MLflow call as a stock MLflow client sends it: JSON body (POST/PATCH/DELETE) or query string (GET), bearer token. */
export interface MlflowAnswer {
  status: number;
  body: any;
}

export function mlflowClient(t: TestServer, defaults: { token?: string | null; project?: string } = {}) {
  return async function call(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    endpoint: string,
    params: Record<string, unknown> = {},
    options: { token?: string | null; project?: string | null } = {},
  ): Promise<MlflowAnswer> {
    const token = options.token === undefined ? (defaults.token === undefined ? t.adminToken : defaults.token) : options.token;
    const project = options.project === undefined ? defaults.project : options.project;
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (project) headers["x-sluice-project"] = project;
    let url = `${t.url}/api/2.0/mlflow/${endpoint}`;
    let body: string | undefined;
    if (method === "GET") {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) for (const item of Array.isArray(v) ? v : [v]) qs.append(k, String(item));
      url += `?${qs}`;
    } else {
      headers["content-type"] = "application/json";
      body = JSON.stringify(params);
    }
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}
