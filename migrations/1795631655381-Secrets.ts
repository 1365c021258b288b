import type { MigrationInterface, QueryRunner } from "typeorm";

/** Project secrets: values encrypted (AES-256-GCM) under the server key; only the key id is in the clear. */
export class Secrets1795631655381 implements MigrationInterface {
  name = "Secrets1795631655381";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "secrets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "ciphertext" bytea NOT NULL, "key_id" text NOT NULL, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_d4ff48ddba1883d4dc142b9c697" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "secrets_project_name_key" ON "secrets"  ("project_id", "name") ');
    await queryRunner.query(
      'ALTER TABLE "secrets" ADD CONSTRAINT "secrets_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "secrets" DROP CONSTRAINT "secrets_project_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."secrets_project_name_key"');
    await queryRunner.query('DROP TABLE "secrets"');
  }
}
