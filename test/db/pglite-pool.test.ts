import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { openDatabase } from "../../src/db/data-source";
import { entities } from "../../src/app/entities";
import { migrate } from "../../src/db/migrate";
import { ProjectRow } from "../../src/projects/project.entity";

describe("the embedded PGlite data source", () => {
  it("keeps a transaction's uncommitted rows from other callers, who wait for the session", async () => {
    const db = await openDatabase({ databaseUrl: undefined, dataDir: "memory://", entities });
    try {
      await migrate(db);
      const repo = db.dataSource.getRepository(ProjectRow);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let inserted!: () => void;
      const didInsert = new Promise<void>((r) => (inserted = r));
      const tx = db.dataSource
        .transaction(async (m) => {
          await m.save(m.create(ProjectRow, { name: "uncommitted", description: "" }));
          inserted();
          await held;
          throw new Error("roll back");
        })
        .catch(() => "rolled back");
      await didInsert;
      // With one shared session and no exclusivity this would see the uncommitted row.
      const counting = repo.countBy({ name: "uncommitted" });
      assert.equal(db.poolStats().waiting, 1, "the outside query waits for the session");
      release();
      assert.equal(await tx, "rolled back");
      assert.equal(await counting, 0);
    } finally {
      await db.close();
    }
  });

  it("runs concurrent transactions one after another without mixing them", async () => {
    const db = await openDatabase({ databaseUrl: undefined, dataDir: "memory://", entities });
    try {
      await migrate(db);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          db.dataSource
            .transaction(async (m) => {
              await m.save(m.create(ProjectRow, { name: `concurrent-${i}`, description: "" }));
              await new Promise((r) => setImmediate(r));
              if (i % 2 === 1) throw new Error("odd ones roll back");
            })
            .catch(() => undefined),
        ),
      );
      const names = (await db.dataSource.getRepository(ProjectRow).find({ order: { name: "ASC" } })).map((p) => p.name);
      assert.deepEqual(names, Array.from({ length: 10 }, (_, k) => `concurrent-${k * 2}`).sort());
    } finally {
      await db.close();
    }
  });

  it("keeps its data in the data folder across a reopen", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "sluice-pglite-"));
    try {
      const first = await openDatabase({ databaseUrl: undefined, dataDir: dir, entities });
      await migrate(first);
      await first.dataSource.getRepository(ProjectRow).save({ name: "persisted", description: "" });
      await first.close();
      const second = await openDatabase({ databaseUrl: undefined, dataDir: dir, entities });
      assert.deepEqual(await migrate(second), []);
      assert.equal(await second.dataSource.getRepository(ProjectRow).countBy({ name: "persisted" }), 1);
      await second.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
