import type { MigrationInterface, QueryRunner } from "typeorm";

export class AliasHistoryOrder1795647539255 implements MigrationInterface {
  name = "AliasHistoryOrder1795647539255";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "model_alias_history" ADD "seq" BIGSERIAL NOT NULL');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "model_alias_history" DROP COLUMN "seq"');
  }
}
