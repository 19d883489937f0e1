import { inTurn } from '@gatehouse/storage';
import type { AuditedUnitOfWork } from './audited-unit-of-work.js';

/**
 * The units of work of one process, queued one after another under `key` (each starts its
 * transaction only after the previous one ended). For MongoDB: jongodb, the tests' fallback
 * server, detects no write conflict between transactions (TOOLCHAIN.md), so two concurrent units
 * could both pass one compare-and-set or both insert under one unique key. Across processes, a
 * real replica set's write-conflict detection decides (the loser is retried and sees the winner).
 * SQLite units already run one at a time, so a service wires this for MongoDB only.
 */
export function auditedUnitsInTurn<A extends string>(key: string, uow: AuditedUnitOfWork<A>): AuditedUnitOfWork<A> {
  return { run: (fn, useCase) => inTurn(key, () => uow.run(fn, useCase)) };
}
