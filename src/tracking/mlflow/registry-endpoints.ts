import { NotFoundError } from "../../kernel/errors";
import { type MutationScope, prepareMutation } from "../../kernel/mutation";
import { Permission } from "../../kernel/roles";
import type { JsonObject } from "../../db/json";
import type { ModelVersionRow, RegisteredModelRow } from "../../registry";
import { maxResults } from "../page-token";
import type { EndpointTable, MlflowCall } from "./api";
import { MlflowError } from "./errors";
import { compact } from "./json";
import { modelVersionJson, registeredModelJson, searchModels, searchVersions } from "./registry-views";

/** `sluice-artifacts:/<artifactId>`: a Model artifact (ONNX) the server already holds. */
const ARTIFACT_SOURCE = /^sluice-artifacts:\/+([0-9a-f-]{36})\/?$/i;
const RUNS_SOURCE = /^runs:\/+([^/]+)\/?(.*)$/;
const PROXY_SOURCE = /^mlflow-artifacts:\/+([^/]+)\/([^/]+)\/artifacts\/?(.*)$/;

async function model(call: MlflowCall, name: string, permission = Permission.READ): Promise<RegisteredModelRow> {
  const project = await call.projectForRead();
  if (!project) throw new NotFoundError("RegisteredModel", name);
  call.ctx.authz.require(permission, project.id);
  const row = await call.deps.registry.modelByName(project.id, name);
  if (!row) throw new NotFoundError("RegisteredModel", name);
  return row;
}

async function version(call: MlflowCall, m: RegisteredModelRow, v: string): Promise<ModelVersionRow> {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new MlflowError("INVALID_PARAMETER_VALUE", `Model version must be an integer, got '${v}'`);
  const row = await call.deps.registry.versionByNumber(m.id, n);
  if (!row) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", `Model Version (name=${m.name}, version=${v}) not found`);
  return row;
}

/**
 * The ONNX artifact a version `source` names: `sluice-artifacts:/<artifactId>`, or a file logged
 * to a tracking run through the artifact API — `runs:/<runId>/<path>` or
 * `mlflow-artifacts:/<experimentId>/<runId>/artifacts/<path>` (a folder: its model.onnx).
 */
async function sourceArtifact(call: MlflowCall, source: string, projectId: string): Promise<string> {
  const artifact = ARTIFACT_SOURCE.exec(source);
  if (artifact) return artifact[1]!;
  const runs = RUNS_SOURCE.exec(source);
  const proxy = PROXY_SOURCE.exec(source);
  const runId = runs ? runs[1] : proxy?.[2];
  const file = (runs ? runs[2] : proxy?.[3]) ?? "";
  if (!runId) {
    throw new MlflowError(
      "INVALID_PARAMETER_VALUE",
      `Invalid model version source: '${source}'. Sluice registers ONNX models it holds: 'sluice-artifacts:/<artifactId>', 'runs:/<run_id>/<path>' or 'mlflow-artifacts:/<experiment_id>/<run_id>/artifacts/<path>'`,
    );
  }
  const run = await call.deps.tracking.run(runId);
  if (!run || run.projectId !== projectId) throw new NotFoundError("Run", runId);
  const id = call.deps.tracking.artifactAt(run, file);
  if (!id)
    throw new MlflowError(
      "INVALID_PARAMETER_VALUE",
      `Run ${runId} has no ONNX model at '${file}': log model.onnx there through the artifact API first`,
    );
  return id;
}

const tagsObject = (pairs: Array<{ key: string; value: string }>) => Object.fromEntries(pairs.map((p) => [p.key, p.value]));

/**
 * MLflow's model registry endpoints over Sluice's registry (src/registry): one registry serves
 * both APIs. A version is created through the registry's normal path (ONNX load-checked,
 * PENDING_APPROVAL until governance decides), so MLflow's `status` is READY for every stored
 * version; Sluice's status is in the `sluice.status` tag, and ARCHIVED is `current_stage: Archived`.
 */
