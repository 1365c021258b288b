import type { MigrationInterface, QueryRunner } from "typeorm";

/** Per-attempt resource usage on `stage_attempts`; project cost settings (prices, budget) and the budget alerts fired. */
export class ResourceUsage1796300000000 implements MigrationInterface {
  name = "ResourceUsage1796300000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "project_cost_settings" ("project_id" uuid NOT NULL, "prices" jsonb NOT NULL DEFAULT \'{}\', "monthly_budget" double precision, "budget_thresholds" jsonb NOT NULL DEFAULT \'[50, 80, 100]\', "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3a6c719af12653670f1685f6cab" PRIMARY KEY ("project_id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "budget_alerts" ("project_id" uuid NOT NULL, "period" text NOT NULL, "threshold" integer NOT NULL, "spent" double precision NOT NULL, "budget" double precision NOT NULL, "currency" text NOT NULL, "fired_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, CONSTRAINT "PK_42bdd78c6122e804be469704903" PRIMARY KEY ("project_id", "period", "threshold"))',
    );
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "cpu_seconds" double precision');
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "wall_seconds" double precision');
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "peak_memory_bytes" bigint');
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "bytes_read" bigint');
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "bytes_written" bigint');
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "usage_method" text');
    await queryRunner.query(
      'ALTER TABLE "project_cost_settings" ADD CONSTRAINT "project_cost_settings_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "budget_alerts" ADD CONSTRAINT "budget_alerts_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "budget_alerts" DROP CONSTRAINT "budget_alerts_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "project_cost_settings" DROP CONSTRAINT "project_cost_settings_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "usage_method"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "bytes_written"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "bytes_read"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "peak_memory_bytes"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "wall_seconds"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "cpu_seconds"');
    await queryRunner.query('DROP TABLE "budget_alerts"');
    await queryRunner.query('DROP TABLE "project_cost_settings"');
  }
}
