import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The data plane's datasets: datasets, their sources (files or a read-only SQL query, naming a
 * secret rather than holding a credential), and their immutable, content-hashed versions.
 */
export class Datasets1795630750681 implements MigrationInterface {
  name = "Datasets1795630750681";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "datasets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL DEFAULT \'\', "schema_policy" text NOT NULL DEFAULT \'FAIL_ON_BREAKING\', "latest_version_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1bf831e43c559a240303e23d038" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "datasets_project_name_key" ON "datasets"  ("project_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "dataset_sources" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "dataset_id" uuid NOT NULL, "name" text NOT NULL, "config" jsonb NOT NULL, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_43b03377907aaa0a5f16cd7bf1f" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "dataset_sources_dataset_name_key" ON "dataset_sources"  ("dataset_id", "name") ');
    await queryRunner.query(
      'CREATE TABLE "dataset_versions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "dataset_id" uuid NOT NULL, "version" integer NOT NULL, "content_hash" text NOT NULL, "artifact_id" uuid NOT NULL, "row_count" bigint NOT NULL, "schema" jsonb NOT NULL, "profile" jsonb NOT NULL, "schema_diff" jsonb, "source_id" uuid, "origin" jsonb NOT NULL DEFAULT \'{}\', "produced_by" uuid, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2335c164f3df47dabfe7d0fc6e5" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "dataset_versions_hash_key" ON "dataset_versions"  ("dataset_id", "content_hash") ');
    await queryRunner.query('CREATE UNIQUE INDEX "dataset_versions_number_key" ON "dataset_versions"  ("dataset_id", "version") ');
    await queryRunner.query(
      'ALTER TABLE "datasets" ADD CONSTRAINT "datasets_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "dataset_sources" ADD CONSTRAINT "dataset_sources_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "dataset_versions" ADD CONSTRAINT "dataset_versions_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "datasets"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "dataset_versions" ADD CONSTRAINT "dataset_versions_artifact_id_fkey" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "dataset_versions" DROP CONSTRAINT "dataset_versions_artifact_id_fkey"');
    await queryRunner.query('ALTER TABLE "dataset_versions" DROP CONSTRAINT "dataset_versions_dataset_id_fkey"');
    await queryRunner.query('ALTER TABLE "dataset_sources" DROP CONSTRAINT "dataset_sources_dataset_id_fkey"');
    await queryRunner.query('ALTER TABLE "datasets" DROP CONSTRAINT "datasets_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."dataset_versions_number_key"');
    await queryRunner.query('DROP INDEX "public"."dataset_versions_hash_key"');
    await queryRunner.query('DROP TABLE "dataset_versions"');
    await queryRunner.query('DROP INDEX "public"."dataset_sources_dataset_name_key"');
    await queryRunner.query('DROP TABLE "dataset_sources"');
    await queryRunner.query('DROP INDEX "public"."datasets_project_name_key"');
    await queryRunner.query('DROP TABLE "datasets"');
  }
}
