// Shared pieces of the secrets benchmarks: the forked load driver (load.ts) and its protocol,
// the baseline's separate SQLite file, a store probe for the breakdown, and the helpers of
// @gatehouse/testing (sizes from the environment, percentiles, pool, goal line).
import path from 'node:path';
import { openSqlite, type SqliteStore } from '@gatehouse/storage';
import type { LoadDriver } from '@gatehouse/testing';
import { LoadDriver as Driver } from '@gatehouse/testing';
import { secretsSchema } from '../src/store/schema.js';

/** A command to a load driver process. */
export type DriverCommand =
  | {
      /** RedeemRelease of every token exactly once, `inFlight` at a time (each worker takes the next token). */
      kind: 'redeem';
      address: string;
      pkiDir: string;
      certName: string;
      tokens: string[];
      inFlight: number;
      /** Secrets every bundle must hold (a bundle with another count is an error). */
      expectSecrets: number;
    }
  | {
      /** PutSecret of each name once (random values of `valueBytes`), `inFlight` at a time, with the session `bearer`. */
      kind: 'put';
      address: string;
      pkiDir: string;
      certName: string;
      bearer: string;
      /** commonV1.Environment value. */
      environment: number;
      app: string;
      names: string[];
      valueBytes: number;
      inFlight: number;
      /** Version every answer must carry (1: fresh names). */
      expectVersion: number;
    }
  | { kind: 'stop' };

/** What a load driver answers. */
export interface DriverResult {
  kind: 'redeem' | 'put';
  /** Successful calls (answered, and the answer checked out). */
  calls: number;
  elapsedMs: number;
  /** Per-call latency in ms, of the successful calls. */
  latencies: number[];
  /** The first few error messages. */
  errors: string[];
  /** Failed calls and answers that did not check out. */
  errorCount: number;
  /** redeem: the release id of each bundle received. */
  releaseIds: string[];
  /** CPU time of the driver process during the command. */
  cpuMs: number;
}

/** The forked load process of this bench, speaking the protocol above. */
export type BenchLoadDriver = LoadDriver<DriverCommand, DriverResult>;

/** Forks this bench's load.ts. */
export function startLoadDriver(): Promise<BenchLoadDriver> {
  return Driver.start<DriverCommand, DriverResult>(path.join(import.meta.dirname, 'load.ts'));
}

/**
 * The baselines' own database: a separate SQLite file with the service's own schema (its
 * migrations), opened as the service opens its store (WAL, synchronous=FULL, secure_delete).
 */
export function openBaselineStore(dir: string): SqliteStore {
  return openSqlite({ file: path.join(dir, 'baseline', 'secrets-baseline.db'), migrations: secretsSchema.sqliteMigrations });
}

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

/**
 * Counts what a SqliteStore does while attached: calls, commits, time holding and waiting for its
 * lock (two clock reads and one `total_changes()` per call). Detach restores the store's methods.
 */
export function probeStore(store: SqliteStore): { counts: StoreCounts; detach: () => void } {
  const counts: StoreCounts = { calls: 0, commits: 0, heldMs: 0, waitedMs: 0 };
  const changes = store.db.prepare('SELECT total_changes()').pluck();
  const total = () => changes.get() as number;
  const exec = store.exec.bind(store);
  const run = store.run.bind(store);
  const patched = store as unknown as { exec: SqliteStore['exec']; run: SqliteStore['run'] };
  patched.exec = (tx, fn) => {
    if (tx !== undefined) return exec(tx, fn);
    const asked = performance.now();
    return exec(undefined, (db) => {
      const start = performance.now();
      const before = total();
      try {
        return fn(db);
      } finally {
        counts.calls++;
        if (total() > before) counts.commits++;
        counts.waitedMs += start - asked;
        counts.heldMs += performance.now() - start;
      }
    });
  };
  patched.run = async (fn) => {
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
      counts.calls++;
      if (total() > before) counts.commits++;
      counts.waitedMs += start - asked;
      counts.heldMs += performance.now() - start;
    }
  };
  return {
    counts,
    detach: () => {
      delete (store as unknown as Record<string, unknown>)['exec'];
      delete (store as unknown as Record<string, unknown>)['run'];
    },
  };
}

export { envNumber, goalLine, latencyText, pct, percentile, pool } from '@gatehouse/testing';
