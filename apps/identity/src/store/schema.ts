import type { MongoIndexSpec, MongoMigration, SqliteMigration } from '@gatehouse/storage';
import { accountMongoIndexes } from './mongo-account-repository.js';
import { accountSqliteMigrations } from './sqlite-account-repository.js';
import { otpMongoIndexes } from './mongo-otp-repository.js';
import { otpSqliteMigrations } from './sqlite-otp-repository.js';

/**
 * The identity service's own schema, in the order it was introduced (the audit outbox's tables
 * are added by the service host). Accounts, OTP credentials and throttle state exist; sign-ins,
 * SMS codes and sessions follow with the rest of issue 4.
 */
export const identitySchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = {
  sqliteMigrations: [...accountSqliteMigrations, ...otpSqliteMigrations],
  mongoMigrations: [],
  mongoIndexes: [...accountMongoIndexes, ...otpMongoIndexes],
};
