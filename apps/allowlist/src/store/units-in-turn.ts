import type { UnitOfWork } from '@gatehouse/core';
import { inTurn, type MongoStore } from '@gatehouse/storage';

/**
 * On MongoDB the allowlist's units of work of one process run one after another, per database.
 * Every entry and daily-IP change bumps the one change-version document, so concurrent units of
 * one process could only conflict on it and be retried whole; and jongodb, the tests' fallback
 * server, detects no write conflict between transactions at all (TOOLCHAIN.md): two removals of
 * one entry would both win, a unique key taken by a concurrent commit drops the connection.
 * Across processes, a real replica set's write-conflict detection decides. SQLite units already
 * run one at a time (and share commits), so this is for MongoDB only.
 */
export function mongoUnitsInTurn(store: MongoStore, uow: UnitOfWork): UnitOfWork {
  const key = unitsTurnKey(store);
  return { run: (fn) => inTurn(key, () => uow.run(fn)) };
}

/** The key one process's allowlist units queue under (auditedUnitsInTurn for the domain's units). */
export const unitsTurnKey = (store: MongoStore): string => `allowlist units of ${store.db.databaseName}`;
