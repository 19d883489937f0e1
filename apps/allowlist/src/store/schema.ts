import type { MongoIndexSpec, MongoMigration, OpenedStore, SqliteMigration } from '@gatehouse/storage';
import type { ChangeVersion, DailyIpRepository, EntryRepository } from '../domain/model.js';
import { MongoChangeVersion } from './mongo-change-version.js';
import { dailyIpMongoIndexes, MongoDailyIpRepository } from './mongo-daily-ip-repository.js';
import { entryMongoIndexes, MongoEntryRepository } from './mongo-entry-repository.js';
import { changeVersionSqliteMigrations, SqliteChangeVersion } from './sqlite-change-version.js';
import { dailyIpSqliteMigrations, SqliteDailyIpRepository } from './sqlite-daily-ip-repository.js';
import { entrySqliteMigrations, SqliteEntryRepository } from './sqlite-entry-repository.js';

/**
 * The allowlist service's own schema, in the order it was introduced (the audit outbox's tables
 * are added by the service host): enumerated entries, daily IPs, then the change version.
 * Append new migrations; never reorder or rename applied ones.
 */
export const allowlistSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = {
  sqliteMigrations: [...entrySqliteMigrations, ...dailyIpSqliteMigrations, ...changeVersionSqliteMigrations],
  mongoMigrations: [],
  mongoIndexes: [...entryMongoIndexes, ...dailyIpMongoIndexes],
};

/** The allowlist's repositories on the opened store. */
export interface AllowlistStores {
  entries: EntryRepository;
  dailyIps: DailyIpRepository;
  version: ChangeVersion;
}

/** The SQLite or MongoDB adapters of every allowlist port, for the backend the host opened. */
export function allowlistStores(opened: OpenedStore): AllowlistStores {
  if (opened.backend === 'sqlite') {
    const s = opened.store;
    return { entries: new SqliteEntryRepository(s), dailyIps: new SqliteDailyIpRepository(s), version: new SqliteChangeVersion(s) };
  }
  const m = opened.store;
  return { entries: new MongoEntryRepository(m), dailyIps: new MongoDailyIpRepository(m), version: new MongoChangeVersion(m) };
}
