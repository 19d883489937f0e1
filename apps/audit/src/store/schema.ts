import type { MongoIndexSpec, MongoMigration, OpenedStore, SqliteMigration } from '@gatehouse/storage';
import type { AlertRepository } from '../domain/alert-store.js';
import type { LeafCodec, LogRepository } from '../domain/ports.js';
import { MongoAlertRepository, alertMongoIndexes } from './mongo-alert-repository.js';
import { MongoLogRepository, auditMongoIndexes, auditMongoMigrations } from './mongo-log-repository.js';
import { SqliteAlertRepository, alertSqliteMigrations } from './sqlite-alert-repository.js';
import { SqliteLogRepository, auditSqliteMigrations } from './sqlite-log-repository.js';

/** The audit service's schema on both backends, in the order it was introduced. */
export const auditSchema: {
  sqliteMigrations: readonly SqliteMigration[];
  mongoMigrations: readonly MongoMigration[];
  mongoIndexes: readonly MongoIndexSpec[];
} = {
  sqliteMigrations: [...auditSqliteMigrations, ...alertSqliteMigrations],
  mongoMigrations: auditMongoMigrations,
  mongoIndexes: [...auditMongoIndexes, ...alertMongoIndexes],
};

/** The adapters for the opened store. */
export function auditStores(store: OpenedStore, codec: LeafCodec): { logRepo: LogRepository; alertRepo: AlertRepository } {
  return store.backend === 'sqlite'
    ? { logRepo: new SqliteLogRepository(store.store, codec), alertRepo: new SqliteAlertRepository(store.store) }
    : { logRepo: new MongoLogRepository(store.store, codec), alertRepo: new MongoAlertRepository(store.store) };
}
