import { registerEnumType } from "type-graphql";

/**
 * Roles, granted globally or per project by role bindings.
 * Pure module: no I/O, so the whole permission table is unit-tested directly.
 */
export enum Role {
  /** Reads everything in its scope. */
  VIEWER = "VIEWER",
  /** Reads and changes resources in its scope. */
  EDITOR = "EDITOR",
  /** Reads, and decides approval requests. */
  APPROVER = "APPROVER",
  /** Only the runner API: lease, heartbeat, report stage runs. */
  RUNNER = "RUNNER",
  /** Everything, including tokens, principals, role bindings and the audit log. */
  ADMIN = "ADMIN",
}

registerEnumType(Role, {
  name: "Role",
  description: "What a principal may do, globally or in one project.",
  valuesConfig: {
    VIEWER: { description: "Reads everything in its scope." },
    RUNNER: { description: "Only the runner API: lease, heartbeat and report stage runs." },
    EDITOR: { description: "Reads and changes resources in its scope." },
    APPROVER: { description: "Reads, and decides approval requests." },
    ADMIN: { description: "Everything, including tokens, principals, role bindings and the audit log." },
  },
});

/** What an operation needs. Each resolver names one before it touches data. */
export enum Permission {
  READ = "read",
  WRITE = "write",
  APPROVE = "approve",
  RUN = "run",
  ADMIN = "admin",
}

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  [Role.VIEWER]: new Set([Permission.READ]),
  [Role.EDITOR]: new Set([Permission.READ, Permission.WRITE]),
  [Role.APPROVER]: new Set([Permission.READ, Permission.APPROVE]),
  [Role.RUNNER]: new Set([Permission.RUN]),
  [Role.ADMIN]: new Set([Permission.READ, Permission.WRITE, Permission.APPROVE, Permission.RUN, Permission.ADMIN]),
};

/** A role held by the caller: `projectId` null means everywhere. */
export interface Grant {
  role: Role;
  projectId: string | null;
}

/** Does `role` include `permission`? */
export function roleAllows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

/**
 * Whether the grants allow `permission` on `projectId`; `projectId` undefined asks for the
 * permission globally (creating a project, listing principals), which only global grants give.
 */
export function isAllowed(grants: readonly Grant[], permission: Permission, projectId?: string): boolean {
  return grants.some(
    (g) => roleAllows(g.role, permission) && (g.projectId === null || (projectId !== undefined && g.projectId === projectId)),
  );
}

/**
 * The projects in which the grants allow `permission`: `"all"` when a global grant does,
 * otherwise the ids of the projects bound. Used to filter lists to what the caller may see.
 */
export function allowedProjects(grants: readonly Grant[], permission: Permission): "all" | string[] {
  const ids = new Set<string>();
  for (const g of grants) {
    if (!roleAllows(g.role, permission)) continue;
    if (g.projectId === null) return "all";
    ids.add(g.projectId);
  }
  return [...ids];
}
