// Shared pieces of the allowlist benchmarks: the forked load driver (load.ts) and its protocol,
// and the helpers of @gatehouse/testing (sizes from the environment, latency percentiles, the goal
// line, fsync-free seeding).
import path from 'node:path';
import { LoadDriver, type ClosedLoopSpec, type LoadRun, type LoadTarget } from '@gatehouse/testing';

/** One Check request as the load driver sends it (encoded there, before the timed section). */
export interface CheckCall {
  ip: string;
  accountId?: string | undefined;
  /** commonV1.Environment value. */
  environment: number;
}

/** A command to a load driver process. */
/** `health`: send grpc.health.v1 Check (service "") instead, the same way: the edge's own floor (issue 17). */
export type DriverCommand = ({ kind: 'check'; calls: CheckCall[]; health?: boolean } & LoadTarget & ClosedLoopSpec) | { kind: 'stop' };

/** What a load driver answers. */
export interface DriverResult extends LoadRun {
  kind: 'check';
  /** Successful calls answered DENY. */
  denies: number;
}

/** The forked load process of this bench, speaking the protocol above. */
export type BenchLoadDriver = LoadDriver<DriverCommand, DriverResult>;

/** Forks this bench's load.ts. */
export function startLoadDriver(): Promise<BenchLoadDriver> {
  return LoadDriver.start<DriverCommand, DriverResult>(path.join(import.meta.dirname, 'load.ts'));
}

export { envNumber, goalLine, latencyText, pct, percentile, pool, unsynced } from '@gatehouse/testing';
