import type { MigrationInterface, QueryRunner } from "typeorm";

export class Monitoring1795653440354 implements MigrationInterface {
  name = "Monitoring1795653440354";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "monitoring_references" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "model_version_id" uuid NOT NULL, "source" text NOT NULL, "dataset_version_id" uuid, "prediction_output" text, "prediction_index" integer, "rows" integer NOT NULL, "summary" jsonb NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_dcf3d21aba13f22aec9fe1cab62" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "monitoring_references_version_key" ON "monitoring_references"  ("model_version_id") ');
    await queryRunner.query(
      'CREATE TABLE "monitors" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "served_name" text NOT NULL, "variant" text NOT NULL DEFAULT \'primary\', "window_size" integer, "window_seconds" integer, "feature_overrides" jsonb NOT NULL DEFAULT \'{}\', "drift_share" double precision NOT NULL DEFAULT \'0.5\', "enabled" boolean NOT NULL DEFAULT true, "cursor_at" TIMESTAMP(3) WITH TIME ZONE, "cursor_id" uuid, "window_started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "window_count" integer NOT NULL DEFAULT \'0\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_193902e2013887310490284cdbe" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "monitors_served_name_key" ON "monitors"  ("project_id", "served_name", "variant") ');
    await queryRunner.query(
      'CREATE TABLE "monitoring_windows" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "monitor_id" uuid NOT NULL, "project_id" uuid NOT NULL, "served_name" text NOT NULL, "variant" text NOT NULL, "sequence" integer NOT NULL, "reason" text NOT NULL, "model_version_id" uuid NOT NULL, "rows" integer NOT NULL, "outcomes" integer NOT NULL, "first_prediction_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "last_prediction_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "closed_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "dataset_drift" boolean, "drifted_share" double precision, "drift" jsonb, "performance" jsonb NOT NULL DEFAULT \'{}\', "problem" text, CONSTRAINT "PK_e9f85406742350766763de53b76" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "monitoring_windows_served_idx" ON "monitoring_windows"  ("project_id", "served_name", "closed_at") ',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "monitoring_windows_sequence_key" ON "monitoring_windows"  ("monitor_id", "sequence") ');
    await queryRunner.query(
      'CREATE TABLE "monitoring_metrics" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "window_id" uuid NOT NULL, "monitor_id" uuid NOT NULL, "project_id" uuid NOT NULL, "served_name" text NOT NULL, "metric" text NOT NULL, "feature" text NOT NULL DEFAULT \'\', "value" double precision NOT NULL, "at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, CONSTRAINT "PK_8221cf1ed850374661c4676260c" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "monitoring_metrics_window_idx" ON "monitoring_metrics"  ("window_id") ');
    await queryRunner.query(
      'CREATE INDEX "monitoring_metrics_series_idx" ON "monitoring_metrics"  ("project_id", "served_name", "metric", "feature", "at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "alert_rules" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "monitor_id" uuid NOT NULL, "name" text NOT NULL, "metric" text NOT NULL, "feature" text NOT NULL DEFAULT \'\', "op" text NOT NULL, "threshold" double precision NOT NULL, "windows" integer NOT NULL DEFAULT \'1\', "severity" text NOT NULL DEFAULT \'WARNING\', "enabled" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ae580564f087ffab9d229225aec" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "alert_rules_name_key" ON "alert_rules"  ("project_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "alerts" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "rule_id" uuid NOT NULL, "monitor_id" uuid NOT NULL, "served_name" text NOT NULL, "metric" text NOT NULL, "feature" text NOT NULL DEFAULT \'\', "severity" text NOT NULL, "status" text NOT NULL, "value" double precision NOT NULL, "threshold" double precision NOT NULL, "window_id" uuid NOT NULL, "fired_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "acknowledged_at" TIMESTAMP(3) WITH TIME ZONE, "acknowledged_by" uuid, "resolved_at" TIMESTAMP(3) WITH TIME ZONE, "resolved_by" uuid, "resolved_window_id" uuid, "note" text NOT NULL DEFAULT \'\', CONSTRAINT "PK_60f895662df096bfcdfab7f4b96" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "alerts_project_idx" ON "alerts"  ("project_id", "fired_at") ');
    await queryRunner.query('CREATE UNIQUE INDEX "alerts_open_rule_key" ON "alerts"  ("rule_id") WHERE status <> \'RESOLVED\'');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."alerts_open_rule_key"');
    await queryRunner.query('DROP INDEX "public"."alerts_project_idx"');
    await queryRunner.query('DROP TABLE "alerts"');
    await queryRunner.query('DROP INDEX "public"."alert_rules_name_key"');
    await queryRunner.query('DROP TABLE "alert_rules"');
    await queryRunner.query('DROP INDEX "public"."monitoring_metrics_series_idx"');
    await queryRunner.query('DROP INDEX "public"."monitoring_metrics_window_idx"');
    await queryRunner.query('DROP TABLE "monitoring_metrics"');
    await queryRunner.query('DROP INDEX "public"."monitoring_windows_sequence_key"');
    await queryRunner.query('DROP INDEX "public"."monitoring_windows_served_idx"');
    await queryRunner.query('DROP TABLE "monitoring_windows"');
    await queryRunner.query('DROP INDEX "public"."monitors_served_name_key"');
    await queryRunner.query('DROP TABLE "monitors"');
    await queryRunner.query('DROP INDEX "public"."monitoring_references_version_key"');
    await queryRunner.query('DROP TABLE "monitoring_references"');
  }
}
