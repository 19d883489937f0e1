import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';
import { accountMongoIndexes } from './mongo-account-repository.js';
import { accountSqliteMigrations } from './sqlite-account-repository.js';

/**
 * The identity service's own schema, in the order it was introduced (the audit outbox's tables
 * are added by the service host). Accounts exist; credentials, sign-ins and sessions follow with
 * the rest of issue 4.
 */
export const identitySchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = { sqliteMigrations: [...accountSqliteMigrations], mongoMigrations: [], mongoIndexes: [...accountMongoIndexes] };
