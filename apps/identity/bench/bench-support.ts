// Shared pieces of the identity benchmarks: the forked load driver (load.ts) and its protocol,
// sizes from the environment, latency percentiles and a small concurrency pool.
import path from 'node:path';
import type { LoadDriver } from '@gatehouse/testing';
import { LoadDriver as Driver } from '@gatehouse/testing';

/** A command to a load driver process. */
export type DriverCommand =
  | {
      kind: 'otp';
      address: string;
      pkiDir: string;
      certName: string;
      calls: Array<{ signInId: string; code: string }>;
      concurrency: number;
      wantTokens: boolean;
    }
  | {
      kind: 'session';
      address: string;
      pkiDir: string;
      certName: string;
      tokens: string[];
      clientIp: string;
      seconds: number;
      startAt: number;
      inFlight: number;
    }
  | { kind: 'stop' };

/** What a load driver answers. */
export interface DriverResult {
  kind: 'otp' | 'session';
  /** Successful calls. */
  calls: number;
  elapsedMs: number;
  /** Per-call latency in ms. */
  latencies: number[];
  /** The first few error messages. */
  errors: string[];
  /** Failed calls (and, for VerifySession, answers that said invalid). */
  errorCount: number;
  /** Session tokens VerifyOtp returned (when asked for). */
  tokens: string[];
  /** CPU time of the driver process during the command. */
  cpuMs: number;
}

/** The forked load process of this bench, speaking the protocol above. */
export type BenchLoadDriver = LoadDriver<DriverCommand, DriverResult>;

/** Forks this bench's load.ts. */
export function startLoadDriver(): Promise<BenchLoadDriver> {
  return Driver.start<DriverCommand, DriverResult>(path.join(import.meta.dirname, 'load.ts'));
}

export { envNumber, goalLine, latencyText, pct, percentile, pool } from '@gatehouse/testing';
