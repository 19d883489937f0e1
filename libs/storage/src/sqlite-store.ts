import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { baseTransaction, type Transaction, type UnitOfWork } from '@gatehouse/core';
import { StoreClosedError, TransactionMisuseError, toStorageError } from './errors.js';
import { Mutex } from './mutex.js';
import { migrateSqlite, type SqliteMigration } from './sqlite-migrations.js';
import { describeTx, insideTransactionOf, runInTransactionScope } from './transaction-scope.js';

/** The better-sqlite3 connection type, re-exported so adapters need no driver import for types. */
export type SqliteDatabase = Database.Database;

/** How to open a service's SQLite database. */
export interface SqliteOptions {
  /** Path of the database file, or ':memory:' for a throw-away database. */
  readonly file: string;
  /** The service's full migration list, in order (its own plus the ones its libs export). */
  readonly migrations: readonly SqliteMigration[];
  /** Open for reading only (tools, backups): no migrations are applied, writes fail. */
  readonly readonly?: boolean;
  /** How long a statement waits for another process's write lock before SQLITE_BUSY. Default 5000. */
  readonly busyTimeoutMs?: number;
}

/** Most units one group commit carries (a bound on the latency the first one waits). */
export const GROUP_COMMIT_MAX_UNITS = 64;
/** Longest a batch stays open for units to join, in ms. */
export const GROUP_COMMIT_MAX_MS = 10;

/** Our SQLite Transaction: only its store can unwrap it, and only while its run() is going. */
class SqliteTransaction implements Transaction {
  readonly backend = 'sqlite' as const;
  #active = true;
  constructor(readonly store: SqliteStore) {}
  get active(): boolean {
    return this.#active;
  }
  end(): void {
    this.#active = false;
  }
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * A service's SQLite database: the embedded default backend (DESIGN.md §4).
 *
 * better-sqlite3 is synchronous and has one connection, so every logical operation takes an
 * async mutex: `run()` holds it for the whole transaction (BEGIN IMMEDIATE … COMMIT), and
 * `exec(undefined, …)` holds it for one call. Nobody can therefore read another operation's
 * uncommitted writes, and transactions never interleave.
 *
 * Nesting: calling `run()`, or `exec()` without the tx, from inside a `run()` of the same store
 * throws TransactionMisuseError at once (it would otherwise wait for its own lock forever). Pass
 * the outer tx down instead. MongoStore behaves the same, so code that works on one backend
 * works on the other.
 */
export class SqliteStore implements UnitOfWork {
  /** Tells an openStore() result's consumers which adapter family to build. */
  readonly backend = 'sqlite' as const;
  readonly #mutex = new Mutex();
  #closed = false;
  /** The group-commit batch: a transaction open across units, and the callers waiting for its COMMIT. */
  #batch: { units: Array<{ resolve: () => void; reject: (err: unknown) => void }>; openedAt: number } | undefined;
  /** Units asked for during this turn of the event loop, let in together at its end (see run()). */
  #gathering: Array<() => void> | undefined;

  /** @internal use openSqlite(). */
  constructor(
    /** The raw connection, for adapters. Use it only through run()/exec() so the lock holds. */
    readonly db: SqliteDatabase,
    /** The file it was opened from (or ':memory:'). */
    readonly file: string,
    /** True when opened read-only. */
    readonly readonly: boolean,
  ) {
    cacheStatements(db);
  }

