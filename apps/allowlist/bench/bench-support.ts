// Shared pieces of the allowlist benchmarks: the forked load driver (load.ts) and its protocol,
// sizes from the environment, latency percentiles and the goal line.
import path from 'node:path';
import type { LoadDriver } from '@gatehouse/testing';
import { LoadDriver as Driver } from '@gatehouse/testing';

/** One Check request as the load driver sends it (encoded there, before the timed section). */
export interface CheckCall {
  ip: string;
  accountId?: string | undefined;
  /** commonV1.Environment value. */
  environment: number;
}

/** A command to a load driver process. */
export type DriverCommand =
  | {
      kind: 'check';
      address: string;
      pkiDir: string;
      certName: string;
      calls: CheckCall[];
      /** Where in `calls` this driver starts (so drivers do not send the same sequence in lockstep). */
      offset: number;
      seconds: number;
      /** Epoch ms at which every driver starts its timed section. */
      startAt: number;
      inFlight: number;
    }
  | { kind: 'stop' };

/** What a load driver answers. */
export interface DriverResult {
  kind: 'check';
  /** Successful calls. */
  calls: number;
  /** Successful calls answered DENY. */
  denies: number;
  elapsedMs: number;
  /** Per-call latency in ms. */
  latencies: number[];
  /** The first few error messages. */
  errors: string[];
  errorCount: number;
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
