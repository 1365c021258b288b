import type { MigrationInterface, QueryRunner } from "typeorm";

export class PredictionLog1795649076143 implements MigrationInterface {
  name = "PredictionLog1795649076143";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "predictions" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "registered_model_id" uuid NOT NULL, "model_version_id" uuid NOT NULL, "request_id" text, "row_index" integer NOT NULL, "prediction_id" text, "inputs" jsonb NOT NULL, "outputs" jsonb NOT NULL, "outcome" jsonb, "outcome_at" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b92c9e4db595214b289f5e28adc" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "predictions_model_created_idx" ON "predictions"  ("registered_model_id", "created_at") ');
    await queryRunner.query(
      'CREATE INDEX "predictions_model_prediction_id_idx" ON "predictions"  ("project_id", "registered_model_id", "prediction_id") ',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."predictions_model_prediction_id_idx"');
    await queryRunner.query('DROP INDEX "public"."predictions_model_created_idx"');
    await queryRunner.query('DROP TABLE "predictions"');
  }
}
