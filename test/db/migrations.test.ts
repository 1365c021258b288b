import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openDatabase } from "../../src/db/data-source";
import { entities } from "../../src/app/entities";
import { migrate, migrationsApplied } from "../../src/db/migrate";
import { migrations } from "../../migrations";
import { createTestDatabase } from "../helpers/database";

const onPostgres = Boolean(process.env.DATABASE_URL);

describe("migrations", () => {
  it("installs the schema; running again does no harm", async () => {
    const testDb = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
    try {
      assert.equal(await migrationsApplied(db), false);
      const first = await migrate(db);
      assert.equal(first.length, migrations.length);
      assert.equal(await migrationsApplied(db), true);
      assert.deepEqual(await migrate(db), []);
    } finally {
      await db.close();
      await testDb.drop();
    }
  });

  it("leaves the entities with no pending schema diff", async () => {
    const testDb = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
    try {
      await migrate(db);
      const diff = await db.dataSource.driver.createSchemaBuilder().log();
      assert.deepEqual(
        diff.upQueries.map((q) => q.query),
        [],
        "entities and migrations disagree; generate a migration with `npm run migration:sql`",
      );
    } finally {
      await db.close();
      await testDb.drop();
    }
  });

  it("needs no database extension (gen_random_uuid is built in)", async () => {
    const testDb = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
    try {
      await migrate(db);
      const rows: Array<{ extname: string }> = await db.dataSource.query("SELECT extname FROM pg_extension ORDER BY extname");
      assert.deepEqual(
        rows.map((r) => r.extname),
        ["plpgsql"],
      );
    } finally {
      await db.close();
      await testDb.drop();
    }
  });

  it("lets two servers migrate one database at once", { skip: onPostgres ? false : "PGlite belongs to one process" }, async () => {
    const testDb = await createTestDatabase();
    const a = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
    const b = await openDatabase({ databaseUrl: testDb.url, dataDir: "memory://", entities });
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      assert.equal(ra.length + rb.length, migrations.length, "each migration applied exactly once");
      assert.equal(await migrationsApplied(a), true);
    } finally {
      await a.close();
      await b.close();
      await testDb.drop();
    }
  });
});
