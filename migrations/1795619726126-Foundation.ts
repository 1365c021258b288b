import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The foundation: projects, principals, API tokens (hashes only), role bindings, the audit log
 * and the event stream. UUIDs come from the built-in `gen_random_uuid()` (no extension needed);
 * timestamps keep milliseconds, the precision JavaScript sees, so cursors round-trip exactly.
 */
export class Foundation1795619726126 implements MigrationInterface {
  name = "Foundation1795619726126";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "audit_events" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "actor_id" uuid, "actor_name" text NOT NULL, "project_id" uuid, "action" text NOT NULL, "target_id" text, "outcome" text NOT NULL, "input" jsonb NOT NULL, "result" jsonb NOT NULL, "request_id" text, CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "audit_events_action_idx" ON "audit_events"  ("action", "at") ');
    await queryRunner.query('CREATE INDEX "audit_events_project_idx" ON "audit_events"  ("project_id", "at") ');
    await queryRunner.query('CREATE INDEX "audit_events_actor_idx" ON "audit_events"  ("actor_id", "at") ');
    await queryRunner.query('CREATE INDEX "audit_events_at_idx" ON "audit_events"  ("at") ');
    await queryRunner.query(
      'CREATE TABLE "principals" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "kind" text NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_58c7b420eb803e39d754963719c" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "principals_name_key" ON "principals"  ("name") ');
    await queryRunner.query(
      'CREATE TABLE "api_tokens" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "principal_id" uuid NOT NULL, "name" text NOT NULL, "prefix" text NOT NULL, "token_hash" text NOT NULL, "expires_at" TIMESTAMP(3) WITH TIME ZONE, "revoked_at" TIMESTAMP(3) WITH TIME ZONE, "last_used_at" TIMESTAMP(3) WITH TIME ZONE, "created_by" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_c587455266b5fa8dace7194caac" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "api_tokens_principal_id_idx" ON "api_tokens"  ("principal_id") ');
    await queryRunner.query('CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"  ("token_hash") ');
    await queryRunner.query(
      'CREATE TABLE "projects" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "description" text NOT NULL DEFAULT \'\', "archived_at" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6271df0a7aed1d6c0691ce6ac50" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "projects_name_key" ON "projects"  ("name") ');
    await queryRunner.query(
      'CREATE TABLE "role_bindings" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "principal_id" uuid NOT NULL, "role" text NOT NULL, "project_id" uuid, "scope_key" text NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_75acd622be13220fadd56bfdfbe" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "role_bindings_principal_id_idx" ON "role_bindings"  ("principal_id") ');
    await queryRunner.query('CREATE INDEX "role_bindings_project_id_idx" ON "role_bindings"  ("project_id") ');
    await queryRunner.query('CREATE UNIQUE INDEX "role_bindings_unique" ON "role_bindings"  ("principal_id", "role", "scope_key") ');
    await queryRunner.query(
      'CREATE TABLE "events" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "type" text NOT NULL, "project_id" uuid, "subject_id" text, "payload" jsonb NOT NULL, "actor_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_40731c7151fe4be3116e45ddf73" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "events_type_idx" ON "events"  ("type", "id") ');
    await queryRunner.query('CREATE INDEX "events_project_id_idx" ON "events"  ("project_id", "id") ');
    await queryRunner.query(
      'ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "role_bindings" ADD CONSTRAINT "role_bindings_principal_id_fkey" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "role_bindings" ADD CONSTRAINT "role_bindings_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "role_bindings" DROP CONSTRAINT "role_bindings_project_id_fkey"');
    await queryRunner.query('ALTER TABLE "role_bindings" DROP CONSTRAINT "role_bindings_principal_id_fkey"');
    await queryRunner.query('ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_principal_id_fkey"');
    await queryRunner.query('DROP INDEX "public"."events_project_id_idx"');
    await queryRunner.query('DROP INDEX "public"."events_type_idx"');
    await queryRunner.query('DROP TABLE "events"');
    await queryRunner.query('DROP INDEX "public"."role_bindings_unique"');
    await queryRunner.query('DROP INDEX "public"."role_bindings_project_id_idx"');
    await queryRunner.query('DROP INDEX "public"."role_bindings_principal_id_idx"');
    await queryRunner.query('DROP TABLE "role_bindings"');
    await queryRunner.query('DROP INDEX "public"."projects_name_key"');
    await queryRunner.query('DROP TABLE "projects"');
    await queryRunner.query('DROP INDEX "public"."api_tokens_token_hash_key"');
    await queryRunner.query('DROP INDEX "public"."api_tokens_principal_id_idx"');
    await queryRunner.query('DROP TABLE "api_tokens"');
    await queryRunner.query('DROP INDEX "public"."principals_name_key"');
    await queryRunner.query('DROP TABLE "principals"');
    await queryRunner.query('DROP INDEX "public"."audit_events_at_idx"');
    await queryRunner.query('DROP INDEX "public"."audit_events_actor_idx"');
    await queryRunner.query('DROP INDEX "public"."audit_events_project_idx"');
    await queryRunner.query('DROP INDEX "public"."audit_events_action_idx"');
    await queryRunner.query('DROP TABLE "audit_events"');
  }
}
