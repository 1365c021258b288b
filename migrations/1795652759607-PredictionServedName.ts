import type { MigrationInterface, QueryRunner } from "typeorm";

export class PredictionServedName1795652759607 implements MigrationInterface {
  name = "PredictionServedName1795652759607";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "predictions" ADD "served_name" text NOT NULL DEFAULT \'\'');
    await queryRunner.query('ALTER TABLE "predictions" ADD "variant" text NOT NULL DEFAULT \'primary\'');
    await queryRunner.query(
      'CREATE INDEX "predictions_served_name_created_idx" ON "predictions"  ("project_id", "served_name", "created_at") ',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."predictions_served_name_created_idx"');
    await queryRunner.query('ALTER TABLE "predictions" DROP COLUMN "variant"');
    await queryRunner.query('ALTER TABLE "predictions" DROP COLUMN "served_name"');
  }
}
