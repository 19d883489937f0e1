import path from 'node:path';
import { openMongo, type MongoIndexSpec, type MongoMigration, type MongoStore } from './mongo-store.js';
import type { SqliteMigration } from './sqlite-migrations.js';
import { openSqlite, type SqliteStore } from './sqlite-store.js';

/** Everything a service's main.ts needs to open its one store from config (DESIGN.md §4). */
export interface OpenStoreOptions {
  /** GATEHOUSE_STORE. */
  readonly backend: 'sqlite' | 'mongodb';
  /** GATEHOUSE_DATA_DIR: where the SQLite file lives. */
  readonly dataDir: string;
  /** Names the file (`<dataDir>/<serviceName>.db`) and the database (`gatehouse_<serviceName>`). */
  readonly serviceName: string;
  /** Overrides the MongoDB database name (default `gatehouse_<serviceName>`). */
  readonly mongoDbName?: string | undefined;
  /** MONGO_URL; required when backend is mongodb. */
  readonly mongoUrl?: string | undefined;
  readonly sqliteMigrations: readonly SqliteMigration[];
  readonly mongoMigrations: readonly MongoMigration[];
  readonly mongoIndexes: readonly MongoIndexSpec[];
  /** Passed to openMongo. */
  readonly defaultMaxTimeMS?: number;
}

/**
 * The opened store, tagged with its backend so main.ts can pick the matching adapters with a
 * switch the compiler checks for completeness.
 */
export type OpenedStore = { readonly backend: 'sqlite'; readonly store: SqliteStore } | { readonly backend: 'mongodb'; readonly store: MongoStore };

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,40}$/;

/**
 * Opens the service's own store: one service, one store. The service name becomes a file name and
 * a database name, so it is restricted to lowercase letters, digits and dashes.
 */
export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  if (!SERVICE_NAME.test(options.serviceName)) {
    throw new RangeError(`serviceName must match ${SERVICE_NAME.source}, got "${options.serviceName}"`);
  }
  switch (options.backend) {
    case 'sqlite':
      return {
        backend: 'sqlite',
        store: openSqlite({ file: path.join(options.dataDir, `${options.serviceName}.db`), migrations: options.sqliteMigrations }),
      };
    case 'mongodb': {
      if (!options.mongoUrl) throw new RangeError('backend mongodb needs a MongoDB URL (MONGO_URL)');
      const store = await openMongo({
        url: options.mongoUrl,
        dbName: options.mongoDbName ?? `gatehouse_${options.serviceName}`,
        appName: `gatehouse-${options.serviceName}`,
        migrations: options.mongoMigrations,
        indexes: options.mongoIndexes,
        ...(options.defaultMaxTimeMS === undefined ? {} : { defaultMaxTimeMS: options.defaultMaxTimeMS }),
      });
      return { backend: 'mongodb', store };
    }
    default: {
      const never: never = options.backend;
      throw new RangeError(`unknown store backend "${String(never)}" (expected sqlite or mongodb)`);
    }
  }
}
