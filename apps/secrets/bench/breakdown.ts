// Where one call's time goes: the running service's Secrets domain object, its ports (secret and
// release repositories, audit sink) wrapped in timers (@gatehouse/testing's portBreakdown), driven
// one call at a time in-process. Diagnostic only, after the timed sections; nothing here is part
// of a ratio.
import { SqliteOutboxRepository } from '@gatehouse/audit-client';
import type { SecretsServiceClient } from '@gatehouse/contracts';
import type { SqliteStore } from '@gatehouse/storage';
import { call } from '@gatehouse/service-kit';
import { catchInstance, portBreakdown as timedPorts } from '@gatehouse/testing';
import { Secrets } from '../src/domain/secrets-service.js';

/**
 * The service's Secrets instance. The host keeps it inside the RPC binding, so it is caught as
 * `this` of one SealStatus call (which changes nothing) through a patched prototype, restored at once.
 */
export function catchSecrets(cli: SecretsServiceClient): Promise<Secrets> {
  return catchInstance(Secrets, 'sealStatus', () => call(cli, cli.sealStatus, {}));
}

const PORTS = ['secrets', 'releases', 'audit'] as const;

/**
 * Runs `op(i)` for i < n one at a time on `secrets` with its ports timed; returns text lines: the
 * mean total, each port method's mean time and calls per op, and the rest (checks, encryption or
 * decryption, hashing: the domain's own synchronous work).
 */
export async function portBreakdown(secrets: Secrets, n: number, op: (i: number) => Promise<unknown>, store: SqliteStore): Promise<{ meanMs: number; lines: string[] }> {
  const d = (secrets as unknown as { d: Record<(typeof PORTS)[number], object> }).d;
  const nested = timeDurableWork(store);
  try {
    const r = await timedPorts(d, PORTS, n, op, 24);
    return { meanMs: r.meanMs, lines: [...r.lines, ...nested.lines(n)] };
  } finally {
    nested.restore();
  }
}

const OUTBOX = ['addNow', 'pending', 'markShipped'] as const;

/**
 * Times what the ports' figures hold inside them and the unit's commit, while the breakdown runs
 * (the relay's shipping of the last call's outcome included): the outbox's own writes and reads
 * (the confirmed intent's unit, the relay's read and its mark after audit's acknowledgement,
 * which the waiting action hears only after that mark committed) and every group COMMIT (its
 * fsync). Patches SqliteOutboxRepository's prototype and the store's connection until restore.
 */
function timeDurableWork(store: SqliteStore): { lines: (n: number) => string[]; restore: () => void } {
  const stats = new Map<string, { calls: number; ms: number }>();
  const add = (key: string, ms: number) => {
    const s = stats.get(key) ?? { calls: 0, ms: 0 };
    s.calls++;
    s.ms += ms;
    stats.set(key, s);
  };
  const proto = SqliteOutboxRepository.prototype as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const saved = OUTBOX.map((m) => [m, proto[m] as (...a: unknown[]) => Promise<unknown>] as const);
  for (const [m, fn] of saved) {
    proto[m] = function (this: unknown, ...args: unknown[]) {
      const s = performance.now();
      return (fn as (...a: unknown[]) => Promise<unknown>).apply(this, args).finally(() => add(`outbox.${m}`, performance.now() - s));
    };
  }
  const db = store.db as unknown as { exec: (sql: string) => unknown };
  const exec = db.exec.bind(store.db);
  db.exec = (sql: string) => {
    if (sql !== 'COMMIT') return exec(sql);
    const s = performance.now();
    try {
      return exec(sql);
    } finally {
      add('store COMMIT (fsync)', performance.now() - s);
    }
  };
  return {
    lines: (n) => [
      'nested in the above (ms per call, calls; the relay shipping in the background included):',
      ...[...stats].map(([k, s]) => `  ${k.padEnd(22)} ${(s.ms / n).toFixed(3)} ms  x${(s.calls / n).toFixed(1)}, ${(s.ms / s.calls).toFixed(3)} ms each`),
    ],
    restore: () => {
      for (const [m, fn] of saved) proto[m] = fn;
      delete (db as { exec?: unknown }).exec;
    },
  };
}
