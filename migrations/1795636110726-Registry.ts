import type { MigrationInterface, QueryRunner } from "typeorm";

/** The model registry: registered models, their versions (ONNX artifacts with signature, metrics, lineage) and aliases with history. */

export class Registry1795636110726 implements MigrationInterface {
  name = "Registry1795636110726";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "registered_models" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL DEFAULT \'\', "tags" jsonb NOT NULL DEFAULT \'{}\', "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_16a82925f580123233de08f4a87" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "registered_models_project_name_key" ON "registered_models"  ("project_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "model_versions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "registered_model_id" uuid NOT NULL, "project_id" uuid NOT NULL, "version" integer NOT NULL, "status" text NOT NULL DEFAULT \'PENDING_APPROVAL\', "artifact_id" uuid NOT NULL, "signature" jsonb NOT NULL, "metrics" jsonb NOT NULL DEFAULT \'{}\', "tags" jsonb NOT NULL DEFAULT \'{}\', "description" text NOT NULL DEFAULT \'\', "source" text NOT NULL, "lineage" jsonb NOT NULL DEFAULT \'{}\', "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_77c0256872dcc26394dba4b87ec" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "model_versions_number_key" ON "model_versions"  ("registered_model_id", "version") ');
    await queryRunner.query(
      'CREATE TABLE "model_aliases" ("registered_model_id" uuid NOT NULL, "alias" text NOT NULL, "version_id" uuid NOT NULL, "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_bbff8b1e6436fd9311b203a7115" PRIMARY KEY ("registered_model_id", "alias"))',
    );
    await queryRunner.query(
      'CREATE TABLE "model_alias_history" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "registered_model_id" uuid NOT NULL, "alias" text NOT NULL, "from_version_id" uuid, "to_version_id" uuid, "actor_id" uuid, "at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_cfb4ee838bfd2d68a05a9af1d5e" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "model_alias_history_model_idx" ON "model_alias_history"  ("registered_model_id", "alias", "at") ',
    );
    await queryRunner.query(
      'ALTER TABLE "registered_models" ADD CONSTRAINT "registered_models_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_registered_model_id_fkey" FOREIGN KEY ("registered_model_id") REFERENCES "registered_models"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_artifact_id_fkey" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "model_aliases" ADD CONSTRAINT "model_aliases_registered_model_id_fkey" FOREIGN KEY ("registered_model_id") REFERENCES "registered_models"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "model_aliases" ADD CONSTRAINT "model_aliases_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "model_alias_history" ADD CONSTRAINT "model_alias_history_registered_model_id_fkey" FOREIGN KEY ("registered_model_id") REFERENCES "registered_models"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "model_alias_history" DROP CONSTRAINT "model_alias_history_registered_model_id_fkey"');
    await queryRunner.query('ALTER TABLE "model_aliases" DROP CONSTRAINT "model_aliases_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "model_aliases" DROP CONSTRAINT "model_aliases_registered_model_id_fkey"');
    await queryRunner.query('ALTER TABLE "model_versions" DROP CONSTRAINT "model_versions_artifact_id_fkey"');
    await queryRunner.query('ALTER TABLE "model_versions" DROP CONSTRAINT "model_versions_registered_model_id_fkey"');
    await queryRunner.query('ALTER TABLE "registered_models" DROP CONSTRAINT "registered_models_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."model_alias_history_model_idx"');
    await queryRunner.query('DROP TABLE "model_alias_history"');
    await queryRunner.query('DROP TABLE "model_aliases"');
    await queryRunner.query('DROP INDEX "public"."model_versions_number_key"');
    await queryRunner.query('DROP TABLE "model_versions"');
    await queryRunner.query('DROP INDEX "public"."registered_models_project_name_key"');
    await queryRunner.query('DROP TABLE "registered_models"');
  }
}
