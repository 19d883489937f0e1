// Shared pieces of the impersonation benchmarks: the forked load driver (load.ts) and its
// protocol, and the helpers of @gatehouse/testing (sizes from the environment, percentiles, pool,
// goal line, store probe, fsync-free seeding, closed-loop timer).
import path from 'node:path';
import { LoadDriver, type ClosedLoopSpec, type LoadRun, type LoadTarget } from '@gatehouse/testing';

/** One StartImpersonation to send: the employee's session token and the request's varying fields. */
export interface StartCall {
  bearer: string;
  targetUserId: string;
  customerDomain: string;
}

/** A command to a load driver process. */
export type DriverCommand =
  | ({
      /** StartImpersonation of every call exactly once, `inFlight` at a time (each worker takes the next call). */
      kind: 'start';
      calls: StartCall[];
      justification: string;
      ticketRef: string;
      inFlight: number;
    } & LoadTarget)
  | ({
      /**
       * VerifyImpersonationToken (READ_DATA) in a closed loop over the tokens (processes spread
       * over them by `offset`); every answer must say valid. Used unchanged against the bare RPC.
       */
      kind: 'verify';
      tokens: string[];
    } & LoadTarget &
      ClosedLoopSpec)
  | { kind: 'stop' };

/** What a load driver answers. */
export interface DriverResult extends LoadRun {
  kind: 'start' | 'verify';
  /** start: the grant id of each successful start, in call order (empty string for a failed one). */
  grantIds: string[];
}

/** The forked load process of this bench, speaking the protocol above. */
export type BenchLoadDriver = LoadDriver<DriverCommand, DriverResult>;

/** Forks this bench's load.ts. */
export function startLoadDriver(): Promise<BenchLoadDriver> {
  return LoadDriver.start<DriverCommand, DriverResult>(path.join(import.meta.dirname, 'load.ts'));
}

export { closedLoop, envNumber, goalLine, latencyText, pct, percentile, pool, probed, probeStore, unsynced, type LoopRun } from '@gatehouse/testing';
