import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';

/**
 * The secrets service's own schema, in the order it was introduced. The audit outbox's tables
 * are added by the service host; the secrets tables arrive with its domain (issue 6).
 */
export const secretsSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = { sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] };
