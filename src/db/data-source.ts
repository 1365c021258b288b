import fs from "node:fs";
import path from "node:path";
import { DataSource, type DataSourceOptions } from "typeorm";
import { migrations } from "../../migrations";
import { openPGlite, pgliteDriverModule } from "./pglite-pool";

/** Which engine holds the data: the embedded PGlite or a PostgreSQL server. */
export type DatabaseKind = "pglite" | "postgres";

export interface DatabaseOptions {
  /** PostgreSQL URL; undefined selects the embedded PGlite. */
  databaseUrl: string | undefined;
  /** Folder for the embedded database, or `memory://` to keep it in memory. */
  dataDir: string;
  /** Connections in the PostgreSQL pool. @default 10 */
  poolSize?: number;
  /**
   * Every TypeORM entity class. The list is composed by the caller (`src/app/entities.ts`):
   * storage sits below the capabilities and so cannot import their rows itself.
   */
  entities: NonNullable<DataSourceOptions["entities"]>;
}

/** Connection counts for the `/metrics` gauges; the same shape for both engines. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** The open database: one TypeORM data source over PGlite or node-postgres. */
export interface Database {
  readonly kind: DatabaseKind;
  readonly dataSource: DataSource;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

interface PoolCounters {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * Opens the data source. Both engines go through TypeORM's PostgreSQL driver, so every
 * query and migration is the same SQL; only the connection underneath differs.
 * `uuidExtension: "pgcrypto"` makes TypeORM use the built-in `gen_random_uuid()`, and
 * `installExtensions: false` keeps it from creating extensions this server may not have.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const common = {
    type: "postgres" as const,
    entities: options.entities,
    migrations,
    migrationsTableName: "migrations",
    migrationsTransactionMode: "each" as const,
    synchronize: false,
    uuidExtension: "pgcrypto" as const,
    installExtensions: false,
    logging: false,
  };
  let dataSource: DataSource;
  let kind: DatabaseKind;
  if (options.databaseUrl) {
    kind = "postgres";
    dataSource = new DataSource({ ...common, url: options.databaseUrl, poolSize: options.poolSize ?? 10, applicationName: "sluice" });
  } else {
    kind = "pglite";
    let dir: string | undefined;
    if (options.dataDir !== "memory://") {
      dir = path.join(options.dataDir, "pglite");
      fs.mkdirSync(dir, { recursive: true });
    }
    const db = await openPGlite(dir);
    dataSource = new DataSource({ ...common, driver: pgliteDriverModule(db) } as ConstructorParameters<typeof DataSource>[0]);
  }
  await dataSource.initialize();
  return {
    kind,
    dataSource,
    poolStats() {
      const pool = (dataSource.driver as unknown as { master?: PoolCounters }).master;
      return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
    },
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}