  /**
   * Runs fn as one unit of work: its writes commit together when it resolves, and none do when
   * it throws (the error is re-thrown, duplicate keys as DuplicateKeyError).
   *
   * Group commit (issue 14): units run one at a time, each inside a SAVEPOINT of a shared
   * transaction. While more units wait for the store, the transaction stays open and the next
   * unit joins it; the last one (or the {@link GROUP_COMMIT_MAX_UNITS}th, or after
   * {@link GROUP_COMMIT_MAX_MS}) commits them all with one fsync. A unit that throws rolls back
   * to its savepoint alone. No unit's promise resolves before the COMMIT that made it durable,
   * and a failed COMMIT rejects every unit of the batch (none of them happened).
   *
   * A unit first waits for the end of the current turn of the event loop (setImmediate), and all
   * units asked for during that turn queue for the lock together. better-sqlite3 is synchronous,
   * so no unit can queue while another one runs or while a COMMIT's fsync blocks the loop: units
   * reached from different I/O callbacks (a service's use cases after their own round trips)
   * otherwise found nobody waiting and committed one by one (StartImpersonation: 2.2 COMMITs per
   * start at 16 in flight; gathered, 0.2 to 0.4).
   */
  async run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    this.#assertOpen();
    if (insideTransactionOf(this)) {
      throw new TransactionMisuseError(
        'run() called inside another run() on the same SQLite store: pass the outer tx down instead ' +
          '(nested transactions are not supported; waiting would deadlock)',
      );
    }
    await this.#endOfTurn();
    const release = await this.#mutex.lock();
    let durable: Promise<void> | undefined;
    let result!: T;
    try {
      this.#assertOpen();
      if (!this.#batch) {
        this.db.exec(this.readonly ? 'BEGIN' : 'BEGIN IMMEDIATE');
        this.#batch = { units: [], openedAt: performance.now() };
      }
      const batch = this.#batch;
      const tx = new SqliteTransaction(this);
      this.db.exec('SAVEPOINT gatehouse_unit');
      try {
        result = await runInTransactionScope(this, () => tx.active, () => fn(tx));
      } catch (err) {
        tx.end();
        this.#undoUnit(err);
        throw toStorageError(err);
      }
      tx.end();
      this.db.exec('RELEASE gatehouse_unit');
      durable = new Promise<void>((resolve, reject) => batch.units.push({ resolve, reject }));
    } finally {
      // Keep the batch open only for a unit already queued, and only up to the caps.
      const b = this.#batch;
      if (b && !(this.#mutex.waiting > 0 && b.units.length < GROUP_COMMIT_MAX_UNITS && performance.now() - b.openedAt < GROUP_COMMIT_MAX_MS)) {
        this.#commitBatch();
      }
      release();
    }
    await durable;
    return result;
  }

