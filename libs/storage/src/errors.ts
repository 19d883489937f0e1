import { AlreadyExistsError } from '@gatehouse/core';
import Database from 'better-sqlite3';
import { MongoServerError } from 'mongodb';

/**
 * Base of the storage layer's own errors. They are not DomainErrors on purpose: their messages
 * name tables, indexes and files, so the service kit treats them as INTERNAL and never sends
 * them to a client. Adapters translate the ones that carry domain meaning (DuplicateKeyError).
 */
export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A unique index refused a write. SQLite's UNIQUE/PRIMARY KEY constraint and MongoDB's E11000
 * both become this one error, so adapters (and contract tests) handle duplicates the same way on
 * both backends. `index` names the constraint or index when the driver says which one; the
 * duplicated value is left out of the message (it may be a token hash) and kept only in `cause`.
 */
export class DuplicateKeyError extends StorageError {
  constructor(
    readonly index: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(index ? `duplicate key on ${index}` : 'duplicate key', options);
  }
}

/** A schema migration or index could not be applied, or the database is newer than this code. */
export class MigrationError extends StorageError {}

/**
 * A Transaction was used where it cannot work: the wrong backend, another store's transaction,
 * one whose run() already finished, or a nested run()/exec() that would deadlock. These are
 * programming errors; the message says what to do instead.
 */
export class TransactionMisuseError extends StorageError {}

/** The store was closed (shutdown) before or while the operation waited for it. */
export class StoreClosedError extends StorageError {}

/**
 * Another process held a document's turn (a cross-process lease, see inTurnUntilCommit) for
 * longer than a unit may wait: the store is busy, not the request wrong, so it is retryable.
 */
export class TurnTimeoutError extends StorageError {}

const SQLITE_DUPLICATE_CODES = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);
const MONGO_DUPLICATE_CODES = new Set([11000, 11001]);

/**
 * Turns a driver's duplicate-key error into DuplicateKeyError and returns anything else
 * unchanged. Stores apply it at their boundaries (run, exec), so adapters only ever see the
 * typed error; call it yourself only when talking to a driver outside those.
 */
export function toStorageError(err: unknown): unknown {
  if (err instanceof StorageError) return err;
  if (err instanceof Database.SqliteError && SQLITE_DUPLICATE_CODES.has(err.code)) {
    // "UNIQUE constraint failed: audit_outbox.event_id"
    const index = /constraint failed: (.+)$/.exec(err.message)?.[1];
    return new DuplicateKeyError(index, { cause: err });
  }
  if (err instanceof MongoServerError && typeof err.code === 'number' && MONGO_DUPLICATE_CODES.has(err.code)) {
    // "E11000 duplicate key error collection: db.c index: eventId_unique dup key: { ... }"
    const index = /index: (\S+)/.exec(err.message)?.[1];
    return new DuplicateKeyError(index, { cause: err });
  }
  return err;
}

/** True for a duplicate-key error from either driver (raw or already typed). */
export function isDuplicateKey(err: unknown): boolean {
  return toStorageError(err) instanceof DuplicateKeyError;
}

/**
 * Runs an insert and turns a duplicate key into the domain's ALREADY_EXISTS with `message`, the
 * one mapping every repository's create() needs.
 */
export async function insertOrAlreadyExists<T>(insert: () => Promise<T>, message: string): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    if (isDuplicateKey(err)) throw new AlreadyExistsError(message);
    throw err;
  }
}
