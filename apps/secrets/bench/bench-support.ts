// Shared pieces of the secrets benchmarks: the forked load driver (load.ts) and its protocol,
// the baseline's separate SQLite file, and the helpers of @gatehouse/testing (sizes from the
// environment, percentiles, pool, goal line, store probe, fsync-free seeding).
import path from 'node:path';
import { openSqlite, type SqliteStore } from '@gatehouse/storage';
import { LoadDriver, type LoadRun, type LoadTarget } from '@gatehouse/testing';
import { secretsSchema } from '../src/store/schema.js';

/** A command to a load driver process. */
export type DriverCommand =
  | ({
      /** RedeemRelease of every token exactly once, `inFlight` at a time (each worker takes the next token). */
      kind: 'redeem';
      tokens: string[];
      inFlight: number;
      /** Secrets every bundle must hold (a bundle with another count is an error). */
      expectSecrets: number;
    } & LoadTarget)
  | ({
      /** PutSecret of each name once (random values of `valueBytes`), `inFlight` at a time, with the session `bearer`. */
      kind: 'put';
      bearer: string;
      /** commonV1.Environment value. */
      environment: number;
      app: string;
      names: string[];
      valueBytes: number;
      inFlight: number;
      /** Version every answer must carry (1: fresh names). */
      expectVersion: number;
    } & LoadTarget)
  | { kind: 'stop' };

/** What a load driver answers. */
export interface DriverResult extends LoadRun {
  kind: 'redeem' | 'put';
  /** redeem: the release id of each bundle received. */
  releaseIds: string[];
}

/** The forked load process of this bench, speaking the protocol above. */
export type BenchLoadDriver = LoadDriver<DriverCommand, DriverResult>;

/** Forks this bench's load.ts. */
export function startLoadDriver(): Promise<BenchLoadDriver> {
  return LoadDriver.start<DriverCommand, DriverResult>(path.join(import.meta.dirname, 'load.ts'));
}

/**
 * The baselines' own database: a separate SQLite file with the service's own schema (its
 * migrations), opened as the service opens its store (WAL, synchronous=FULL, secure_delete).
 */
export function openBaselineStore(dir: string): SqliteStore {
  return openSqlite({ file: path.join(dir, 'baseline', 'secrets-baseline.db'), migrations: secretsSchema.sqliteMigrations });
}

export { envNumber, goalLine, latencyText, pct, percentile, pool, probed, timedEach, unsynced, type LoopRun } from '@gatehouse/testing';
