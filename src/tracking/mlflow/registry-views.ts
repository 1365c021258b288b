import type { Database } from "../../db/data-source";
import { ModelAliasRow, ModelVersionRow, RegisteredModelRow } from "../../registry";
import { decodePageToken, encodePageToken } from "../page-token";
import { type FilterClause, parseFilter, parseOrderBy } from "../search-filter";
import { MlflowError } from "./errors";
import { compact, keyValues } from "./json";

/** The views only read the database. */
type ViewDeps = { db: Database };

/**
 * Sluice's registry rows as MLflow's `RegisteredModel` and `ModelVersion` JSON, and MLflow's
 * registry searches (read-only SQL over the registry's tables).
 */
type Json = Record<string, unknown>;

async function principalName(services: ViewDeps, id: string | null): Promise<string | undefined> {
  if (!id) return undefined;
  const [row] = await services.db.dataSource.query(`SELECT name FROM principals WHERE id = $1`, [id]);
  return row?.name;
}

/** What MLflow calls the stage: Sluice has none but ARCHIVED; its status is in the `sluice.status` tag. */
const stageOf = (v: ModelVersionRow) => (v.status === "ARCHIVED" ? "Archived" : "None");

export async function modelVersionJson(services: ViewDeps, v: ModelVersionRow, model: RegisteredModelRow): Promise<Json> {
  const aliases = await services.db.dataSource.getRepository(ModelAliasRow).find({ where: { versionId: v.id }, order: { alias: "ASC" } });
  const lineage = v.lineage as { mlflowSource?: string; trackingRunId?: string };
  return compact({
    name: model.name,
    version: String(v.version),
    creation_timestamp: v.createdAt.getTime(),
    last_updated_timestamp: v.updatedAt.getTime(),
    user_id: await principalName(services, v.createdBy),
    current_stage: stageOf(v),
    description: v.description || undefined,
    source: lineage.mlflowSource ?? `sluice-artifacts:/${v.artifactId}`,
    run_id: lineage.trackingRunId,
    status: "READY",
    status_message: `Sluice status: ${v.status}`,
    tags: keyValues({ ...v.tags, "sluice.status": v.status, "sluice.version_id": v.id }),
    aliases: aliases.map((a) => a.alias),
  });
}

export async function registeredModelJson(services: ViewDeps, m: RegisteredModelRow): Promise<Json> {
  const manager = services.db.dataSource.manager;
  const aliases = await manager.query(
    `SELECT a.alias, v.version FROM model_aliases a JOIN model_versions v ON v.id = a.version_id WHERE a.registered_model_id = $1 ORDER BY a.alias`,
    [m.id],
  );
  const latest = await manager.findOne(ModelVersionRow, { where: { registeredModelId: m.id }, order: { version: "DESC" } });
  return compact({
    name: m.name,
    creation_timestamp: m.createdAt.getTime(),
    last_updated_timestamp: m.updatedAt.getTime(),
    user_id: await principalName(services, m.createdBy),
    description: m.description || undefined,
    latest_versions: latest ? [await modelVersionJson(services, latest, m)] : [],
    tags: keyValues(m.tags),
    aliases: aliases.map((a: { alias: string; version: number }) => ({ alias: a.alias, version: String(a.version) })),
  });
}

interface SearchInput {
  filter?: string | null;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string | null;
}

type Columns = Record<string, { sql: string; numeric: boolean }>;

function where(clauses: FilterClause[], columns: Columns, tagsSql: string, p: (v: unknown) => string): string[] {
  return clauses.map((c) => {
    let sql: string;
    let numeric = false;
    if (c.entity === "tag") sql = `${tagsSql} ->> ${p(c.key)}::text`;
    else if (c.entity === "attribute" && columns[c.key]) ({ sql, numeric } = columns[c.key]!);
    else
      throw new MlflowError(
        "INVALID_PARAMETER_VALUE",
        `Invalid attribute key '${c.key}' specified. Valid keys are '${Object.keys(columns).join("', '")}' and tags.<key>`,
      );
    if (c.comparator === "IN" || c.comparator === "NOT IN") {
      if (!Array.isArray(c.value)) throw new MlflowError("INVALID_PARAMETER_VALUE", `${c.comparator} takes a list`);
      const inList = `${sql}::text = ANY(${p(c.value)}::text[])`;
      return c.comparator === "IN" ? inList : `NOT (${inList})`;
    }
    if (numeric) {
      if (!["=", "!=", ">", ">=", "<", "<="].includes(c.comparator))
        throw new MlflowError("INVALID_PARAMETER_VALUE", `Invalid comparator '${c.comparator}' for '${c.key}'`);
      return `${sql} ${c.comparator} ${p(Number(c.value))}`;
    }
    if (!["=", "!=", "LIKE", "ILIKE"].includes(c.comparator))
      throw new MlflowError("INVALID_PARAMETER_VALUE", `Invalid comparator '${c.comparator}' for '${c.key}'`);
    return `${sql} ${c.comparator} ${p(String(c.value))}::text`;
  });
}