export function registerRegistryEndpoints(api: EndpointTable): void {
  const registry = (call: MlflowCall) => call.deps.registry;

  api.add("post", "registered-models/create", async (call) => {
    const name = call.str("name", true);
    const project = await call.projectForWrite();
    if (await registry(call).modelByName(project.id, name)) {
      call.ctx.authz.require(Permission.WRITE, project.id);
      throw new MlflowError("RESOURCE_ALREADY_EXISTS", `Registered Model (name=${name}) already exists.`);
    }
    const row = await call.mutate("model.create", project.id, async (tx) => {
      const m = await registry(call).createModel(tx, {
        projectId: project.id,
        name,
        description: call.str("description"),
        tags: tagsObject(call.keyValues("tags")),
      });
      return { value: m, targetId: m.id };
    });
    return { registered_model: await registeredModelJson(call.deps, row) };
  });

  api.add("get", "registered-models/get", async (call) => ({
    registered_model: await registeredModelJson(call.deps, await model(call, call.str("name", true))),
  }));

  api.add(["get", "post"], "registered-models/search", async (call) => {
    const project = await call.projectForRead();
    if (!project) return { registered_models: [] };
    call.ctx.authz.require(Permission.READ, project.id);
    const page = await searchModels(call.deps, project.id, {
      filter: call.str("filter"),
      orderBy: call.list("order_by"),
      maxResults: maxResults(call.params.max_results, 100, 1000),
      pageToken: call.str("page_token"),
    });
    const models = [];
    for (const m of page.items) models.push(await registeredModelJson(call.deps, m));
    return compact({ registered_models: models, next_page_token: page.nextPageToken });
  });

  api.add("post", "registered-models/rename", async (call) => {
    const m = await model(call, call.str("name", true));
    const newName = call.str("new_name", true);
    if (newName !== m.name && (await registry(call).modelByName(m.projectId, newName))) {
      call.ctx.authz.require(Permission.WRITE, m.projectId);
      throw new MlflowError("RESOURCE_ALREADY_EXISTS", `Registered Model (name=${newName}) already exists.`);
    }
    const row = await call.mutate("model.rename", m.projectId, async (tx) => {
      const r = await registry(call).renameModel(tx, m.id, newName);
      return { value: r, targetId: r.id };
    });
    return { registered_model: await registeredModelJson(call.deps, row) };
  });

  api.add("patch", "registered-models/update", async (call) => {
    const m = await model(call, call.str("name", true));
    const row = await call.mutate("model.update", m.projectId, async (tx) => {
      const r = await registry(call).updateModel(tx, m.id, { description: call.str("description") ?? "" });
      return { value: r, targetId: r.id };
    });
    return { registered_model: await registeredModelJson(call.deps, row) };
  });

  api.add("delete", "registered-models/delete", async (call) => {
    const m = await model(call, call.str("name", true));
    await call.mutate("model.delete", m.projectId, async (tx) => {
      const r = await registry(call).deleteModel(tx, m.id);
      return { value: r, targetId: r.id };
    });
    return {};
  });

  api.add("post", "registered-models/alias", async (call) => {
    const m = await model(call, call.str("name", true));
    const alias = call.str("alias", true);
    const v = await version(call, m, call.str("version", true));
    await call.mutate("model.alias.set", m.projectId, async (tx) => {
      await registry(call).setAlias(tx, m.id, alias, v.version);
      return { value: null, targetId: m.id };
    });
    return {};
  });

  api.add("delete", "registered-models/alias", async (call) => {
    const m = await model(call, call.str("name", true));
    const alias = call.str("alias", true);
    await call.mutate("model.alias.delete", m.projectId, async (tx) => {
      await registry(call).deleteAlias(tx, m.id, alias);
      return { value: null, targetId: m.id };
    });
    return {};
  });

  api.add("get", "registered-models/alias", async (call) => {
    const m = await model(call, call.str("name", true));
    const alias = call.str("alias", true);
    const v = await registry(call).versionByAlias(m.id, alias);
    if (!v) throw new MlflowError("INVALID_PARAMETER_VALUE", `Registered model alias ${alias} not found.`);
    return { model_version: await modelVersionJson(call.deps, v, m) };
  });

  api.add("post", "registered-models/get-latest-versions", async (call) => {
    const m = await model(call, call.str("name", true));
    const page = await registry(call).listVersions({ registeredModelId: m.id }, { first: 1 }, { property: "version", direction: "DESC" });
    const out = [];
    for (const v of page.rows) out.push(await modelVersionJson(call.deps, v, m));
    return compact({ model_versions: out });
  });

  api.add("post", "model-versions/create", async (call) => {
    const m = await model(call, call.str("name", true));
    const source = call.str("source", true);
    const runId = call.str("run_id");
    const scope: MutationScope = {
      action: "model.version.create",
      permission: Permission.WRITE,
      projectId: m.projectId,
      input: call.params,
    };
    const prepared = await prepareMutation(call.ctx, scope, async () => {
      if (runId) {
        const run = await call.deps.tracking.run(runId);
        if (!run || run.projectId !== m.projectId) throw new NotFoundError("Run", runId);
      }
      const artifactId = await sourceArtifact(call, source, m.projectId);
      const p = await registry(call).prepareFromArtifact(m.projectId, artifactId);
      p.lineage = { ...p.lineage, mlflowSource: source, ...(runId ? { trackingRunId: runId } : {}) } as JsonObject;
      return p;
    });
    const row = await call.mutate("model.version.create", m.projectId, async (tx) => {
      const v = await registry(call).createVersion(tx, m.id, prepared, {
        tags: tagsObject(call.keyValues("tags")),
        description: call.str("description"),
      });
      return { value: v, targetId: v.id };
    });
    return { model_version: await modelVersionJson(call.deps, row, m) };
  });

  api.add("get", "model-versions/get", async (call) => {
    const m = await model(call, call.str("name", true));
    const v = await version(call, m, call.str("version", true));
    return { model_version: await modelVersionJson(call.deps, v, m) };
  });

  api.add(["get", "post"], "model-versions/search", async (call) => {
    const project = await call.project();
    call.ctx.authz.require(Permission.READ, project.id);
    const page = await searchVersions(call.deps, project.id, {
      filter: call.str("filter"),
      orderBy: call.list("order_by"),
      maxResults: maxResults(call.params.max_results, 10_000, 200_000),
      pageToken: call.str("page_token"),
    });
    const out = [];
    for (const { version: v, model: m } of page.items) out.push(await modelVersionJson(call.deps, v, m));
    return compact({ model_versions: out, next_page_token: page.nextPageToken });
  });
}
