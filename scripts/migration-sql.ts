/**
 * Prints the SQL that would bring a database migrated to the newest migration in line with the
 * entities: the body of the next migration. Review it, then save it as a new class in
 * `migrations/` and list it in `migrations/index.ts`.
 *
 *   npm run migration:sql -- AddDatasets
 */
import "reflect-metadata";
import { openDatabase } from "../src/db/data-source";
import { entities } from "../src/app/entities";
import { migrate } from "../src/db/migrate";

async function main(): Promise<void> {
  const name = process.argv[2] ?? "NextMigration";
  const db = await openDatabase({ databaseUrl: undefined, dataDir: "memory://", entities });
  try {
    await migrate(db);
    const sql = await db.dataSource.driver.createSchemaBuilder().log();
    if (sql.upQueries.length === 0) {
      console.error("The entities match the migrations: nothing to generate.");
      return;
    }
    const stamp = Date.now();
    const up = sql.upQueries.map((q) => `    await queryRunner.query(${JSON.stringify(q.query)});`).join("\n");
    const down = sql.downQueries
      .reverse()
      .map((q) => `    await queryRunner.query(${JSON.stringify(q.query)});`)
      .join("\n");
    process.stdout.write(`import type { MigrationInterface, QueryRunner } from "typeorm";

export class ${name}${stamp} implements MigrationInterface {
  name = "${name}${stamp}";

  public async up(queryRunner: QueryRunner): Promise<void> {
${up}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${down}
  }
}
`);
  } finally {
    await db.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
