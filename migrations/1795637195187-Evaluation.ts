import type { MigrationInterface, QueryRunner } from "typeorm";

/** Evaluation reports: what evaluate stages found, against model artifacts (and their versions) and dataset versions. */

export class Evaluation1795637195187 implements MigrationInterface {
  name = "Evaluation1795637195187";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "evaluation_reports" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "model_artifact_id" uuid NOT NULL, "model_version_id" uuid, "data_artifact_id" uuid NOT NULL, "dataset_version_id" uuid, "champion_artifact_id" uuid, "task" text NOT NULL, "metrics" jsonb NOT NULL DEFAULT \'{}\', "report" jsonb NOT NULL, "stage_run_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_587302423d9ba7823c49654ecaf" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "evaluation_reports_dataset_version_idx" ON "evaluation_reports"  ("dataset_version_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE INDEX "evaluation_reports_model_version_idx" ON "evaluation_reports"  ("model_version_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE INDEX "evaluation_reports_model_artifact_idx" ON "evaluation_reports"  ("model_artifact_id", "created_at") ',
    );
    await queryRunner.query('CREATE INDEX "evaluation_reports_project_idx" ON "evaluation_reports"  ("project_id", "created_at") ');
    await queryRunner.query(
      'ALTER TABLE "evaluation_reports" ADD CONSTRAINT "evaluation_reports_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "evaluation_reports" ADD CONSTRAINT "evaluation_reports_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "evaluation_reports" ADD CONSTRAINT "evaluation_reports_dataset_version_id_fkey" FOREIGN KEY ("dataset_version_id") REFERENCES "dataset_versions"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "evaluation_reports" DROP CONSTRAINT "evaluation_reports_dataset_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "evaluation_reports" DROP CONSTRAINT "evaluation_reports_model_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "evaluation_reports" DROP CONSTRAINT "evaluation_reports_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."evaluation_reports_project_idx"');
    await queryRunner.query('DROP INDEX "public"."evaluation_reports_model_artifact_idx"');
    await queryRunner.query('DROP INDEX "public"."evaluation_reports_model_version_idx"');
    await queryRunner.query('DROP INDEX "public"."evaluation_reports_dataset_version_idx"');
    await queryRunner.query('DROP TABLE "evaluation_reports"');
  }
}
