import type { MigrationInterface, QueryRunner } from "typeorm";

/** Experiment tracking: experiments, tracking runs (params, tags, latest metrics, logged files) and metric history. */

export class Tracking1795643323566 implements MigrationInterface {
  name = "Tracking1795643323566";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "tracking_experiments" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "artifact_location" text NOT NULL, "lifecycle_stage" text NOT NULL DEFAULT \'active\', "tags" jsonb NOT NULL DEFAULT \'{}\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a7acc7307b6dad564064de68ce2" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "tracking_experiments_project_name_key" ON "tracking_experiments"  ("project_id", "name") ',
    );
    await queryRunner.query(
      'CREATE TABLE "tracking_runs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "experiment_id" uuid NOT NULL, "name" text NOT NULL, "status" text NOT NULL DEFAULT \'RUNNING\', "start_time" bigint NOT NULL, "end_time" bigint, "lifecycle_stage" text NOT NULL DEFAULT \'active\', "user_name" text NOT NULL DEFAULT \'\', "artifact_uri" text NOT NULL DEFAULT \'\', "parent_run_id" uuid, "params" jsonb NOT NULL DEFAULT \'{}\', "tags" jsonb NOT NULL DEFAULT \'{}\', "latest_metrics" jsonb NOT NULL DEFAULT \'{}\', "artifacts" jsonb NOT NULL DEFAULT \'{}\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_f8a4df026e68941b9ee3770a1aa" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "tracking_runs_parent_idx" ON "tracking_runs"  ("parent_run_id") ');
    await queryRunner.query('CREATE INDEX "tracking_runs_experiment_idx" ON "tracking_runs"  ("experiment_id", "start_time") ');
    await queryRunner.query(
      'CREATE TABLE "tracking_metrics" ("seq" BIGSERIAL NOT NULL, "run_id" uuid NOT NULL, "key" text NOT NULL, "value" double precision NOT NULL, "timestamp" bigint NOT NULL, "step" bigint NOT NULL DEFAULT \'0\', CONSTRAINT "PK_519704a7f9e67de3bd91eb1da18" PRIMARY KEY ("seq"))',
    );
    await queryRunner.query('CREATE INDEX "tracking_metrics_run_key_idx" ON "tracking_metrics"  ("run_id", "key", "seq") ');
    await queryRunner.query(
      'ALTER TABLE "tracking_experiments" ADD CONSTRAINT "tracking_experiments_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "tracking_runs" ADD CONSTRAINT "tracking_runs_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "tracking_runs" ADD CONSTRAINT "tracking_runs_experiment_id_fkey" FOREIGN KEY ("experiment_id") REFERENCES "tracking_experiments"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "tracking_metrics" ADD CONSTRAINT "tracking_metrics_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "tracking_runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "tracking_metrics" DROP CONSTRAINT "tracking_metrics_run_id_fkey"');
    await queryRunner.query('ALTER TABLE "tracking_runs" DROP CONSTRAINT "tracking_runs_experiment_id_fkey"');
    await queryRunner.query('ALTER TABLE "tracking_runs" DROP CONSTRAINT "tracking_runs_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "tracking_experiments" DROP CONSTRAINT "tracking_experiments_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."tracking_metrics_run_key_idx"');
    await queryRunner.query('DROP TABLE "tracking_metrics"');
    await queryRunner.query('DROP INDEX "public"."tracking_runs_experiment_idx"');
    await queryRunner.query('DROP INDEX "public"."tracking_runs_parent_idx"');
    await queryRunner.query('DROP TABLE "tracking_runs"');
    await queryRunner.query('DROP INDEX "public"."tracking_experiments_project_name_key"');
    await queryRunner.query('DROP TABLE "tracking_experiments"');
  }
}
