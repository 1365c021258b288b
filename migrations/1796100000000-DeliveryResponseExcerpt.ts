import type { MigrationInterface, QueryRunner } from "typeorm";

/** A failed delivery's answer moves out of `error` (read by every project reader) into its own column (admins only). */
export class DeliveryResponseExcerpt1796100000000 implements MigrationInterface {
  name = "DeliveryResponseExcerpt1796100000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "notification_deliveries" ADD "response_excerpt" text');
    // Answers already logged inside `error` ("HTTP 500: <answer>") are moved, not left readable.
    await queryRunner.query(
      `UPDATE "notification_deliveries" SET "response_excerpt" = substring("error" from '^HTTP [0-9]+: (.*)$'), "error" = substring("error" from '^(HTTP [0-9]+)')
        WHERE "error" ~ '^HTTP [0-9]+: '`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "notification_deliveries" DROP COLUMN "response_excerpt"');
  }
}
