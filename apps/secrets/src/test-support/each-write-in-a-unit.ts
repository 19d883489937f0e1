import type { Transaction, UnitOfWork } from '@gatehouse/core';

/** A repository's methods with their leading `tx` taken away (reads, which take none first, unchanged). */
export type WithoutTx<R> = {
  [K in keyof R]: R[K] extends (tx: Transaction, ...args: infer P) => infer Q ? (...args: P) => Q : R[K];
};

/**
 * The repository as a use case drives it, for the contract suites: each write (`writes`) runs in
 * a unit of work of its own (`store.run`), through the transaction it is given, so the suites
 * prove the adapters write through the caller's transaction and keep their compare-and-sets there.
 */
export function eachWriteInAUnit<R extends object>(store: UnitOfWork, repo: R, writes: ReadonlyArray<keyof R>): WithoutTx<R> {
  const out: Record<PropertyKey, unknown> = {};
  for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(repo)) as Array<keyof R>) {
    const fn = repo[key];
    if (typeof fn !== 'function' || key === 'constructor') continue;
    out[key as PropertyKey] = writes.includes(key)
      ? (...args: unknown[]) => store.run((tx) => (fn as (...a: unknown[]) => Promise<unknown>).call(repo, tx, ...args))
      : (fn as (...a: unknown[]) => unknown).bind(repo);
  }
  return out as WithoutTx<R>;
}
