// Shared pieces of the identity benchmarks: the forked load driver (load.ts) and its protocol,
// and the helpers of @gatehouse/testing (sizes from the environment, latency percentiles, a small
// concurrency pool, the goal line).
import path from 'node:path';
import { LoadDriver, type ClosedLoopSpec, type LoadRun, type LoadTarget } from '@gatehouse/testing';

/** A command to a load driver process. */
export type DriverCommand =
  | ({
      kind: 'otp';
      calls: Array<{ signInId: string; code: string }>;
      concurrency: number;
      wantTokens: boolean;
    } & LoadTarget)
  | ({
      kind: 'session';
      tokens: string[];
      clientIp: string;
    } & LoadTarget &
      ClosedLoopSpec)
  | { kind: 'stop' };

/** What a load driver answers (for VerifySession, an answer that said invalid is an error). */
export interface DriverResult extends LoadRun {
  kind: 'otp' | 'session';
  /** Session tokens VerifyOtp returned (when asked for). */
  tokens: string[];
}

/** The forked load process of this bench, speaking the protocol above. */
export type BenchLoadDriver = LoadDriver<DriverCommand, DriverResult>;

/** Forks this bench's load.ts. */
export function startLoadDriver(): Promise<BenchLoadDriver> {
  return LoadDriver.start<DriverCommand, DriverResult>(path.join(import.meta.dirname, 'load.ts'));
}

export { closedLoop, envNumber, goalLine, latencyText, pct, percentile, pool, probeStore } from '@gatehouse/testing';
