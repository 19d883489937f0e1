import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';

/**
 * The impersonation service's own schema, in the order it was introduced. The audit outbox's tables
 * are added by the service host; the impersonation tables arrive with its domain (issue 7).
 */
export const impersonationSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = { sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] };
