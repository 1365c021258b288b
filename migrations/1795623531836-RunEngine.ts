import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The run engine: pipelines and their content-hashed versions, runs, stage runs with their
 * leases and attempts, artifacts and lineage, stage logs, run metrics, remote runner agents,
 * schedules, event rules and their fires.
 */
export class RunEngine1795623531836 implements MigrationInterface {
  name = "RunEngine1795623531836";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "artifacts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "kind" text NOT NULL, "uri" text NOT NULL, "hash" text NOT NULL, "size" bigint NOT NULL, "is_directory" boolean NOT NULL DEFAULT false, "metadata" jsonb NOT NULL DEFAULT \'{}\', "produced_by" uuid, "run_id" uuid, "output_name" text, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6516bbed3c129918e05c5012edb" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "artifacts_run_idx" ON "artifacts"  ("run_id") ');
    await queryRunner.query('CREATE INDEX "artifacts_produced_by_idx" ON "artifacts"  ("produced_by") ');
    await queryRunner.query('CREATE INDEX "artifacts_project_hash_idx" ON "artifacts"  ("project_id", "hash") ');
    await queryRunner.query(
      'CREATE TABLE "pipelines" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL DEFAULT \'\', "latest_version_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e38ea171cdfad107c1f3db2c036" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "pipelines_project_name_key" ON "pipelines"  ("project_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "pipeline_versions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "pipeline_id" uuid NOT NULL, "version" integer NOT NULL, "content_hash" text NOT NULL, "spec" jsonb NOT NULL, "base_dir" text NOT NULL DEFAULT \'\', "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_701d92c227b627741024bbc5985" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "pipeline_versions_number_key" ON "pipeline_versions"  ("pipeline_id", "version") ');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "pipeline_versions_hash_key" ON "pipeline_versions"  ("pipeline_id", "content_hash", "base_dir") ',
    );
    await queryRunner.query(
      'CREATE TABLE "runs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "pipeline_id" uuid NOT NULL, "pipeline_version_id" uuid NOT NULL, "number" integer NOT NULL, "status" text NOT NULL, "params" jsonb NOT NULL DEFAULT \'{}\', "tags" jsonb NOT NULL DEFAULT \'{}\', "trigger_kind" text NOT NULL, "trigger_ref" text, "parent_run_id" uuid, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP(3) WITH TIME ZONE, "finished_at" TIMESTAMP(3) WITH TIME ZONE, "cancel_requested_at" TIMESTAMP(3) WITH TIME ZONE, "error" jsonb, CONSTRAINT "PK_46d6a1e257c38ba58f1a3c30836" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "runs_status_idx" ON "runs"  ("status") ');
    await queryRunner.query('CREATE UNIQUE INDEX "runs_pipeline_number_key" ON "runs"  ("pipeline_id", "number") ');
    await queryRunner.query('CREATE INDEX "runs_pipeline_created_idx" ON "runs"  ("pipeline_id", "created_at") ');
    await queryRunner.query('CREATE INDEX "runs_project_created_idx" ON "runs"  ("project_id", "created_at") ');
    await queryRunner.query(
      'CREATE TABLE "stage_runs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "run_id" uuid NOT NULL, "stage_name" text NOT NULL, "status" text NOT NULL, "remaining_upstream" integer NOT NULL, "attempt" integer NOT NULL DEFAULT \'0\', "max_attempts" integer NOT NULL, "runner_labels" text array NOT NULL, "run_kind" text NOT NULL, "params" jsonb NOT NULL DEFAULT \'{}\', "queued_at" TIMESTAMP(3) WITH TIME ZONE, "not_before" TIMESTAMP(3) WITH TIME ZONE, "started_at" TIMESTAMP(3) WITH TIME ZONE, "finished_at" TIMESTAMP(3) WITH TIME ZONE, "lease_owner" text, "lease_epoch" integer NOT NULL DEFAULT \'0\', "lease_expires_at" TIMESTAMP(3) WITH TIME ZONE, "cancel_requested" boolean NOT NULL DEFAULT false, "cache_key" text, "reused_from" uuid, "reuse_reason" text, "failure" jsonb, CONSTRAINT "PK_1eb494702c129319271eb7db0a4" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "stage_runs_cache_key_idx" ON "stage_runs"  ("cache_key") WHERE "status" = \'SUCCEEDED\'');
    await queryRunner.query('CREATE INDEX "stage_runs_lease_idx" ON "stage_runs"  ("lease_expires_at") WHERE "status" = \'RUNNING\'');
    await queryRunner.query('CREATE INDEX "stage_runs_queued_idx" ON "stage_runs"  ("not_before") WHERE "status" = \'QUEUED\'');
    await queryRunner.query('CREATE UNIQUE INDEX "stage_runs_run_stage_key" ON "stage_runs"  ("run_id", "stage_name") ');
    await queryRunner.query(
      'CREATE TABLE "stage_run_inputs" ("stage_run_id" uuid NOT NULL, "input_name" text NOT NULL, "artifact_id" uuid NOT NULL, CONSTRAINT "PK_e169800bd0fb462bf9e9d1bfdb1" PRIMARY KEY ("stage_run_id", "input_name"))',
    );
    await queryRunner.query('CREATE INDEX "stage_run_inputs_artifact_idx" ON "stage_run_inputs"  ("artifact_id") ');
    await queryRunner.query(
      'CREATE TABLE "run_metrics" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "run_id" uuid NOT NULL, "stage_run_id" uuid, "key" text NOT NULL, "value" double precision NOT NULL, "step" bigint NOT NULL DEFAULT \'0\', "at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, CONSTRAINT "PK_fc007954acc0b2051caff0537e4" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "run_metrics_run_key_idx" ON "run_metrics"  ("run_id", "key", "step") ');
    await queryRunner.query(
      'CREATE TABLE "runner_agents" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "labels" text array NOT NULL, "concurrency" integer NOT NULL, "principal_id" uuid, "hostname" text NOT NULL DEFAULT \'\', "version" text NOT NULL DEFAULT \'\', "registered_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "last_seen_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "stopped_at" TIMESTAMP(3) WITH TIME ZONE, CONSTRAINT "PK_43026eaf515584cf4158eb854be" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "runner_agents_name_key" ON "runner_agents"  ("name") ');
    await queryRunner.query(
      'CREATE TABLE "stage_attempts" ("stage_run_id" uuid NOT NULL, "attempt" integer NOT NULL, "runner" text NOT NULL, "lease_epoch" integer NOT NULL, "started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP(3) WITH TIME ZONE, "outcome" text, "failure" jsonb, CONSTRAINT "PK_236ef8dc0715aabc1602ab3f632" PRIMARY KEY ("stage_run_id", "attempt"))',
    );
    await queryRunner.query('CREATE INDEX "stage_attempts_runner_idx" ON "stage_attempts"  ("runner") ');
    await queryRunner.query(
      'CREATE TABLE "stage_logs" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "run_id" uuid NOT NULL, "stage_run_id" uuid NOT NULL, "attempt" integer NOT NULL, "stream" text NOT NULL, "text" text NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_01517159a41bbb484d8e8b99c4b" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "stage_logs_created_idx" ON "stage_logs"  ("created_at") ');
    await queryRunner.query('CREATE INDEX "stage_logs_stage_run_idx" ON "stage_logs"  ("stage_run_id", "id") ');
    await queryRunner.query(
      'CREATE TABLE "event_rules" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "pipeline_id" uuid NOT NULL, "name" text NOT NULL, "event_type" text NOT NULL, "filter" jsonb NOT NULL DEFAULT \'{}\', "params" jsonb NOT NULL DEFAULT \'{}\', "enabled" boolean NOT NULL DEFAULT true, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1bb477fda5fb5ab5db163ed84b3" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "event_rules_type_idx" ON "event_rules"  ("event_type") ');
    await queryRunner.query('CREATE UNIQUE INDEX "event_rules_pipeline_name_key" ON "event_rules"  ("pipeline_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "schedules" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "pipeline_id" uuid NOT NULL, "name" text NOT NULL, "cron" text NOT NULL, "timezone" text NOT NULL DEFAULT \'UTC\', "params" jsonb NOT NULL DEFAULT \'{}\', "paused" boolean NOT NULL DEFAULT false, "missed_policy" text NOT NULL DEFAULT \'SKIP\', "last_fire_at" TIMESTAMP(3) WITH TIME ZONE, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7e33fc2ea755a5765e3564e66dd" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "schedules_pipeline_name_key" ON "schedules"  ("pipeline_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "trigger_cursors" ("name" text NOT NULL, "last_event_id" bigint NOT NULL, CONSTRAINT "PK_fad05a5a73adc4abc4b0f12dafa" PRIMARY KEY ("name"))',
    );
    await queryRunner.query(
      'CREATE TABLE "trigger_fires" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "kind" text NOT NULL, "source_id" uuid NOT NULL, "dedupe_key" text NOT NULL, "fired_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "scheduled_for" TIMESTAMP(3) WITH TIME ZONE, "event_id" bigint, "run_id" uuid, "outcome" text NOT NULL, "detail" jsonb NOT NULL DEFAULT \'{}\', CONSTRAINT "PK_7573c1a2b0ce1e56661227932e9" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "trigger_fires_source_idx" ON "trigger_fires"  ("source_id", "fired_at") ');
    await queryRunner.query('CREATE UNIQUE INDEX "trigger_fires_dedupe_key" ON "trigger_fires"  ("dedupe_key") ');
    await queryRunner.query(
      'ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "pipeline_versions" ADD CONSTRAINT "pipeline_versions_pipeline_id_fkey" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "runs" ADD CONSTRAINT "runs_pipeline_version_id_fkey" FOREIGN KEY ("pipeline_version_id") REFERENCES "pipeline_versions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "stage_runs" ADD CONSTRAINT "stage_runs_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "stage_run_inputs" ADD CONSTRAINT "stage_run_inputs_stage_run_id_fkey" FOREIGN KEY ("stage_run_id") REFERENCES "stage_runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "stage_run_inputs" ADD CONSTRAINT "stage_run_inputs_artifact_id_fkey" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "stage_attempts" ADD CONSTRAINT "stage_attempts_stage_run_id_fkey" FOREIGN KEY ("stage_run_id") REFERENCES "stage_runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "event_rules" ADD CONSTRAINT "event_rules_pipeline_id_fkey" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "schedules" ADD CONSTRAINT "schedules_pipeline_id_fkey" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "schedules" DROP CONSTRAINT "schedules_pipeline_id_fkey"');
    await queryRunner.query('ALTER TABLE "event_rules" DROP CONSTRAINT "event_rules_pipeline_id_fkey"');
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP CONSTRAINT "stage_attempts_stage_run_id_fkey"');
    await queryRunner.query('ALTER TABLE "stage_run_inputs" DROP CONSTRAINT "stage_run_inputs_artifact_id_fkey"');
    await queryRunner.query('ALTER TABLE "stage_run_inputs" DROP CONSTRAINT "stage_run_inputs_stage_run_id_fkey"');
    await queryRunner.query('ALTER TABLE "stage_runs" DROP CONSTRAINT "stage_runs_run_id_fkey"');
    await queryRunner.query('ALTER TABLE "runs" DROP CONSTRAINT "runs_pipeline_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "pipeline_versions" DROP CONSTRAINT "pipeline_versions_pipeline_id_fkey"');
    await queryRunner.query('ALTER TABLE "pipelines" DROP CONSTRAINT "pipelines_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."trigger_fires_dedupe_key"');
    await queryRunner.query('DROP INDEX "public"."trigger_fires_source_idx"');
    await queryRunner.query('DROP TABLE "trigger_fires"');
    await queryRunner.query('DROP TABLE "trigger_cursors"');
    await queryRunner.query('DROP INDEX "public"."schedules_pipeline_name_key"');
    await queryRunner.query('DROP TABLE "schedules"');
    await queryRunner.query('DROP INDEX "public"."event_rules_pipeline_name_key"');
    await queryRunner.query('DROP INDEX "public"."event_rules_type_idx"');
    await queryRunner.query('DROP TABLE "event_rules"');
    await queryRunner.query('DROP INDEX "public"."stage_logs_stage_run_idx"');
    await queryRunner.query('DROP INDEX "public"."stage_logs_created_idx"');
    await queryRunner.query('DROP TABLE "stage_logs"');
    await queryRunner.query('DROP INDEX "public"."stage_attempts_runner_idx"');
    await queryRunner.query('DROP TABLE "stage_attempts"');
    await queryRunner.query('DROP INDEX "public"."runner_agents_name_key"');
    await queryRunner.query('DROP TABLE "runner_agents"');
    await queryRunner.query('DROP INDEX "public"."run_metrics_run_key_idx"');
    await queryRunner.query('DROP TABLE "run_metrics"');
    await queryRunner.query('DROP INDEX "public"."stage_run_inputs_artifact_idx"');
    await queryRunner.query('DROP TABLE "stage_run_inputs"');
    await queryRunner.query('DROP INDEX "public"."stage_runs_run_stage_key"');
    await queryRunner.query('DROP INDEX "public"."stage_runs_queued_idx"');
    await queryRunner.query('DROP INDEX "public"."stage_runs_lease_idx"');
    await queryRunner.query('DROP INDEX "public"."stage_runs_cache_key_idx"');
    await queryRunner.query('DROP TABLE "stage_runs"');
    await queryRunner.query('DROP INDEX "public"."runs_project_created_idx"');
    await queryRunner.query('DROP INDEX "public"."runs_pipeline_created_idx"');
    await queryRunner.query('DROP INDEX "public"."runs_pipeline_number_key"');
    await queryRunner.query('DROP INDEX "public"."runs_status_idx"');
    await queryRunner.query('DROP TABLE "runs"');
    await queryRunner.query('DROP INDEX "public"."pipeline_versions_hash_key"');
    await queryRunner.query('DROP INDEX "public"."pipeline_versions_number_key"');
    await queryRunner.query('DROP TABLE "pipeline_versions"');
    await queryRunner.query('DROP INDEX "public"."pipelines_project_name_key"');
    await queryRunner.query('DROP TABLE "pipelines"');
    await queryRunner.query('DROP INDEX "public"."artifacts_project_hash_idx"');
    await queryRunner.query('DROP INDEX "public"."artifacts_produced_by_idx"');
    await queryRunner.query('DROP INDEX "public"."artifacts_run_idx"');
    await queryRunner.query('DROP TABLE "artifacts"');
  }
}
