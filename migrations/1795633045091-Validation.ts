import type { MigrationInterface, QueryRunner } from "typeorm";

/** Expectation suites (versioned per dataset and name) and the reports of checking dataset versions against them. */

export class Validation1795633045091 implements MigrationInterface {
  name = "Validation1795633045091";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "validation_reports" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "dataset_id" uuid NOT NULL, "dataset_version_id" uuid NOT NULL, "suite_id" uuid, "suite_name" text NOT NULL, "suite_hash" text NOT NULL, "success" boolean NOT NULL, "row_count" bigint NOT NULL, "statistics" jsonb NOT NULL, "results" jsonb NOT NULL, "reference_version_id" uuid, "quarantine_version_id" uuid, "stage_run_id" uuid, "duration_ms" integer NOT NULL, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_122c1c0a57bf3cea34c998dd2ec" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "validation_reports_dataset_idx" ON "validation_reports"  ("dataset_id", "created_at") ');
    await queryRunner.query('CREATE INDEX "validation_reports_version_idx" ON "validation_reports"  ("dataset_version_id", "created_at") ');
    await queryRunner.query(
      'CREATE TABLE "validation_suites" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "dataset_id" uuid NOT NULL, "name" text NOT NULL, "version" integer NOT NULL, "definition" jsonb NOT NULL, "hash" text NOT NULL, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_da01d9563f5be658cacdccc2770" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "validation_suites_number_key" ON "validation_suites"  ("dataset_id", "name", "version") ',
    );
    await queryRunner.query(
      'ALTER TABLE "validation_reports" ADD CONSTRAINT "validation_reports_dataset_version_id_fkey" FOREIGN KEY ("dataset_version_id") REFERENCES "dataset_versions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "validation_suites" ADD CONSTRAINT "validation_suites_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "validation_suites" DROP CONSTRAINT "validation_suites_dataset_id_fkey"');
    await queryRunner.query('ALTER TABLE "validation_reports" DROP CONSTRAINT "validation_reports_dataset_version_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."validation_suites_number_key"');
    await queryRunner.query('DROP TABLE "validation_suites"');
    await queryRunner.query('DROP INDEX "public"."validation_reports_version_idx"');
    await queryRunner.query('DROP INDEX "public"."validation_reports_dataset_idx"');
    await queryRunner.query('DROP TABLE "validation_reports"');
  }
}
