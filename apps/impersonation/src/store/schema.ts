import { signingKeyMongoIndexes, signingKeySqliteMigrations } from '@gatehouse/signing-keys';
import type { MongoIndexSpec, MongoMigration, OpenedStore, SqliteMigration } from '@gatehouse/storage';
import type { ImpersonationStores } from '../domain/model.js';
import { impersonationMongoIndexes, MongoAccessRepository, MongoAnomalyRepository, MongoBurstRepository, MongoGrantRepository, MongoLockRepository } from './mongo-repositories.js';
import {
  impersonationSqliteMigrations,
  SqliteAccessRepository,
  SqliteAnomalyRepository,
  SqliteBurstRepository,
  SqliteGrantRepository,
  SqliteLockRepository,
} from './sqlite-repositories.js';

/**
 * The impersonation service's own schema, in the order it was introduced (the audit outbox's
 * tables are added by the service host): grants, burst windows, anomalies, locks and access
 * reports (issue 7), then the signing keys of impersonation tokens. Append new migrations; never
 * reorder or rename applied ones.
 */
export const impersonationSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = {
  sqliteMigrations: [...impersonationSqliteMigrations, ...signingKeySqliteMigrations],
  mongoMigrations: [],
  mongoIndexes: [...impersonationMongoIndexes, ...signingKeyMongoIndexes],
};

/** The SQLite or MongoDB adapters of every impersonation port, for the backend the host opened. */
export function impersonationStores(opened: OpenedStore): ImpersonationStores {
  if (opened.backend === 'sqlite') {
    const s = opened.store;
    return { grants: new SqliteGrantRepository(s), bursts: new SqliteBurstRepository(s), anomalies: new SqliteAnomalyRepository(s), locks: new SqliteLockRepository(s), access: new SqliteAccessRepository(s) };
  }
  const m = opened.store;
  return { grants: new MongoGrantRepository(m), bursts: new MongoBurstRepository(m), anomalies: new MongoAnomalyRepository(m), locks: new MongoLockRepository(m), access: new MongoAccessRepository(m) };
}
