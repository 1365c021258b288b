import type { MigrationInterface, QueryRunner } from "typeorm";

export class Governance1795642531994 implements MigrationInterface {
  name = "Governance1795642531994";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "approval_requests" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "registered_model_id" uuid NOT NULL, "model_version_id" uuid NOT NULL, "status" text NOT NULL, "policy" jsonb NOT NULL, "policy_is_default" boolean NOT NULL, "checks" jsonb NOT NULL, "required_approvals" integer NOT NULL, "requested_by" uuid, "expires_at" TIMESTAMP(3) WITH TIME ZONE, "reason" text NOT NULL DEFAULT \'\', "decided_at" TIMESTAMP(3) WITH TIME ZONE, "decided_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_484806bb8ff331b851fc75973c0" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "approval_requests_model_version_key" ON "approval_requests"  ("model_version_id") ');
    await queryRunner.query('CREATE INDEX "approval_requests_project_status_idx" ON "approval_requests"  ("project_id", "status") ');
    await queryRunner.query(
      'CREATE TABLE "approval_decisions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "request_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "verdict" text NOT NULL, "comment" text NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1ab59e2a6ef9cbc15372cf232e4" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "approval_decisions_request_principal_key" ON "approval_decisions"  ("request_id", "principal_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "gate_waits" ("stage_run_id" uuid NOT NULL, "request_id" uuid NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_02dddf69cb57f66dd21d7dfae18" PRIMARY KEY ("stage_run_id"))',
    );
    await queryRunner.query('CREATE INDEX "gate_waits_request_idx" ON "gate_waits"  ("request_id") ');
    await queryRunner.query('ALTER TABLE "registered_models" ADD "policy" jsonb');
    await queryRunner.query(
      'ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_registered_model_id_fkey" FOREIGN KEY ("registered_model_id") REFERENCES "registered_models"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "approval_decisions" ADD CONSTRAINT "approval_decisions_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_requests"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "gate_waits" ADD CONSTRAINT "gate_waits_stage_run_id_fkey" FOREIGN KEY ("stage_run_id") REFERENCES "stage_runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "gate_waits" ADD CONSTRAINT "gate_waits_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_requests"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "gate_waits" DROP CONSTRAINT "gate_waits_request_id_fkey"');
    await queryRunner.query('ALTER TABLE "gate_waits" DROP CONSTRAINT "gate_waits_stage_run_id_fkey"');
    await queryRunner.query('ALTER TABLE "approval_decisions" DROP CONSTRAINT "approval_decisions_request_id_fkey"');
    await queryRunner.query('ALTER TABLE "approval_requests" DROP CONSTRAINT "approval_requests_model_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "approval_requests" DROP CONSTRAINT "approval_requests_registered_model_id_fkey"');
    await queryRunner.query('ALTER TABLE "registered_models" DROP COLUMN "policy"');
    await queryRunner.query('DROP INDEX "public"."gate_waits_request_idx"');
    await queryRunner.query('DROP TABLE "gate_waits"');
    await queryRunner.query('DROP INDEX "public"."approval_decisions_request_principal_key"');
    await queryRunner.query('DROP TABLE "approval_decisions"');
    await queryRunner.query('DROP INDEX "public"."approval_requests_project_status_idx"');
    await queryRunner.query('DROP INDEX "public"."approval_requests_model_version_key"');
    await queryRunner.query('DROP TABLE "approval_requests"');
  }
}