  /** Resolves at the end of this turn of the event loop, together with every unit that asked during it. */
  #endOfTurn(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#gathering) {
        this.#gathering.push(resolve);
        return;
      }
      const gathering = [resolve];
      this.#gathering = gathering;
      setImmediate(() => {
        this.#gathering = undefined;
        for (const letIn of gathering) letIn();
      });
    });
  }

  /** Ends the open batch: one COMMIT for every unit in it, then each unit's caller hears the outcome. */
  #commitBatch(): void {
    const b = this.#batch;
    if (!b) return;
    this.#batch = undefined;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      this.#rollback();
      const e = toStorageError(err);
      for (const u of b.units) u.reject(e);
      return;
    }
    for (const u of b.units) u.resolve();
  }

  /** A unit threw: undo its writes alone, or, if SQLite already rolled the whole transaction back, fail its batch. */
  #undoUnit(err: unknown): void {
    if (this.db.inTransaction) {
      try {
        this.db.exec('ROLLBACK TO gatehouse_unit; RELEASE gatehouse_unit');
        return;
      } catch {
        // fall through: the savepoint is gone, so is the transaction
      }
    }
    const b = this.#batch;
    this.#batch = undefined;
    this.#rollback();
    const e = toStorageError(err);
    for (const u of b?.units ?? []) u.reject(e);
  }

  /**
   * Runs one synchronous piece of driver code. With a tx it runs inside that transaction; without
   * one it takes the store's lock first, so it sees only committed data and its writes commit on
   * their own (wrap several writes in db.transaction() or use run() to make them atomic).
   */
  async exec<T>(tx: Transaction | undefined, fn: (db: SqliteDatabase) => T): Promise<T> {
    this.#assertOpen();
    if (tx !== undefined) {
      this.#assertOwnTx(tx);
      return this.#call(fn);
    }
    if (insideTransactionOf(this)) {
      throw new TransactionMisuseError(
        'exec() without a tx inside run() on the same SQLite store: pass the tx (it would wait for its own lock forever)',
      );
    }
    // After the units asked for before it in this turn, as the lock's order always had it.
    if (this.#gathering) await this.#endOfTurn();
    const release = await this.#mutex.lock();
    try {
      this.#assertOpen();
      // A write of its own must not ride in a batch's transaction, nor a read see a batch not yet
      // durable. After the COMMIT, the batch's callers hear OK before this reads their data.
      if (this.#batch) {
        this.#commitBatch();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return this.#call(fn);
    } finally {
      release();
    }
  }

  /**
   * One durable write of a probe row: how a service that saw the store fail learns it can
   * write again (it then reports SERVING). Throws what the write throws.
   */
  async probeWrite(): Promise<void> {
    await this.run(async (tx) => {
      const db = sqliteTx(tx);
      db.exec('CREATE TABLE IF NOT EXISTS gatehouse_write_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)');
      db.prepare('INSERT OR REPLACE INTO gatehouse_write_probe (id, at) VALUES (1, ?)').run(Date.now());
    });
  }

  /** Waits for the running transaction, then closes the connection. Later calls fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#gathering) await this.#endOfTurn(); // the units asked for before close() still run
    await this.#mutex.withLock(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#commitBatch();
      this.db.close();
    });
  }

  /** False once close() started. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  #call<T>(fn: (db: SqliteDatabase) => T): T {
    let result: T;
    try {
      result = fn(this.db);
    } catch (err) {
      throw toStorageError(err);
    }
    if (isThenable(result)) {
      throw new TypeError('SqliteStore.exec() callbacks must be synchronous (better-sqlite3 is synchronous)');
    }
    return result;
  }

  #assertOwnTx(tx: Transaction): void {
    if (liveSqliteTx(tx).store !== this) {
      throw new TransactionMisuseError('this transaction belongs to another SQLite store');
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError(`SQLite store ${this.file} is closed`);
  }

  #rollback(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
}

/** Checks that tx is one of our live SQLite transactions. */
function liveSqliteTx(outer: Transaction): SqliteTransaction {
  const tx = baseTransaction(outer);
  if (!(tx instanceof SqliteTransaction)) {
    throw new TransactionMisuseError(
      `expected a SQLite transaction, got ${describeTx(tx, 'sqlite')}: this adapter belongs to the SQLite backend`,
    );
  }
  if (!tx.active) throw new TransactionMisuseError('this SQLite transaction has already finished (used after run() returned)');
  return tx;
}

/**
 * The better-sqlite3 connection behind a Transaction, for SQLite adapters. Throws
 * TransactionMisuseError for a MongoDB (or forged) transaction and for one that has finished,
 * so a write can never silently run outside the caller's transaction.
 */
export function sqliteTx(tx: Transaction): SqliteDatabase {
  return liveSqliteTx(tx).store.db;
}

/** Creates missing parent folders as 0700 and the file as 0600, tightening a file that is looser. */
function prepareFile(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    const { mode } = fs.fstatSync(fd);
    if ((mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Opens (creating if needed) a service's SQLite database with the durability settings security
 * writes need: WAL, synchronous=FULL (a commit survives power loss), foreign keys on and a busy
 * timeout. Applies the migrations before returning, and refuses a database from a newer version.
 */
export function openSqlite(options: SqliteOptions): SqliteStore {
  const readonly = options.readonly ?? false;
  const memory = options.file === ':memory:';
  const file = memory ? options.file : path.resolve(options.file);
  if (!memory && !readonly) prepareFile(file);
  const db = new Database(file, readonly ? { readonly: true, fileMustExist: true } : {});
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('foreign_keys = ON');
    if (readonly) {
      db.pragma('query_only = ON');
    } else {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (!memory && mode !== 'wal') throw new Error(`SQLite refused WAL mode for ${file} (got ${String(mode)})`);
      db.pragma('synchronous = FULL');
      // Deleted or overwritten content (erased secret ciphertexts, retired seeds) is zeroed in the
      // file, not left in free pages until a VACUUM.
      db.pragma('secure_delete = ON');
    }
    migrateSqlite(db, memory ? 'the in-memory SQLite database' : `SQLite database ${file}`, options.migrations, readonly);
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db, file, readonly);
}

/** Most distinct SQL texts kept prepared per connection (repositories use a few dozen). */
const STATEMENT_CACHE_LIMIT = 512;

/**
 * Makes `db.prepare` return one cached statement per SQL text, so repositories can write
 * `db.prepare(sql).run(...)` inline without compiling the SQL on every call (a hot-path cost).
 * Safe because every use goes through the store's serialised run()/exec() and statements are
 * never iterated concurrently. The cache is bounded (oldest text evicted) against dynamic SQL.
 * A statement's mode (`.pluck()`, `.raw()`) sticks to it: use one mode per SQL text.
 */
function cacheStatements(db: SqliteDatabase): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<typeof prepare>>();
  (db as { prepare: typeof prepare }).prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = prepare(sql);
      if (cache.size >= STATEMENT_CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
      cache.set(sql, stmt);
    }
    return stmt;
  }) as typeof prepare;
}
