import type { MigrationInterface, QueryRunner } from "typeorm";

/** Notification channels of projects (a notifier plugin, its config, its secret's name, event patterns) and their delivery log. */

export class Notifications1795642482903 implements MigrationInterface {
  name = "Notifications1795642482903";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "notification_channels" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "kind" text NOT NULL, "config" jsonb NOT NULL, "secret_name" text, "event_types" text array NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3bc0cb5b60e8659f5fc859b2af0" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "notification_channels_project_name_key" ON "notification_channels"  ("project_id", "name") ',
    );
    await queryRunner.query(
      'CREATE TABLE "notification_deliveries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "channel_id" uuid NOT NULL, "project_id" uuid NOT NULL, "event_id" bigint NOT NULL, "event_type" text NOT NULL, "attempt" integer NOT NULL, "status" text NOT NULL, "due_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "claimed_until" TIMESTAMP(3) WITH TIME ZONE, "http_status" integer, "error" text, "duration_ms" integer, "finished_at" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_81daeff81f237bd384f7cfc4a4c" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "notification_deliveries_due_idx" ON "notification_deliveries"  ("status", "due_at") ');
    await queryRunner.query(
      'CREATE INDEX "notification_deliveries_channel_idx" ON "notification_deliveries"  ("channel_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "notification_deliveries_attempt_key" ON "notification_deliveries"  ("channel_id", "event_id", "attempt") ',
    );
    await queryRunner.query(
      'ALTER TABLE "notification_channels" ADD CONSTRAINT "notification_channels_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "notification_channels"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "notification_deliveries" DROP CONSTRAINT "notification_deliveries_channel_id_fkey"');
    await queryRunner.query('ALTER TABLE "notification_channels" DROP CONSTRAINT "notification_channels_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."notification_deliveries_attempt_key"');
    await queryRunner.query('DROP INDEX "public"."notification_deliveries_channel_idx"');
    await queryRunner.query('DROP INDEX "public"."notification_deliveries_due_idx"');
    await queryRunner.query('DROP TABLE "notification_deliveries"');
    await queryRunner.query('DROP INDEX "public"."notification_channels_project_name_key"');
    await queryRunner.query('DROP TABLE "notification_channels"');
  }
}
