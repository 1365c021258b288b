import type { MigrationInterface, QueryRunner } from "typeorm";

/** A decision says whether it was a self-approval (separation of duties overridden), as the audit log did alone before. */
export class SelfApprovalDecision1796150000000 implements MigrationInterface {
  name = "SelfApprovalDecision1796150000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "approval_decisions" ADD "self_approval" boolean NOT NULL DEFAULT false');
    // Self-approvals given before: the audit row of the approval says so (`selfApproved`).
    await queryRunner.query(
      `UPDATE "approval_decisions" d SET "self_approval" = true
        FROM "audit_events" a
        WHERE a."action" = 'model.version.approve' AND a."outcome" = 'SUCCEEDED' AND a."result"->>'selfApproved' = 'true'
          AND a."result"->>'requestId' = d."request_id"::text AND a."actor_id" = d."principal_id" AND d."verdict" = 'APPROVE'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "approval_decisions" DROP COLUMN "self_approval"');
  }
}
