import type { MigrationInterface, QueryRunner } from "typeorm";

export class Deployments1795653236912 implements MigrationInterface {
  name = "Deployments1795653236912";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "deployments" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "registered_model_id" uuid NOT NULL, "version" integer, "alias" text, "mode" text NOT NULL DEFAULT \'REALTIME\', "canary_version" integer, "canary_percent" integer NOT NULL DEFAULT \'0\', "shadow_version" integer, "revision" integer NOT NULL DEFAULT \'1\', "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1e5627acb3c950deb83fe98fc48" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "deployments_registered_model_idx" ON "deployments"  ("registered_model_id") ');
    await queryRunner.query('CREATE UNIQUE INDEX "deployments_project_name_key" ON "deployments"  ("project_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "deployment_revisions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "deployment_id" uuid NOT NULL, "revision" integer NOT NULL, "change" text NOT NULL, "registered_model_id" uuid NOT NULL, "version" integer, "alias" text, "mode" text NOT NULL, "canary_version" integer, "canary_percent" integer NOT NULL, "shadow_version" integer, "actor_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a778e5c2bd9ec1accf36292e804" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "deployment_revisions_number_key" ON "deployment_revisions"  ("deployment_id", "revision") ',
    );
    await queryRunner.query(
      'ALTER TABLE "deployments" ADD CONSTRAINT "deployments_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "deployments" ADD CONSTRAINT "deployments_registered_model_id_fkey" FOREIGN KEY ("registered_model_id") REFERENCES "registered_models"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "deployment_revisions" ADD CONSTRAINT "deployment_revisions_deployment_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "deployment_revisions" DROP CONSTRAINT "deployment_revisions_deployment_id_fkey"');
    await queryRunner.query('ALTER TABLE "deployments" DROP CONSTRAINT "deployments_registered_model_id_fkey"');
    await queryRunner.query('ALTER TABLE "deployments" DROP CONSTRAINT "deployments_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."deployment_revisions_number_key"');
    await queryRunner.query('DROP TABLE "deployment_revisions"');
    await queryRunner.query('DROP INDEX "public"."deployments_project_name_key"');
    await queryRunner.query('DROP INDEX "public"."deployments_registered_model_idx"');
    await queryRunner.query('DROP TABLE "deployments"');
  }
}
