import { randomBytes } from "node:crypto";
import { Client } from "pg";

/** A database for one test: none (PGlite in memory) or a fresh PostgreSQL database. */
export interface TestDatabase {
  /** DATABASE_URL for the server under test; undefined selects in-memory PGlite. */
  url: string | undefined;
  drop(): Promise<void>;
}

/**
 * When DATABASE_URL is set, creates a new, empty database on that server for one test (and
 * drops it after), so test files can run in parallel without seeing each other's rows.
 * Otherwise the test runs on a fresh in-memory PGlite.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) return { url: undefined, drop: async () => undefined };
  const name = `sluice_test_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
