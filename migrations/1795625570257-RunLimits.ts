import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Copies each run's concurrency limits onto the run (leasing then reads no pipeline spec), with a
 * backfill from the specs of existing runs; indexes stage runs by run and status, and events by
 * subject (a run's events are read by its id).
 */
export class RunLimits1795625570257 implements MigrationInterface {
  name = "RunLimits1795625570257";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "runs" ADD "max_parallel" integer');
    await queryRunner.query('ALTER TABLE "runs" ADD "max_concurrent_runs" integer');
    await queryRunner.query(
      `UPDATE runs SET max_parallel = (pv.spec->>'maxParallel')::int, max_concurrent_runs = (pv.spec->>'maxConcurrentRuns')::int
         FROM pipeline_versions pv WHERE pv.id = runs.pipeline_version_id`,
    );
    await queryRunner.query('CREATE INDEX "stage_runs_run_status_idx" ON "stage_runs"  ("run_id", "status") ');
    await queryRunner.query('CREATE INDEX "events_subject_idx" ON "events"  ("subject_id", "id") ');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."events_subject_idx"');
    await queryRunner.query('DROP INDEX "public"."stage_runs_run_status_idx"');
    await queryRunner.query('ALTER TABLE "runs" DROP COLUMN "max_concurrent_runs"');
    await queryRunner.query('ALTER TABLE "runs" DROP COLUMN "max_parallel"');
  }
}
