import {
  MongoClient,
  MongoServerError,
  type ClientSession,
  type CreateIndexesOptions,
  type Db,
  type TransactionOptions,
} from 'mongodb';
import { baseTransaction, type Transaction, type UnitOfWork } from '@gatehouse/core';
import { DuplicateKeyError, MigrationError, StoreClosedError, TransactionMisuseError, toStorageError } from './errors.js';
import { boundedMaxTimeMS } from './max-time.js';
import { checkMigrationIds, refuseDowngrade } from './migrations.js';
import { describeTx, insideTransactionOf, runInTransactionScope } from './transaction-scope.js';

/**
 * One step of a MongoDB schema (data reshaping, collection options). Applied once, in list
 * order, and recorded in `schema_migrations` afterwards. MongoDB cannot put DDL and the record
 * in one transaction, so a crash in between re-runs the step at the next start: write `up` to be
 * idempotent. Indexes do not need migrations: declare them as MongoIndexSpec.
 */
export interface MongoMigration {
  /** Unique and permanent, e.g. `audit-client/outbox/0001-...`. */
  readonly id: string;
  up(db: Db): Promise<void>;
}

/**
 * An index the service needs, created (idempotently, by name) at every start, as DESIGN.md §4
 * asks. Changing an existing index's key or options under the same name fails the start: drop
 * the old one in a migration and give the new one a new name.
 */
export interface MongoIndexSpec {
  readonly collection: string;
  /** Ascending (1) or descending (-1) fields, in order. Other index kinds belong in a migration. */
  readonly key: Readonly<Record<string, 1 | -1>>;
  readonly options: CreateIndexesOptions & { readonly name: string };
}

/** How to connect a service to its MongoDB database. */
export interface MongoOptions {
  /** A replica-set (or mongos) URL: transactions need one. */
  readonly url: string;
  /** The service's own database (`gatehouse_<service>` through openStore). */
  readonly dbName: string;
  readonly migrations: readonly MongoMigration[];
  readonly indexes: readonly MongoIndexSpec[];
  /** Shown in MongoDB's logs and currentOp, so operators see which service is calling. */
  readonly appName?: string;
  /** The cap on every operation's server time, and the default when a call has no deadline. Default 10000. */
  readonly defaultMaxTimeMS?: number;
  /** How long to wait for a usable server before an operation fails. Default 10000. */
  readonly serverSelectionTimeoutMS?: number;
}

/** Our MongoDB Transaction: carries the session adapters pass as `{ session }`. */
class MongoTransaction implements Transaction {
  readonly backend = 'mongodb' as const;
  #active = true;
  constructor(
    readonly store: MongoStore,
    readonly session: ClientSession,
  ) {}
  get active(): boolean {
    return this.#active;
  }
  end(): void {
    this.#active = false;
  }
}

/** Checks that tx is one of our live MongoDB transactions. */
function liveMongoTx(outer: Transaction): MongoTransaction {
  const tx = baseTransaction(outer);
  if (!(tx instanceof MongoTransaction)) {
    throw new TransactionMisuseError(
      `expected a MongoDB transaction, got ${describeTx(tx, 'mongodb')}: this adapter belongs to the MongoDB backend`,
    );
  }
  if (!tx.active) throw new TransactionMisuseError('this MongoDB transaction has already finished (used after run() returned)');
  return tx;
}

/**
 * The ClientSession behind a Transaction, for MongoDB adapters: pass `{ session }` to every
 * operation. Throws TransactionMisuseError for a SQLite (or forged) transaction and for one that
 * has finished, so a write can never silently run outside the caller's transaction.
 */
export function mongoSession(tx: Transaction): ClientSession {
  return liveMongoTx(tx).session;
}

const afterSession = new WeakMap<ClientSession, (() => Promise<void>)[]>();

/**
 * Runs `release` once the unit of work of `tx` has ended (committed or aborted, retries
 * included), before its run() returns: document turns are given back so that the next unit,
 * here or in another process, goes as soon as this one's outcome is durable.
 */
export function afterUnit(tx: Transaction, release: () => Promise<void>): void {
  const session = liveMongoTx(tx).session;
  const list = afterSession.get(session);
  if (list) list.push(release);
  else afterSession.set(session, [release]);
}

/** The database behind a live MongoDB transaction, for the store's own helpers (document turns). */
export function mongoTxDb(tx: Transaction): Db {
  return liveMongoTx(tx).store.db;
}

