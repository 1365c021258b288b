import type { MigrationInterface, QueryRunner } from "typeorm";

/** Feature views (versioned definitions), their materializations, the online store and training sets. */
export class Features1795632856768 implements MigrationInterface {
  name = "Features1795632856768";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "feature_views" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "version" integer NOT NULL, "definition" jsonb NOT NULL, "hash" text NOT NULL, "source_dataset_id" uuid NOT NULL, "description" text NOT NULL DEFAULT \'\', "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_21b3524dd31e0ec061247aa4979" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "feature_views_name_hash_key" ON "feature_views"  ("project_id", "name", "hash") ');
    await queryRunner.query('CREATE UNIQUE INDEX "feature_views_name_version_key" ON "feature_views"  ("project_id", "name", "version") ');
    await queryRunner.query(
      'CREATE TABLE "feature_materializations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "feature_view_id" uuid NOT NULL, "source_version_id" uuid NOT NULL, "artifact_id" uuid NOT NULL, "row_count" bigint NOT NULL, "online_rows" integer NOT NULL DEFAULT \'0\', "produced_by" uuid, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_8d7341b8da329eed4d8c4b32c8f" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "feature_materializations_view_idx" ON "feature_materializations"  ("feature_view_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "feature_online_values" ("project_id" uuid NOT NULL, "view_name" text NOT NULL, "entity_key" text NOT NULL, "feature_view_id" uuid NOT NULL, "materialization_id" uuid NOT NULL, "event_timestamp" TIMESTAMP WITH TIME ZONE NOT NULL, "values" jsonb NOT NULL, CONSTRAINT "PK_9f7089ff1b35fb7767f0405154c" PRIMARY KEY ("project_id", "view_name", "entity_key"))',
    );
    await queryRunner.query(
      'CREATE TABLE "training_sets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text, "artifact_id" uuid NOT NULL, "entity_version_id" uuid NOT NULL, "timestamp_column" text NOT NULL, "views" jsonb NOT NULL, "row_count" bigint NOT NULL, "columns" jsonb NOT NULL, "produced_by" uuid, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_20b02308baf470e1d6a40832c14" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "training_sets_project_idx" ON "training_sets"  ("project_id", "created_at") ');
    await queryRunner.query(
      'ALTER TABLE "feature_views" ADD CONSTRAINT "feature_views_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_views" ADD CONSTRAINT "feature_views_source_dataset_id_fkey" FOREIGN KEY ("source_dataset_id") REFERENCES "datasets"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_materializations" ADD CONSTRAINT "feature_materializations_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_materializations" ADD CONSTRAINT "feature_materializations_feature_view_id_fkey" FOREIGN KEY ("feature_view_id") REFERENCES "feature_views"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_materializations" ADD CONSTRAINT "feature_materializations_source_version_id_fkey" FOREIGN KEY ("source_version_id") REFERENCES "dataset_versions"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_materializations" ADD CONSTRAINT "feature_materializations_artifact_id_fkey" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_online_values" ADD CONSTRAINT "feature_online_values_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_online_values" ADD CONSTRAINT "feature_online_values_feature_view_id_fkey" FOREIGN KEY ("feature_view_id") REFERENCES "feature_views"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "feature_online_values" ADD CONSTRAINT "feature_online_values_materialization_id_fkey" FOREIGN KEY ("materialization_id") REFERENCES "feature_materializations"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "training_sets" ADD CONSTRAINT "training_sets_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "training_sets" ADD CONSTRAINT "training_sets_artifact_id_fkey" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "training_sets" ADD CONSTRAINT "training_sets_entity_version_id_fkey" FOREIGN KEY ("entity_version_id") REFERENCES "dataset_versions"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "training_sets" DROP CONSTRAINT "training_sets_entity_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "training_sets" DROP CONSTRAINT "training_sets_artifact_id_fkey"');
    await queryRunner.query('ALTER TABLE "training_sets" DROP CONSTRAINT "training_sets_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_online_values" DROP CONSTRAINT "feature_online_values_materialization_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_online_values" DROP CONSTRAINT "feature_online_values_feature_view_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_online_values" DROP CONSTRAINT "feature_online_values_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_materializations" DROP CONSTRAINT "feature_materializations_artifact_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_materializations" DROP CONSTRAINT "feature_materializations_source_version_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_materializations" DROP CONSTRAINT "feature_materializations_feature_view_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_materializations" DROP CONSTRAINT "feature_materializations_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_views" DROP CONSTRAINT "feature_views_source_dataset_id_fkey"');
    await queryRunner.query('ALTER TABLE "feature_views" DROP CONSTRAINT "feature_views_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."training_sets_project_idx"');
    await queryRunner.query('DROP TABLE "training_sets"');
    await queryRunner.query('DROP TABLE "feature_online_values"');
    await queryRunner.query('DROP INDEX "public"."feature_materializations_view_idx"');
    await queryRunner.query('DROP TABLE "feature_materializations"');
    await queryRunner.query('DROP INDEX "public"."feature_views_name_version_key"');
    await queryRunner.query('DROP INDEX "public"."feature_views_name_hash_key"');
    await queryRunner.query('DROP TABLE "feature_views"');
  }
}
