import { EventEmitter } from "node:events";
import { PGlite, types } from "@electric-sql/pglite";

/**
 * A `pg`-compatible driver module backed by one embedded PGlite database, so TypeORM's
 * PostgreSQL driver (and every query we write) runs unchanged on both back-ends.
 *
 * PGlite is a single session. A real pool hands each transaction its own connection; here the
 * one session is handed out exclusively: `connect()` waits until the previous holder released
 * it. Without that, two concurrent TypeORM transactions would interleave their statements in
 * one session and commit each other's work.
 *
 * @internal used by `createDataSource` only.
 */
export interface PGliteDriverModule {
  Pool: new (options?: unknown) => PGlitePool;
  defaults: Record<string, unknown>;
}

type QueryCallback = (err: Error | null, result?: PgLikeResult) => void;

export interface PgLikeResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  command: string;
  fields: { name: string; dataTypeID: number }[];
}

/** Parse results the way node-postgres does by default, so code sees the same values on both. */
const pgCompatibleParsers = {
  [types.INT8]: (value: string) => value,
};

/** Opens (or creates) the embedded database. `dataDir` undefined means in memory. */
export async function openPGlite(dataDir: string | undefined): Promise<PGlite> {
  return PGlite.create({ dataDir, parsers: pgCompatibleParsers });
}

class PGliteClient extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }

  query(sql: string, params?: unknown[] | QueryCallback, callback?: QueryCallback): Promise<PgLikeResult> {
    let values: unknown[] | undefined;
    let cb = callback;
    if (typeof params === "function") cb = params;
    else values = params;
    const promise = runQuery(this.db, sql, values);
    if (cb) {
      const done = cb;
      promise.then(
        (r) => done(null, r),
        (e: Error) => done(e),
      );
    }
    return promise;
  }
}

async function runQuery(db: PGlite, sql: string, values: unknown[] | undefined): Promise<PgLikeResult> {
  if (values && values.length > 0) {
    return toPgResult(await db.query(sql, values));
  }
  // Without parameters, use the simple protocol: it accepts several statements in one string
  // (as node-postgres does) and reports the last statement's result.
  const results = await db.exec(sql);
  const last = results[results.length - 1];
  return last ? toPgResult(last) : { rows: [], rowCount: 0, command: "", fields: [] };
}

function toPgResult(r: { rows: unknown[]; affectedRows?: number; fields: { name: string; dataTypeID: number }[] }): PgLikeResult {
  const raw = r as {
    rows: Record<string, unknown>[];
    affectedRows?: number;
    rowCount?: number;
    command?: string;
    fields: { name: string; dataTypeID: number }[];
  };
  const command = raw.command ?? "";
  const rowCount = command === "SELECT" ? raw.rows.length : (raw.affectedRows ?? raw.rowCount ?? raw.rows.length);
  return { rows: raw.rows, rowCount, command, fields: raw.fields };
}

/** The exclusive session lock: a FIFO of waiters for the one PGlite session. */
class SessionLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  get waiting(): number {
    return this.waiters.length;
  }

  get busy(): boolean {
    return this.held;
  }

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}

export class PGlitePool extends EventEmitter {
  private readonly client: PGliteClient;
  private readonly lock = new SessionLock();
  private ended = false;

  constructor(private readonly db: PGlite) {
    super();
    this.client = new PGliteClient(db);
  }

  /** Same shape as pg.Pool's counters, for the `/metrics` pool gauges. */
  get totalCount(): number {
    return 1;
  }
  get idleCount(): number {
    return this.lock.busy ? 0 : 1;
  }
  get waitingCount(): number {
    return this.lock.waiting;
  }

  connect(callback?: (err: Error | null, client?: PGliteClient, release?: (err?: unknown) => void) => void): Promise<PGliteClient> {
    const acquired = this.acquireClient();
    if (callback) {
      acquired.then(
        ({ client, release }) => callback(null, client, release),
        (err: Error) => callback(err),
      );
    }
    return acquired.then(({ client }) => client);
  }

  private async acquireClient(): Promise<{ client: PGliteClient; release: (err?: unknown) => void }> {
    if (this.ended) throw new Error("The embedded database is closed");
    await this.lock.acquire();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.lock.release();
    };
    return { client: this.client, release };
  }

  /** One-off query outside a transaction: takes the session for one statement. */
  async query(sql: string, params?: unknown[]): Promise<PgLikeResult> {
    await this.lock.acquire();
    try {
      return await runQuery(this.db, sql, params);
    } finally {
      this.lock.release();
    }
  }

  end(callback?: (err?: Error | null) => void): Promise<void> {
    this.ended = true;
    const closing = this.db.close();
    if (callback)
      closing.then(
        () => callback(null),
        (e: Error) => callback(e),
      );
    return closing;
  }
}

/** A driver module for TypeORM's `driver` option, bound to one open PGlite database. */
export function pgliteDriverModule(db: PGlite): PGliteDriverModule {
  return {
    Pool: class extends PGlitePool {
      constructor() {
        super(db);
      }
    },
    defaults: {},
  };
}
