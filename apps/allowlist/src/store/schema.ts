import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';

/**
 * The allowlist service's own schema, in the order it was introduced. The audit outbox's tables
 * are added by the service host; the allowlist tables arrive with its domain (issue 5).
 */
export const allowlistSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = { sqliteMigrations: [], mongoMigrations: [], mongoIndexes: [] };
