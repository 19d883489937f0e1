// @gatehouse/storage: the two store backends (DESIGN.md §4) and what adapters need from them.
export { openSqlite, sqliteTx, SqliteStore, type SqliteOptions, type SqliteDatabase } from './sqlite-store.js';
export type { SqliteMigration } from './sqlite-migrations.js';
export {
  openMongo,
  mongoSession,
  inMongoTx,
  MongoStore,
  type MongoOptions,
  type MongoMigration,
  type MongoIndexSpec,
} from './mongo-store.js';
export { openStore, type OpenStoreOptions, type OpenedStore } from './open-store.js';
export { boundedMaxTimeMS } from './max-time.js';
export { inTurn } from './mutex.js';
export { inTurnUntilCommit } from './mongo-turns.js';
export { storeUnavailableReason } from './store-unavailable.js';
export {
  StorageError,
  DuplicateKeyError,
  MigrationError,
  TransactionMisuseError,
  StoreClosedError,
  TurnTimeoutError,
  toStorageError,
  isDuplicateKey,
  insertOrAlreadyExists,
} from './errors.js';