/** Driver options that run an operation in `tx` (a use case's unit of work), or on its own without one. */
export function inMongoTx(tx: Transaction | undefined): { session?: ClientSession } {
  return tx ? { session: mongoSession(tx) } : {};
}

const TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority', journal: true },
  readPreference: 'primary',
};

/** withTransaction() retries errors labelled TransientTransactionError by itself; some servers
 * (jongodb) report a commit-time WriteConflict without the label, which is just as safe to retry
 * because nothing was committed. */
const WRITE_CONFLICT = 112;
const MAX_UNLABELLED_CONFLICT_RETRIES = 5;

function isUnlabelledWriteConflict(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === WRITE_CONFLICT && !err.hasErrorLabel('TransientTransactionError');
}

/** How long close() waits for running units of work. */
const CLOSE_WAIT_MS = 5_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A service's MongoDB database: the scale-out backend (DESIGN.md §4). Every write uses
 * `w: majority, j: true` and reads use majority read concern on the primary, because security
 * state must survive a failover (Jepsen's MongoDB analyses).
 *
 * Nesting follows SqliteStore: run() or exec() without the tx inside a run() of the same store
 * throws TransactionMisuseError, so both backends behave the same.
 */
export class MongoStore implements UnitOfWork {
  /** Tells an openStore() result's consumers which adapter family to build. */
  readonly backend = 'mongodb' as const;
  #closed = false;
  /** Units of work under way: close() lets them end (commit or abort) before the client goes. */
  readonly #running = new Set<Promise<unknown>>();

  /** @internal use openMongo(). */
  constructor(
    /** The connected client, owned by this store (close() closes it). */
    readonly client: MongoClient,
    /** The service's database, for adapters. */
    readonly db: Db,
    /** The cap maxTimeMS() applies. */
    readonly defaultMaxTimeMS: number,
  ) {}

  /**
   * Runs fn in one multi-document transaction (session.withTransaction): commit when it resolves,
   * abort when it throws. fn may run more than once after a transient conflict, so it must not
   * have side effects outside the transaction.
   */
  async run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    this.#assertOpen();
    if (insideTransactionOf(this)) {
      throw new TransactionMisuseError(
        'run() called inside another run() on the same MongoDB store: pass the outer tx down instead (nested transactions are not supported)',
      );
    }
    const unit = this.#runUnit(fn);
    this.#running.add(unit);
    try {
      return await unit;
    } finally {
      this.#running.delete(unit);
    }
  }

  async #runUnit<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const session = this.client.startSession({ defaultTransactionOptions: TRANSACTION_OPTIONS });
    try {
      for (let attempt = 1; ; attempt++) {
        const tx = new MongoTransaction(this, session);
        try {
          return await session.withTransaction(() => runInTransactionScope(this, () => tx.active, () => fn(tx)));
        } catch (err) {
          if (attempt <= MAX_UNLABELLED_CONFLICT_RETRIES && isUnlabelledWriteConflict(err)) {
            await sleep(Math.random() * 5 * attempt);
            continue;
          }
          throw toStorageError(err);
        } finally {
          tx.end();
        }
      }
    } finally {
      await session.endSession();
      const releases = afterSession.get(session) ?? [];
      afterSession.delete(session);
      await Promise.all(releases.map((release) => release().catch(() => undefined)));
    }
  }

  /**
   * Runs driver code against the service's database. With a tx, `session` is the transaction's
   * and must be passed to every operation; without one it is undefined and each operation stands
   * alone. Duplicate keys surface as DuplicateKeyError.
   */
  async exec<T>(tx: Transaction | undefined, fn: (db: Db, session: ClientSession | undefined) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let session: ClientSession | undefined;
    if (tx !== undefined) {
      const own = liveMongoTx(tx);
      if (own.store !== this) throw new TransactionMisuseError('this transaction belongs to another MongoDB store');
      session = own.session;
    } else if (insideTransactionOf(this)) {
      throw new TransactionMisuseError(
        'exec() without a tx inside run() on the same MongoDB store: pass the tx (otherwise the call escapes the transaction)',
      );
    }
    try {
      return await fn(this.db, session);
    } catch (err) {
      throw toStorageError(err);
    }
  }

  /**
   * The maxTimeMS for one operation: the time left before the call's deadline, capped by the
   * store's default. Pass the gRPC deadline through so MongoDB stops when the caller gave up.
   */
  maxTimeMS(deadline?: Date): number {
    return boundedMaxTimeMS(deadline, this.defaultMaxTimeMS);
  }

  /** One durable write of a probe document (see SqliteStore.probeWrite). */
  async probeWrite(): Promise<void> {
    await this.db
      .collection<{ _id: string; at: Date }>('gatehouse_write_probe')
      .updateOne({ _id: 'probe' }, { $set: { at: new Date() } }, { upsert: true, writeConcern: { w: 'majority', j: true } });
  }

  /** Closes the client; in-flight operations fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A transaction cut off by the client's close is aborted by a replica set, but a server that
    // applies a commit piecemeal (jongodb) could keep half of it: let running units end first,
    // within a bound, so a drained replica leaves only whole units behind.
    const bound = new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref());
    await Promise.race([Promise.allSettled([...this.#running]), bound]);
    await this.client.close();
  }

  /** False once close() started. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError(`MongoDB store ${this.db.databaseName} is closed`);
  }
}

interface MigrationRecord {
  _id: string;
  appliedAt: Date;
}

/** Applies missing migrations in order after refusing a downgrade; returns the ids applied. */
async function migrateMongo(db: Db, migrations: readonly MongoMigration[], maxTimeMS: number): Promise<string[]> {
  checkMigrationIds(migrations.map((m) => m.id));
  const known = new Set(migrations.map((m) => m.id));
  const records = db.collection<MigrationRecord>('schema_migrations');
  const appliedIds = async () => new Set((await records.find({}, { maxTimeMS }).toArray()).map((r) => r._id));
  const where = `MongoDB database ${db.databaseName}`;
  const applied = await appliedIds();
  refuseDowngrade(where, applied, known);
  const done: string[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    try {
      await migration.up(db);
    } catch (err) {
      throw new MigrationError(`migration "${migration.id}" failed on ${where}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await records.insertOne({ _id: migration.id, appliedAt: new Date() });
    } catch (err) {
      // Another instance applied and recorded it at the same time: its record stands.
      if (!(toStorageError(err) instanceof DuplicateKeyError)) throw err;
    }
    done.push(migration.id);
  }
  refuseDowngrade(where, await appliedIds(), known);
  return done;
}

/** Creates each declared index by name; an unchanged index is a no-op, a changed one fails the start. */
async function ensureIndexes(db: Db, indexes: readonly MongoIndexSpec[]): Promise<void> {
  const names = new Set<string>();
  for (const spec of indexes) {
    const key = `${spec.collection}.${spec.options.name}`;
    if (!spec.options.name) throw new MigrationError(`an index on ${spec.collection} has no name`);
    if (names.has(key)) throw new MigrationError(`index ${key} is declared twice`);
    names.add(key);
    const hint = 'if its definition changed, drop the old one in a migration and give the new one a new name';
    try {
      await db.collection(spec.collection).createIndex({ ...spec.key }, { ...spec.options });
    } catch (err) {
      throw new MigrationError(`index ${key} could not be created (${hint}): ${(err as Error).message}`, { cause: err });
    }
    // MongoDB refuses a changed definition under an existing name; some test servers (jongodb)
    // silently keep the old one, so check the parts that matter for correctness ourselves.
    const existing = (await db.collection(spec.collection).listIndexes().toArray()).find((ix) => ix['name'] === spec.options.name);
    if (
      !existing ||
      JSON.stringify(existing['key']) !== JSON.stringify(spec.key) ||
      Boolean(existing['unique']) !== Boolean(spec.options.unique) ||
      existing['expireAfterSeconds'] !== spec.options.expireAfterSeconds
    ) {
      throw new MigrationError(`index ${key} exists with a different definition (${hint})`);
    }
  }
}

/**
 * Connects to MongoDB with the settings security writes need (w: majority, j: true, majority
 * reads from the primary, retryable writes), applies migrations and creates indexes, so a
 * service never serves with a half-built schema. Closes the client again if any step fails.
 */
export async function openMongo(options: MongoOptions): Promise<MongoStore> {
  const defaultMaxTimeMS = options.defaultMaxTimeMS ?? 10_000;
  boundedMaxTimeMS(undefined, defaultMaxTimeMS); // validates it
  const client = new MongoClient(options.url, {
    appName: options.appName ?? 'gatehouse',
    writeConcern: { w: 'majority', journal: true },
    readConcern: { level: 'majority' },
    readPreference: 'primary',
    retryWrites: true,
    retryReads: true,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
  });
  try {
    await client.connect();
    const db = client.db(options.dbName);
    await migrateMongo(db, options.migrations, defaultMaxTimeMS);
    await ensureIndexes(db, options.indexes);
    return new MongoStore(client, db, defaultMaxTimeMS);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}
