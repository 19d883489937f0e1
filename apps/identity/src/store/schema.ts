import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';

/**
 * The identity service's own schema, in the order it was introduced. The audit outbox's tables
 * are added by the service host; the identity tables arrive with its domain (issue 4).
 */
export const identitySchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = { sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] };
