import type { MigrationInterface, QueryRunner } from "typeorm";

/** Per-endpoint request statistics by minute (src/serving/endpoint-stats): counts, errors by kind, rows, latency histogram, CPU. */
export class EndpointStats1796200000000 implements MigrationInterface {
  name = "EndpointStats1796200000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "endpoint_stats" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "served_name" text NOT NULL, "model_version_id" uuid NOT NULL, "variant" text NOT NULL, "minute" TIMESTAMP(3) WITH TIME ZONE NOT NULL, "requests" integer NOT NULL DEFAULT '0', "bad_requests" integer NOT NULL DEFAULT '0', "refused" integer NOT NULL DEFAULT '0', "server_errors" integer NOT NULL DEFAULT '0', "rows" bigint NOT NULL DEFAULT '0', "latency_ms_sum" double precision NOT NULL DEFAULT '0', "latency_buckets" integer array NOT NULL, "cpu_ms" double precision NOT NULL DEFAULT '0', CONSTRAINT "PK_344f538e6f82538ca668537b923" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query('CREATE INDEX "endpoint_stats_project_minute_idx" ON "endpoint_stats"  ("project_id", "minute") ');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "endpoint_stats_key_idx" ON "endpoint_stats"  ("project_id", "served_name", "model_version_id", "variant", "minute") ',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."endpoint_stats_key_idx"');
    await queryRunner.query('DROP INDEX "public"."endpoint_stats_project_minute_idx"');
    await queryRunner.query('DROP TABLE "endpoint_stats"');
  }
}
