import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';

/**
 * The audit service's own schema, in the order it was introduced. The audit outbox's tables
 * are added by the service host; the audit tables arrive with its domain (issue 3).
 */
export const auditSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = { sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] };
