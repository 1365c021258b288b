import "reflect-metadata";
import { type Database, openDatabase } from "../../src/db/data-source";
import { entities } from "../../src/app/entities";
import { createTestDatabase, type TestDatabase } from "./database";

/**
 * One database shared by the servers a test file starts one after another (with different
 * settings): opening the embedded PGlite costs seconds, starting a server over an open one
 * milliseconds. Pass both `db` and `testDb` to `startTestServer`; close this after the last
 * server has closed.
 */
export interface SharedDatabase {
  db: Database;
  testDb: TestDatabase;
  close(): Promise<void>;
}

/** A fresh in-memory PGlite, or a fresh PostgreSQL database when DATABASE_URL is set. */
export async function openSharedDatabase(): Promise<SharedDatabase> {
  const testDb = await createTestDatabase();
  const db = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
  return {
    db,
    testDb,
    async close() {
      await db.close();
      await testDb.drop();
    },
  };
}
