import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * SLAs (src/slas): their definitions and state, their breaches, and SLA breaches in the alert
 * list — an alert now comes from a monitor's rule or from an SLA (`source`), so its rule,
 * monitor and window may be null.
 */
export class Slas1796400000000 implements MigrationInterface {
  name = "Slas1796400000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "slas" ("created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "created_by" uuid, "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL DEFAULT '', "kind" text NOT NULL, "subject_kind" text NOT NULL, "subject_name" text NOT NULL, "objective" double precision NOT NULL, "window_seconds" double precision, "schedule" text, "metric" text, "severity" text NOT NULL DEFAULT 'WARNING', "enabled" boolean NOT NULL DEFAULT true, "source" text NOT NULL DEFAULT 'API', "pipeline_id" uuid, "state" text NOT NULL DEFAULT 'PENDING', "observed" double precision, "evaluated_at" TIMESTAMP(3) WITH TIME ZONE, "state_since" TIMESTAMP(3) WITH TIME ZONE, "detail" jsonb NOT NULL DEFAULT '{}', "open_breach_id" uuid, CONSTRAINT "PK_079580ac0c55a0adb2d54e6fb01" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "slas_pipeline_idx" ON "slas" ("pipeline_id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "slas_project_name_key" ON "slas" ("project_id", "name")`);
    await queryRunner.query(
      `CREATE TABLE "sla_breaches" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "sla_id" uuid NOT NULL, "project_id" uuid NOT NULL, "started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "recovered_at" TIMESTAMP(3) WITH TIME ZONE, "observed" double precision NOT NULL, "recovered_observed" double precision, "objective" double precision NOT NULL, "window_seconds" double precision, "alert_id" uuid, "detail" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_5c89ce8bcd963fe0bae8079be75" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "sla_breaches_open_key" ON "sla_breaches" ("sla_id") WHERE recovered_at IS NULL`);
    await queryRunner.query(`CREATE INDEX "sla_breaches_sla_idx" ON "sla_breaches" ("sla_id", "started_at")`);
    await queryRunner.query(`ALTER TABLE "alerts" ADD "source" text NOT NULL DEFAULT 'MONITOR'`);
    await queryRunner.query(`ALTER TABLE "alerts" ADD "sla_id" uuid`);
    await queryRunner.query(`ALTER TABLE "alerts" ALTER COLUMN "rule_id" DROP NOT NULL`);
    await queryRunner.query(`ALTER TABLE "alerts" ALTER COLUMN "monitor_id" DROP NOT NULL`);
    await queryRunner.query(`ALTER TABLE "alerts" ALTER COLUMN "window_id" DROP NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "alerts_open_sla_key" ON "alerts" ("sla_id") WHERE status <> 'RESOLVED'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."alerts_open_sla_key"`);
    // SLA alerts have no rule, monitor nor window: they go with the SLAs.
    await queryRunner.query(`DELETE FROM "alerts" WHERE "source" = 'SLA'`);
    await queryRunner.query(`ALTER TABLE "alerts" ALTER COLUMN "window_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "alerts" ALTER COLUMN "monitor_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "alerts" ALTER COLUMN "rule_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "alerts" DROP COLUMN "sla_id"`);
    await queryRunner.query(`ALTER TABLE "alerts" DROP COLUMN "source"`);
    await queryRunner.query(`DROP INDEX "public"."sla_breaches_sla_idx"`);
    await queryRunner.query(`DROP INDEX "public"."sla_breaches_open_key"`);
    await queryRunner.query(`DROP TABLE "sla_breaches"`);
    await queryRunner.query(`DROP INDEX "public"."slas_project_name_key"`);
    await queryRunner.query(`DROP INDEX "public"."slas_pipeline_idx"`);
    await queryRunner.query(`DROP TABLE "slas"`);
  }
}
