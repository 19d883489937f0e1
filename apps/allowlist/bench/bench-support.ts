// Shared pieces of the allowlist benchmarks: the forked load driver (load.ts) and its protocol,
// sizes from the environment, latency percentiles and the goal line.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

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

type DriverMessage = DriverResult | { kind: 'ready' } | { kind: 'failed'; message: string };

/** A forked load.ts process, driven one command at a time. */
export class LoadDriver {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoadDriver> {
    const child = fork(path.join(import.meta.dirname, 'load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m: DriverMessage) => (m.kind === 'ready' ? resolve() : reject(new Error(`load driver: unexpected ${m.kind}`))));
      child.once('exit', (code) => reject(new Error(`load driver exited with ${code} before it was ready`)));
    });
    return new LoadDriver(child);
  }

  run(cmd: Exclude<DriverCommand, { kind: 'stop' }>): Promise<DriverResult> {
    return new Promise<DriverResult>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load driver exited with ${code}`));
      this.child.once('exit', onExit);
      this.child.once('message', (m: DriverMessage) => {
        this.child.off('exit', onExit);
        if (m.kind === 'failed') reject(new Error(`load driver failed: ${m.message}`));
        else if (m.kind === 'ready') reject(new Error('load driver: unexpected ready'));
        else resolve(m);
      });
      this.child.send(cmd);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ kind: 'stop' } satisfies DriverCommand);
    await exited;
  }
}

/** A positive number from the environment, or the default. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return n;
}

/** The q-quantile (0..1) of the samples (nearest rank). */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** `p50 x ms, p99 y ms` of latency samples in ms. */
export function latencyText(samples: readonly number[]): string {
  return `p50 ${percentile(samples, 0.5).toFixed(2)} ms, p99 ${percentile(samples, 0.99).toFixed(2)} ms (${samples.length} calls)`;
}

/** Runs `n` jobs with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/** The goal line printed above a benchmark line. */
export function goalLine(name: string, ratio: number, goal: number): string {
  return `goal ${name}: ratio >= ${goal.toFixed(2)}: ${ratio >= goal ? 'met' : 'NOT met'} (ratio ${ratio.toFixed(3)})`;
}

/** `12.3%`. */
export function pct(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1)}%`;
}
