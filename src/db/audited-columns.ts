import { Column, CreateDateColumn, UpdateDateColumn } from "typeorm";

/**
 * The audit columns most tables carry, declared once: `created_at` (set by the database on
 * insert), `updated_at` (on every update through TypeORM) and `created_by` (the principal, null
 * for the system). An entity extends the class with the columns its table has; the names and
 * types are those the migrations created, so extending one needs no migration (the migration test
 * checks that the entities and the migrations agree).
 *
 * Single inheritance gives four classes for the four combinations in use.
 */

/** `created_at timestamptz(3)`, set on insert. */
export abstract class CreatedAtColumns {
  @CreateDateColumn({ name: "created_at", type: "timestamptz", precision: 3 })
  createdAt: Date;
}

/** `created_at` and `updated_at`. */
export abstract class TimestampColumns extends CreatedAtColumns {
  @UpdateDateColumn({ name: "updated_at", type: "timestamptz", precision: 3 })
  updatedAt: Date;
}

/** `created_by uuid null` (the principal; null for the system) and `created_at`. */
export abstract class CreatedByColumns extends CreatedAtColumns {
  @Column({ name: "created_by", type: "uuid", nullable: true })
  createdBy: string | null;
}

/** `created_by`, `created_at` and `updated_at`. */
export abstract class AuditedColumns extends CreatedByColumns {
  @UpdateDateColumn({ name: "updated_at", type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
