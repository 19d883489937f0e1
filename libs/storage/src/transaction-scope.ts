import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Remembers, per async call chain, which stores have a transaction open, so a nested run() or a
 * tx-less exec() inside run() fails at once with a clear message instead of deadlocking on the
 * SQLite mutex (or silently escaping the transaction on MongoDB).
 */
interface Frame {
  readonly owner: object;
  readonly active: () => boolean;
  readonly parent: Frame | undefined;
}

const scope = new AsyncLocalStorage<Frame>();

/** Runs fn with `owner` marked as having an open transaction while `active()` holds. */
export function runInTransactionScope<T>(owner: object, active: () => boolean, fn: () => T): T {
  return scope.run({ owner, active, parent: scope.getStore() }, fn);
}

/** True when the current call chain is inside an unfinished run() of `owner`. */
export function insideTransactionOf(owner: object): boolean {
  for (let frame = scope.getStore(); frame; frame = frame.parent) {
    if (frame.owner === owner && frame.active()) return true;
  }
  return false;
}

/**
 * Names what a wrong Transaction is in an error message, without dumping the object: adapters
 * get one from the wrong backend, or a look-alike that no store created.
 */
export function describeTx(tx: unknown, expected: 'sqlite' | 'mongodb'): string {
  if (typeof tx === 'object' && tx !== null && 'backend' in tx) {
    const backend = String((tx as { backend: unknown }).backend);
    return backend === expected
      ? `an object claiming backend "${backend}" that no ${expected === 'sqlite' ? 'SqliteStore' : 'MongoStore'} created`
      : `a transaction with backend "${backend}"`;
  }
  return tx === null ? 'null' : typeof tx;
}
