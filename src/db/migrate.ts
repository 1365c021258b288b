import type { Database } from "./data-source";

/** Key of the advisory lock that serializes migrations across server processes. */
const MIGRATION_LOCK_KEY = 7_404_001;

/**
 * Applies pending migrations, each in its own transaction. On PostgreSQL several servers may
 * start at once: a session advisory lock makes them take turns, and the later ones find
 * nothing left to do. PGlite belongs to one process, so it needs no lock (and its single
 * session could not hold one while migrating).
 *
 * @returns the names of the migrations applied now.
 */
export async function migrate(db: Database): Promise<string[]> {
  if (db.kind === "pglite") {
    return (await db.dataSource.runMigrations({ transaction: "each" })).map((m) => m.name);
  }
  const lockRunner = db.dataSource.createQueryRunner();
  try {
    await lockRunner.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    return (await db.dataSource.runMigrations({ transaction: "each" })).map((m) => m.name);
  } finally {
    await lockRunner.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockRunner.release();
  }
}

/** True when every migration this build knows has been applied. */
export async function migrationsApplied(db: Database): Promise<boolean> {
  return !(await db.dataSource.showMigrations());
}
