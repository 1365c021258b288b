import type { EntityManager, Repository } from "typeorm";
import { AuditOutcome, type AuditService } from "../audit";
import { ConflictError, InvalidInputError, NotFoundError, UnauthenticatedError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { escapeLike } from "../kernel/sql-text";
import { ProjectRow } from "../projects";
import { ApiTokenRow } from "./api-token.entity";
import type { Caller } from "../kernel/principal";
import { PrincipalKind, PrincipalRow } from "./principal.entity";
import { RoleBindingRow } from "./role-binding.entity";
import { Role } from "../kernel/roles";
import { displayPrefix, generateToken, hashToken } from "../kernel/token";

/** How long an authenticated token is trusted without another lookup. */
const CACHE_TTL_MS = 5_000;
/** `last_used_at` is written at most this often per token, to keep reads from writing. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Event type that tells every server process to forget cached authentications. */
export const AUTH_CHANGED = "auth.changed";

const PRINCIPAL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

interface CachedAuth {
  caller: Caller;
  trustedUntil: number;
  tokenExpiresAt: number | null;
}

/** Tokens, principals and role bindings: who may call, and as whom. */
export class AuthService {
  private readonly cache = new Map<string, CachedAuth>();
  private readonly lastUsedWritten = new Map<string, number>();
  /** Bumped by `invalidate`: a lookup that overlapped an invalidation must not be cached. */
  private generation = 0;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditService,
  ) {}

  private repo<T extends object>(cls: new () => T): Repository<T> {
    return this.db.dataSource.getRepository(cls);
  }

  /**
   * The caller a bearer token stands for. Throws UNAUTHENTICATED, saying why, for an unknown,
   * expired or revoked token. Results are cached for a few seconds; any change to tokens or
   * bindings (in any server process) clears the cache through the `auth.changed` event.
   */
  async authenticate(token: string): Promise<Caller> {
    const hash = hashToken(token);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.trustedUntil > now && (cached.tokenExpiresAt === null || cached.tokenExpiresAt > now)) {
      return cached.caller;
    }
    const generation = this.generation;
    const row = await this.repo(ApiTokenRow).findOne({ where: { tokenHash: hash }, relations: { principal: true } });
    if (!row || !row.principal) throw new UnauthenticatedError("The token is not valid; check it was copied whole");
    if (row.revokedAt)
      throw new UnauthenticatedError(`The token was revoked at ${row.revokedAt.toISOString()}; ask an admin for a new one`);
    if (row.expiresAt && row.expiresAt.getTime() <= now) {
      throw new UnauthenticatedError(`The token expired at ${row.expiresAt.toISOString()}; ask an admin for a new one`);
    }
    const bindings = await this.repo(RoleBindingRow).find({ where: { principalId: row.principalId } });
    const caller: Caller = {
      principalId: row.principalId,
      principalName: row.principal.name,
      tokenId: row.id,
      grants: bindings.map((b) => ({ role: b.role, projectId: b.projectId })),
    };
    // The rows may predate a revocation or role change committed meanwhile: cache only if no
    // invalidation happened since the lookup began.
    if (this.generation === generation) {
      this.cache.set(hash, { caller, trustedUntil: now + CACHE_TTL_MS, tokenExpiresAt: row.expiresAt?.getTime() ?? null });
    }
    this.touch(row.id, now);
    return caller;
  }

  /**
   * Forgets every cached authentication. Called after a revocation or role change commits
   * (here by the resolver, elsewhere by the `auth.changed` event); a lookup still in flight
   * then is not cached either.
   */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private touch(tokenId: string, now: number): void {
    const last = this.lastUsedWritten.get(tokenId) ?? 0;
    if (now - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(tokenId, now);
    // Best effort and off the request path: a lost update only makes last_used_at older.
    void this.repo(ApiTokenRow)
      .update({ id: tokenId }, { lastUsedAt: new Date(now) })
      .catch(() => undefined);
  }

  /**
   * On a database with no principals, creates the `admin` principal with a global ADMIN
   * binding and one token: `adminToken` when given, otherwise a new random one.
   *
   * @returns the new token's secret when one was created (to print once), else undefined.
   */
  async bootstrap(adminToken: string | undefined): Promise<string | undefined> {
    return this.db.dataSource.transaction(async (manager) => {
      // Two servers starting on one empty database must not both create an admin.
      await manager.query("SELECT pg_advisory_xact_lock($1)", [7_404_003]);
      if ((await manager.count(PrincipalRow)) > 0) return undefined;
      const principal = await manager.save(manager.create(PrincipalRow, { name: "admin", kind: PrincipalKind.USER }));
      await manager.save(manager.create(RoleBindingRow, { principalId: principal.id, role: Role.ADMIN, projectId: null, scopeKey: "*" }));
      const secret = adminToken ?? generateToken();
      const token = await this.insertToken(
        manager,
        { principalId: principal.id, name: "bootstrap admin token", expiresAt: null, createdBy: null },
        secret,
      );
      await this.audit.record(manager, {
        actorId: null,
        actorName: "system",
        projectId: null,
        action: "auth.bootstrap",
        targetId: principal.id,
        outcome: AuditOutcome.SUCCEEDED,
        input: { fromEnvironment: adminToken !== undefined },
        result: { principalId: principal.id, tokenId: token.id },
        requestId: null,
      });
      return secret;
    });
  }

  private async insertToken(
    manager: EntityManager,
    fields: { principalId: string; name: string; expiresAt: Date | null; createdBy: string | null },
    secret: string,
  ): Promise<ApiTokenRow> {
    return manager.save(manager.create(ApiTokenRow, { ...fields, prefix: displayPrefix(secret), tokenHash: hashToken(secret) }));
  }

  async createPrincipal(tx: MutationTx, input: { name: string; kind: PrincipalKind }): Promise<PrincipalRow> {
    const name = input.name.trim();
    if (!PRINCIPAL_NAME.test(name)) {
      throw new InvalidInputError([
        { field: "name", message: "must be 1-128 characters: letters, digits and . _ @ + - (starting with a letter or digit)" },
      ]);
    }
    if (await tx.manager.existsBy(PrincipalRow, { name }))
      throw new ConflictError(`A principal named ${JSON.stringify(name)} already exists`, { field: "name" });
    return tx.manager.save(tx.manager.create(PrincipalRow, { name, kind: input.kind }));
  }

  /** Issues a token; the secret is returned here and never again. */
  async createToken(
    tx: MutationTx,
    input: { principalId: string; name: string; expiresAt: Date | null },
  ): Promise<{ row: ApiTokenRow; secret: string }> {
    const problems = [];
    if (!input.name.trim() || input.name.length > 200) problems.push({ field: "name", message: "must be 1-200 characters" });
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) problems.push({ field: "expiresAt", message: "must be in the future" });
    if (problems.length) throw new InvalidInputError(problems);
    if (!(await tx.manager.existsBy(PrincipalRow, { id: input.principalId }))) throw new NotFoundError("Principal", input.principalId);
    const secret = generateToken();
    const row = await this.insertToken(tx.manager, { ...input, name: input.name.trim(), createdBy: tx.caller.principalId }, secret);
    return { row, secret };
  }

  async revokeToken(tx: MutationTx, tokenId: string): Promise<ApiTokenRow> {
    const row = await tx.manager.findOneBy(ApiTokenRow, { id: tokenId });
    if (!row) throw new NotFoundError("ApiToken", tokenId);
    if (row.revokedAt) throw new ConflictError(`Token ${row.prefix}… was already revoked at ${row.revokedAt.toISOString()}`);
    row.revokedAt = new Date();
    await tx.manager.save(row);
    tx.emit({ type: AUTH_CHANGED, subjectId: row.id, payload: { tokenRevoked: row.id } });
    return row;
  }

  async grantRole(tx: MutationTx, input: { principalId: string; role: Role; projectId: string | null }): Promise<RoleBindingRow> {
    if (!(await tx.manager.existsBy(PrincipalRow, { id: input.principalId }))) throw new NotFoundError("Principal", input.principalId);
    if (input.projectId && !(await tx.manager.existsBy(ProjectRow, { id: input.projectId })))
      throw new NotFoundError("Project", input.projectId);
    const scopeKey = input.projectId ?? "*";
    if (await tx.manager.existsBy(RoleBindingRow, { principalId: input.principalId, role: input.role, scopeKey })) {
      throw new ConflictError(`The principal already holds ${input.role} ${input.projectId ? "in this project" : "globally"}`);
    }
    const row = await tx.manager.save(tx.manager.create(RoleBindingRow, { ...input, scopeKey }));
    tx.emit({ type: AUTH_CHANGED, projectId: input.projectId, subjectId: input.principalId, payload: { roleGranted: row.id } });
    return row;
  }

  async revokeRole(tx: MutationTx, bindingId: string): Promise<RoleBindingRow> {
    const row = await tx.manager.findOneBy(RoleBindingRow, { id: bindingId });
    if (!row) throw new NotFoundError("RoleBinding", bindingId);
    await tx.manager.delete(RoleBindingRow, { id: bindingId });
    tx.emit({ type: AUTH_CHANGED, projectId: row.projectId, subjectId: row.principalId, payload: { roleRevoked: row.id } });
    return row;
  }

  async findBinding(id: string): Promise<RoleBindingRow | null> {
    return this.repo(RoleBindingRow).findOneBy({ id });
  }

  async getPrincipal(id: string): Promise<PrincipalRow | null> {
    return this.repo(PrincipalRow).findOneBy({ id });
  }

  /** A principal by name (unique on the server). */
  async getPrincipalByName(name: string): Promise<PrincipalRow | null> {
    return this.repo(PrincipalRow).findOneBy({ name });
  }

  async listPrincipals(filter: { nameContains?: string }, page: PageArgs, sort: SortSpec<PrincipalRow>): Promise<Page<PrincipalRow>> {
    const qb = this.repo(PrincipalRow).createQueryBuilder("p");
    if (filter.nameContains) qb.andWhere("p.name ILIKE :pattern", { pattern: `%${escapeLike(filter.nameContains)}%` });
    return paginate(qb, page, sort);
  }

  async listTokens(
    filter: { principalId?: string; includeRevoked?: boolean },
    page: PageArgs,
    sort: SortSpec<ApiTokenRow>,
  ): Promise<Page<ApiTokenRow>> {
    const qb = this.repo(ApiTokenRow).createQueryBuilder("t");
    if (filter.principalId) qb.andWhere("t.principalId = :principalId", { principalId: filter.principalId });
    if (!filter.includeRevoked) qb.andWhere("t.revokedAt IS NULL");
    return paginate(qb, page, sort);
  }

  async bindingsOfPrincipal(principalId: string): Promise<RoleBindingRow[]> {
    return this.repo(RoleBindingRow).find({ where: { principalId }, order: { createdAt: "ASC" } });
  }

  async bindingsInProject(projectId: string): Promise<RoleBindingRow[]> {
    return this.repo(RoleBindingRow).find({ where: { projectId }, order: { createdAt: "ASC" } });
  }
}
