import type { MigrationInterface, QueryRunner } from "typeorm";

/** When each stage attempt became claimable, so its queue wait (ready → started) can be measured (src/health). */
export class StageAttemptReadyAt1796200000001 implements MigrationInterface {
  name = "StageAttemptReadyAt1796200000001";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "stage_attempts" ADD "ready_at" TIMESTAMP(3) WITH TIME ZONE');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "stage_attempts" DROP COLUMN "ready_at"');
  }
}
