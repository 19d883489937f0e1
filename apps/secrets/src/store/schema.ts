import type { MongoIndexSpec, MongoMigration, OpenedStore, SqliteMigration } from '@gatehouse/storage';
import type { ReleaseRepository, SecretRepository } from '../domain/model.js';
import { MongoReleaseRepository, releaseMongoIndexes } from './mongo-release-repository.js';
import { MongoSecretRepository, secretMongoIndexes } from './mongo-secret-repository.js';
import { releaseSqliteMigrations, SqliteReleaseRepository } from './sqlite-release-repository.js';
import { secretSqliteMigrations, SqliteSecretRepository } from './sqlite-secret-repository.js';

/**
 * The secrets service's own schema, in the order it was introduced (the audit outbox's tables
 * are added by the service host): secret heads and versions, then releases (issue 6).
 * Append new migrations; never reorder or rename applied ones.
 */
export const secretsSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = {
  sqliteMigrations: [...secretSqliteMigrations, ...releaseSqliteMigrations],
  mongoMigrations: [],
  mongoIndexes: [...secretMongoIndexes, ...releaseMongoIndexes],
};

/** The secrets service's repositories on the opened store. */
export interface SecretsStores {
  secrets: SecretRepository;
  releases: ReleaseRepository;
}

/** The SQLite or MongoDB adapters of every secrets port, for the backend the host opened. */
export function secretsStores(opened: OpenedStore): SecretsStores {
  if (opened.backend === 'sqlite') {
    const s = opened.store;
    return { secrets: new SqliteSecretRepository(s), releases: new SqliteReleaseRepository(s) };
  }
  const m = opened.store;
  return { secrets: new MongoSecretRepository(m), releases: new MongoReleaseRepository(m) };
}
