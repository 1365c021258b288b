import type { Request } from "express";
import type { RequestContext } from "../../kernel/context";
import { ConflictError, UnauthenticatedError } from "../../kernel/errors";
import { runMutation } from "../../kernel/mutation";
import { Permission } from "../../kernel/roles";
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
 * 4. the only project there is, when there is exactly one;
 * 5. for a write on a server with no project at all, the project `default`, created then (see
 *    {@link resolveProjectForWrite}).
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
  return (await projects.onlyProject()) ?? undefined;
}

/** The project a first MLflow write creates on a server with none, as MLflow logs into experiment 0. */
export const DEFAULT_PROJECT = "default";

/**
 * The project a write (experiments/create, runs/create, registered-models/create) goes to: as
 * {@link resolveProject}, except on a server with no project at all (and no `X-Sluice-Project`
 * or `SLUICE_MLFLOW_PROJECT` naming one). Then, so that a stock MLflow client works against a
 * fresh server, the project `default` is created and used — but only when the caller may create
 * projects, by the rule `createProject` has: a global EDITOR or ADMIN role. The creation is an
 * ordinary `project.create` mutation, audited with the caller as actor. A caller who may not
 * create projects is refused, and told to ask for one. Two first writes at once create it once:
 * the second finds the first's.
 */
export async function resolveProjectForWrite(deps: ProjectScopeDeps, ctx: RequestContext, req: Request): Promise<ProjectRow> {
  const found = await findProject(deps, ctx, req);
  if (found) return found;
  if (!(await deps.projects.none())) return resolveProject(deps, ctx, req);
  if (!ctx.authz.can(Permission.WRITE)) {
    throw new MlflowError(
      "PERMISSION_DENIED",
      `This Sluice server has no project yet, and this token may not create one (that needs a global EDITOR or ADMIN role): ask an admin to create a project, or to make this first MLflow call, which creates the project '${DEFAULT_PROJECT}'`,
    );
  }
  const input = { name: DEFAULT_PROJECT, description: "Created by the first MLflow write on a server with no project" };
  try {
    return await runMutation(ctx, { action: "project.create", permission: Permission.WRITE, input }, async (tx) => {
      const row = await deps.projects.create(tx, input);
      return { value: row, targetId: row.id, projectId: row.id, result: { id: row.id, name: row.name, via: "mlflow" } };
    });
  } catch (err) {
    // Another first write created it meanwhile: use that one.
    const row = await deps.projects.getByName(DEFAULT_PROJECT);
    if (row && err instanceof ConflictError) return row;
    throw err;
  }
}

/**
 * The project a read is scoped to, or null on a server with no project at all: there is nothing to
 * read yet (a first write creates `default`), so MLflow clients that look before they write —
 * `get-by-name` before `create` — see "does not exist" rather than a refusal.
 */
export async function resolveProjectForRead(deps: ProjectScopeDeps, ctx: RequestContext, req: Request): Promise<ProjectRow | null> {
  const found = await findProject(deps, ctx, req);
  if (found) return found;
  if (await deps.projects.none()) return null;
  return resolveProject(deps, ctx, req);
}
