import type { EntityManager, Repository } from "typeorm";
import { InvalidInputError, NotFoundError } from "../kernel/errors";
import type { MutationTx } from "../kernel/mutation";
import { type Page, type PageArgs, type SortSpec, paginate } from "../kernel/pagination";
import type { Database } from "../db/data-source";
import { lockWritableProject } from "../projects";
import { type SecretKey, decryptSecret, encryptSecret } from "./cipher";
import { SecretUnreadableError } from "./secret.errors";
import { SecretRow } from "./secret.entity";
import { SECRET_NAME, SECRET_NAME_RULE as NAME_RULE } from "./secret-name";

export { SECRET_NAME };

/** Largest value accepted, in UTF-8 bytes. */
export const MAX_SECRET_BYTES = 64 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Events this capability emits. Their payloads carry the secret's id, not its name or value. */
export const SecretEvents = {
  set: "secret.set",
  deleted: "secret.deleted",
} as const;

export interface SecretListFilter {
  /** `"all"` or the projects whose secrets may be listed. */
  projectIds: "all" | string[];
}

function checkName(name: string): string {
  if (!SECRET_NAME.test(name)) throw new InvalidInputError([{ field: "name", message: NAME_RULE }]);
  return name;
}

/** Refusals name the field and the rule; they never repeat the value. */
function checkValue(value: string): void {
  if (value.length === 0) throw new InvalidInputError([{ field: "value", message: "must not be empty" }]);
  if (Buffer.byteLength(value, "utf8") > MAX_SECRET_BYTES) {
    throw new InvalidInputError([{ field: "value", message: `must be at most ${MAX_SECRET_BYTES} bytes` }]);
  }
}

/**
 * Project secrets: values encrypted at rest under the server's key. The API can set, replace,
 * delete and list them (names and timestamps); only server code reads a value back, through
 * `reveal`, and never returns or logs it.
 */
export class SecretService {
  constructor(
    private readonly db: Database,
    private readonly key: SecretKey,
  ) {}

  private get repo(): Repository<SecretRow> {
    return this.db.dataSource.getRepository(SecretRow);
  }

  /**
   * Creates the secret `name` in the project, or replaces its value. Refuses an archived or
   * unknown project.
   *
   * @returns the row (without the ciphertext) and whether it is new.
   */
  async put(tx: MutationTx, projectId: string, name: string, value: string): Promise<{ row: SecretRow; created: boolean }> {
    checkName(name);
    checkValue(value);
    if (!UUID.test(projectId)) throw new NotFoundError("Project", projectId);
    await lockWritableProject(tx.manager, projectId);
    const ciphertext = encryptSecret(this.key, projectId, name, value);
    const existing = await tx.manager.findOne(SecretRow, { where: { projectId, name }, lock: { mode: "pessimistic_write" } });
    let row: SecretRow;
    if (existing) {
      await tx.manager.update(SecretRow, { id: existing.id }, { ciphertext, keyId: this.key.id });
      row = (await tx.manager.findOneBy(SecretRow, { id: existing.id }))!;
    } else {
      const inserted = await tx.manager.insert(SecretRow, {
        projectId,
        name,
        ciphertext,
        keyId: this.key.id,
        createdBy: tx.caller.principalId,
      });
      row = (await tx.manager.findOneBy(SecretRow, { id: inserted.identifiers[0]!.id as string }))!;
    }
    tx.emit({ type: SecretEvents.set, projectId, subjectId: row.id, payload: { secretId: row.id } });
    return { row, created: !existing };
  }

  /** Deletes the secret `name` of the project. @throws NotFoundError when there is none. */
  async delete(tx: MutationTx, projectId: string, name: string): Promise<SecretRow> {
    if (!UUID.test(projectId)) throw new NotFoundError("Project", projectId);
    await lockWritableProject(tx.manager, projectId);
    const row = SECRET_NAME.test(name) ? await tx.manager.findOneBy(SecretRow, { projectId, name }) : null;
    if (!row) throw new NotFoundError("Secret", name);
    await tx.manager.delete(SecretRow, { id: row.id });
    tx.emit({ type: SecretEvents.deleted, projectId, subjectId: row.id, payload: { secretId: row.id } });
    return row;
  }

  /** Secrets of the allowed projects: names and timestamps, never ciphertext. */
  async list(filter: SecretListFilter, page: PageArgs, sort: SortSpec<SecretRow>): Promise<Page<SecretRow>> {
    const qb = this.repo.createQueryBuilder("s");
    if (filter.projectIds !== "all") {
      const ids = filter.projectIds.filter((id) => UUID.test(id));
      if (ids.length === 0) qb.andWhere("FALSE");
      else qb.andWhere("s.projectId IN (:...ids)", { ids });
    }
    return paginate(qb, page, sort);
  }

  /**
   * The value of the secret `name` of the project, for server code that needs it (a source's
   * connection URL). Never expose it in the API or a log.
   *
   * @throws NotFoundError when the project has no such secret.
   * @throws SecretUnreadableError when the value was encrypted under another key, or altered.
   * @internal
   */
  async reveal(manager: EntityManager, projectId: string, name: string): Promise<string> {
    const row =
      UUID.test(projectId) && SECRET_NAME.test(name)
        ? await manager
            .createQueryBuilder(SecretRow, "s")
            .addSelect("s.ciphertext")
            .where("s.projectId = :projectId AND s.name = :name", { projectId, name })
            .getOne()
        : null;
    if (!row) throw new NotFoundError("Secret", name);
    if (row.keyId !== this.key.id) {
      throw new SecretUnreadableError(
        name,
        `Secret ${name} was encrypted under key ${row.keyId}, but this server's key is ${this.key.id}: set SLUICE_SECRET_KEY to the key it was written with, or set the secret again`,
      );
    }
    try {
      return decryptSecret(this.key, projectId, name, row.ciphertext);
    } catch {
      throw new SecretUnreadableError(
        name,
        `Secret ${name} cannot be decrypted under key ${this.key.id}: its stored value is corrupt or was altered; set the secret again`,
      );
    }
  }

  /** The key id new values are encrypted under (a fingerprint, not the key). */
  get keyId(): string {
    return this.key.id;
  }
}