function orderSql(items: string[] | undefined, columns: Columns): string[] {
  return parseOrderBy(items).map((o) => {
    const col = o.entity === "attribute" ? columns[o.key] : undefined;
    if (!col)
      throw new MlflowError(
        "INVALID_PARAMETER_VALUE",
        `Invalid order by key '${o.key}' specified. Valid keys are '${Object.keys(columns).join("', '")}'`,
      );
    return `${col.sql} ${o.ascending ? "ASC" : "DESC"}`;
  });
}

async function page<T>(services: ViewDeps, sql: string, params: unknown[], input: SearchInput, load: (ids: string[]) => Promise<T[]>) {
  const offset = decodePageToken(input.pageToken);
  const rows: Array<{ id: string }> = await services.db.dataSource.query(`${sql} LIMIT ${input.maxResults + 1} OFFSET ${offset}`, params);
  return {
    items: await load(rows.slice(0, input.maxResults).map((r) => r.id)),
    nextPageToken: rows.length > input.maxResults ? encodePageToken(offset + input.maxResults) : null,
  };
}

const MODEL_COLUMNS: Columns = {
  name: { sql: "m.name", numeric: false },
  creation_timestamp: { sql: "(EXTRACT(EPOCH FROM m.created_at) * 1000)::bigint", numeric: true },
  timestamp: { sql: "(EXTRACT(EPOCH FROM m.created_at) * 1000)::bigint", numeric: true },
  last_updated_timestamp: { sql: "(EXTRACT(EPOCH FROM m.updated_at) * 1000)::bigint", numeric: true },
};

/** MLflow's registered-models/search in one project: `name` (=, !=, LIKE, ILIKE) and `tags.<key>`. */
export async function searchModels(services: ViewDeps, projectId: string, input: SearchInput) {
  const params: unknown[] = [projectId];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const conditions = ["m.project_id = $1", ...where(parseFilter(input.filter), MODEL_COLUMNS, "m.tags", p)];
  const order = [...orderSql(input.orderBy, MODEL_COLUMNS), "m.name ASC", "m.id ASC"];
  return page(
    services,
    `SELECT m.id FROM registered_models m WHERE ${conditions.join(" AND ")} ORDER BY ${order.join(", ")}`,
    params,
    input,
    async (ids) => {
      const rows = ids.length ? await services.db.dataSource.getRepository(RegisteredModelRow).findBy(ids.map((id) => ({ id }))) : [];
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id)!).filter(Boolean);
    },
  );
}

const VERSION_COLUMNS: Columns = {
  name: { sql: "m.name", numeric: false },
  version_number: { sql: "v.version", numeric: true },
  run_id: { sql: "(v.lineage ->> 'trackingRunId')", numeric: false },
  source_path: { sql: "COALESCE(v.lineage ->> 'mlflowSource', 'sluice-artifacts:/' || v.artifact_id::text)", numeric: false },
  creation_timestamp: { sql: "(EXTRACT(EPOCH FROM v.created_at) * 1000)::bigint", numeric: true },
  last_updated_timestamp: { sql: "(EXTRACT(EPOCH FROM v.updated_at) * 1000)::bigint", numeric: true },
};

/** MLflow's model-versions/search in one project: `name`, `run_id`, `version_number`, `source_path`, `tags.<key>`. */
export async function searchVersions(services: ViewDeps, projectId: string, input: SearchInput) {
  const params: unknown[] = [projectId];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const conditions = ["m.project_id = $1", ...where(parseFilter(input.filter), VERSION_COLUMNS, "v.tags", p)];
  const order = [...orderSql(input.orderBy, VERSION_COLUMNS), "m.name ASC", "v.version DESC"];
  return page(
    services,
    `SELECT v.id FROM model_versions v JOIN registered_models m ON m.id = v.registered_model_id WHERE ${conditions.join(" AND ")} ORDER BY ${order.join(", ")}`,
    params,
    input,
    async (ids) => {
      const manager = services.db.dataSource.manager;
      const versions = ids.length
        ? await manager.findBy(
            ModelVersionRow,
            ids.map((id) => ({ id })),
          )
        : [];
      const models = new Map<string, RegisteredModelRow>();
      for (const v of versions)
        if (!models.has(v.registeredModelId))
          models.set(v.registeredModelId, await manager.findOneByOrFail(RegisteredModelRow, { id: v.registeredModelId }));
      const byId = new Map(versions.map((v) => [v.id, v]));
      return ids
        .map((id) => byId.get(id)!)
        .filter(Boolean)
        .map((version) => ({ version, model: models.get(version.registeredModelId)! }));
    },
  );
}
