/**
 * Transaction ports. Domain code groups state changes (and the audit outbox write that goes
 * with them) into one atomic unit without knowing which database runs underneath: it asks a
 * UnitOfWork to run a function and hands the Transaction it receives to repository methods.
 * Only storage adapters look inside a Transaction (through @gatehouse/storage's helpers).
 */

/**
 * An open database transaction. Opaque to domain code: pass it on to repositories, never keep
 * it after the function that received it returns (adapters refuse a finished transaction).
 */
export interface Transaction {
  /** Which adapter family opened it, so an adapter can refuse a transaction from another one. */
  readonly backend: 'sqlite' | 'mongodb';
}

/**
 * Runs a function atomically: everything written through its Transaction commits together when
 * the function resolves, and nothing does when it throws. The function may be re-run by the
 * MongoDB adapter after a transient conflict, so it must not have side effects outside the
 * transaction (send RPCs after `run` resolves).
 */
export interface UnitOfWork {
  run<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
}

const BASE = Symbol('gatehouse.transaction.base');

/**
 * A Transaction with more to it (an audited unit of work adds `audit()`), still usable wherever
 * the store's own one is: adapters unwrap it with {@link baseTransaction}.
 */
export function extendTransaction<X extends object>(tx: Transaction, extra: X): Transaction & X {
  return Object.assign(Object.create(null) as object, extra, { backend: tx.backend, [BASE]: baseTransaction(tx) }) as Transaction & X;
}

/** The store's own transaction behind an extended one (itself when it is not extended). */
export function baseTransaction(tx: Transaction): Transaction {
  return (tx as { [BASE]?: Transaction })[BASE] ?? tx;
}
