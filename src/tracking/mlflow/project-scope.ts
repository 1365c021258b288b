import type { Request } from "express";
import type { RequestContext } from "../../kernel/context";
import { UnauthenticatedError } from "../../kernel/errors";
import type { ProjectRow } from "../../projects";
import type { Database } from "../../db/data-source";
import type { ProjectService } from "../../projects/project.service";
import { MlflowError } from "./errors";

export const PROJECT_HEADER = "x-sluice-project";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What choosing a project uses. */
export interface ProjectScopeDeps {
  projects: ProjectService;
  db: Database;
  /** `SLUICE_MLFLOW_PROJECT` (name or id), when set. */
  defaultProject: string | undefined;
}

/**
 * MLflow has no projects; Sluice puts every MLflow call in one, chosen in this order:
 *
 * 1. the `X-Sluice-Project: <name or id>` header;
 * 2. the one project the caller's token is bound to (a token with roles in exactly one
 *    project and no global role) — so a stock client with only MLFLOW_TRACKING_TOKEN works;
 * 3. `SLUICE_MLFLOW_PROJECT` (name or id) on the server;
 * 4. the only project there is, when there is exactly one.
 *
 * Otherwise the call is refused (INVALID_PARAMETER_VALUE) with a message saying how to choose.
 * Choosing a project grants nothing: the call still needs the role in that project.
 */
export async function resolveProject(deps: ProjectScopeDeps, ctx: RequestContext, req: Request): Promise<ProjectRow> {
  const found = await findProject(deps, ctx, req);
  if (found) return found;
  throw new MlflowError(
    "INVALID_PARAMETER_VALUE",
    "Sluice cannot tell which project this MLflow call is for: send the header 'X-Sluice-Project: <project name or id>', use a token bound to one project, or set SLUICE_MLFLOW_PROJECT on the server",
  );
}

/** The project as `resolveProject` chooses it, or undefined when none can be chosen. */
export async function findProject(deps: ProjectScopeDeps, ctx: RequestContext, req: Request): Promise<ProjectRow | undefined> {
  const caller = ctx.authz.caller;
  if (!caller) throw new UnauthenticatedError("Authentication required: send 'Authorization: Bearer <token>'");
  const projects = deps.projects;
  const byRef = async (ref: string, origin: string) => {
    const row = UUID.test(ref) ? await projects.get(ref) : await projects.getByName(ref);
    if (!row) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", `Project '${ref}' (${origin}) was not found`);
    return row;
  };
  const header = req.headers[PROJECT_HEADER];
  if (typeof header === "string" && header.trim()) return byRef(header.trim(), "X-Sluice-Project");
  const bound = new Set(caller.grants.map((g) => g.projectId));
  if (bound.size === 1 && !bound.has(null)) {
    const only = await projects.get([...bound][0]!);
    if (only) return only;
  }
  const configured = deps.defaultProject;
  if (configured) return byRef(configured, "SLUICE_MLFLOW_PROJECT");
  const [{ n }] = await deps.db.dataSource.query(`SELECT count(*)::int AS n FROM projects`);
  if (n === 1) {
    const [{ id }] = await deps.db.dataSource.query(`SELECT id FROM projects LIMIT 1`);
    return (await projects.get(id)) ?? undefined;
  }
  return undefined;
}
