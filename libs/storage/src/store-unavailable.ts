import Database from 'better-sqlite3';
import { TurnTimeoutError } from './errors.js';
import { MongoError, MongoNetworkError, MongoServerError, MongoServerSelectionError, MongoWriteConcernError } from 'mongodb';

/** SQLite result codes that mean "the storage cannot take writes now", not "this request is wrong". */
const SQLITE_UNAVAILABLE = /^SQLITE_(READONLY|IOERR|FULL|CANTOPEN|BUSY|LOCKED|PROTOCOL|NOLFS|NOMEM)/;

/** MongoDB server error codes of that kind: not primary, shutting down, no majority for the write. */
const MONGO_UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436, 64, 100, 262]);

/**
 * Why a driver error means the store cannot write right now (read-only file, full disk, I/O
 * error, lost primary, no write majority), or undefined for any other error. Such a failure is
 * retryable: the service answers UNAVAILABLE and reports NOT_SERVING until a write succeeds
 * again (issue 17 item 8), instead of INTERNAL. The reason names the condition, never a file
 * or a value.
 */
export function storeUnavailableReason(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (err instanceof Database.SqliteError) {
    const m = SQLITE_UNAVAILABLE.exec(err.code);
    return m ? `the SQLite store cannot write (${err.code})` : undefined;
  }
  if (err instanceof TurnTimeoutError) return 'the MongoDB store is busy: another replica held the record for too long';
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) return 'the MongoDB store is unreachable';
  if (err instanceof MongoWriteConcernError) return 'the MongoDB store could not confirm the write on a majority';
  if (err instanceof MongoServerError && typeof err.code === 'number' && MONGO_UNAVAILABLE_CODES.has(err.code)) {
    return `the MongoDB store cannot take writes now (code ${err.code})`;
  }
  if (err instanceof MongoError && err.hasErrorLabel?.('RetryableWriteError')) return 'the MongoDB store asked for the write to be retried';
  return cause !== undefined && cause !== err ? storeUnavailableReason(cause) : undefined;
}
