import type { EventLoopUtilization } from 'node:perf_hooks';
import type { SqliteStore } from '@gatehouse/storage';

/**
 * SQLite store instruments for the benchmarks (identity, secrets, impersonation): what the
 * service's own store did during a timed section, and fsync-free seeding before it. Kept here
 * once so every bench counts store calls, commits and lock time the same way.
 */

/** What a store probe counted while attached. */
export interface StoreCounts {
  /** Store calls (exec without a tx, run). */
  calls: number;
  /** Of those, calls that changed rows: each one commit (an fsync with synchronous=FULL). */
  commits: number;
  /** Time spent holding the store's lock (the driver work, the commit included). */
  heldMs: number;
  /** Time calls waited for the lock. */
  waitedMs: number;
}

/** An attached store probe. */
export interface StoreProbe<K extends string = string> {
  /** Every call counted. */
  counts: StoreCounts;
  /** The same counts per class (see {@link probeStore}'s `classify`); empty without one. */
  byClass: Map<K, StoreCounts>;
  /** Restores the store's own methods. */
  detach: () => void;
}

const zero = (): StoreCounts => ({ calls: 0, commits: 0, heldMs: 0, waitedMs: 0 });

/**
 * Counts what a SqliteStore does while attached: calls, commits, time holding and waiting for its
 * lock (two clock reads and one `total_changes()` per call). `classify`, when given, is asked at
 * each call (before the lock is taken, so it may look at the caller's stack) which class the call
 * is counted under as well, e.g. `exec` and `run` apart, or a relay's calls apart from the
 * service's. Detach restores the store's methods.
 */
export function probeStore<K extends string = string>(store: SqliteStore, classify?: (kind: 'exec' | 'run') => K): StoreProbe<K> {
  const counts = zero();
  const byClass = new Map<K, StoreCounts>();
  const changes = store.db.prepare('SELECT total_changes()').pluck();
  const total = () => changes.get() as number;
  const classOf = (kind: 'exec' | 'run'): StoreCounts | undefined => {
    if (!classify) return undefined;
    const k = classify(kind);
    let c = byClass.get(k);
    if (!c) byClass.set(k, (c = zero()));
    return c;
  };
  const add = (c: StoreCounts, wrote: boolean, waitedMs: number, heldMs: number) => {
    c.calls++;
    if (wrote) c.commits++;
    c.waitedMs += waitedMs;
    c.heldMs += heldMs;
  };
  const count = (cls: StoreCounts | undefined, wrote: boolean, waitedMs: number, heldMs: number) => {
    add(counts, wrote, waitedMs, heldMs);
    if (cls) add(cls, wrote, waitedMs, heldMs);
  };
  const exec = store.exec.bind(store);
  const run = store.run.bind(store);
  const patched = store as unknown as { exec: SqliteStore['exec']; run: SqliteStore['run'] };
  patched.exec = (tx, fn) => {
    if (tx !== undefined) return exec(tx, fn);
    const cls = classOf('exec');
    const asked = performance.now();
    return exec(undefined, (db) => {
      const start = performance.now();
      const before = total();
      try {
        return fn(db);
      } finally {
        count(cls, total() > before, start - asked, performance.now() - start);
      }
    });
  };
  patched.run = async (fn) => {
    const cls = classOf('run');
    const asked = performance.now();
    let start = asked;
    let before = total();
    try {
      return await run((tx) => {
        start = performance.now();
        before = total();
        return fn(tx);
      });
    } finally {
      count(cls, total() > before, start - asked, performance.now() - start);
    }
  };
  return {
    counts,
    byClass,
    detach: () => {
      delete (store as unknown as Record<string, unknown>)['exec'];
      delete (store as unknown as Record<string, unknown>)['run'];
    },
  };
}

/**
 * Runs `fn` with fsync off on `store` (untimed seeding only: one commit per repository call would
 * otherwise make seeding take minutes), restoring the setting after.
 */
export async function unsynced<T>(store: SqliteStore, fn: () => Promise<T>): Promise<T> {
  const sync = store.db.pragma('synchronous', { simple: true });
  store.db.pragma('synchronous = OFF');
  try {
    return await fn();
  } finally {
    store.db.pragma(`synchronous = ${String(sync)}`);
  }
}

/** What this process (the service's) did while a timed section ran (see {@link probed}). */
export interface ProbedRun<T> {
  result: T;
  /** The store's counts meanwhile. */
  store: StoreCounts;
  /** This process's CPU time (user + system) meanwhile. */
  cpuMs: number;
  /** This process's event loop meanwhile. */
  elu: EventLoopUtilization;
}

/**
 * Runs `fn` (the timed section: the load process driving the service) with `store` probed and
 * this process's CPU and event loop measured, which is what the benches break a call's cost down by.
 */
export async function probed<T>(store: SqliteStore, fn: () => Promise<T>): Promise<ProbedRun<T>> {
  const probe = probeStore(store);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  try {
    const result = await fn();
    const elu = performance.eventLoopUtilization(elu0);
    const cpu = process.cpuUsage(cpu0);
    return { result, store: probe.counts, cpuMs: (cpu.user + cpu.system) / 1000, elu };
  } finally {
    probe.detach();
  }
}
