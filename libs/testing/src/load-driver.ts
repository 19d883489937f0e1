import { fork, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { createClientCredentials, loadTlsMaterial, serviceAuthority } from '@gatehouse/pki';
import { CLIENT_CHANNEL_OPTIONS } from '@gatehouse/service-kit';

type DriverMessage<R> = R | { kind: 'ready' } | { kind: 'failed'; message: string };

/**
 * A forked load process for gRPC benchmarks (so the client's work does not share the server's
 * event loop), driven one command at a time over IPC. The child runs `serveLoadCommands`.
 */
export class LoadDriver<C extends { kind: string }, R extends { kind: string }> {
  private constructor(private readonly child: ChildProcess) {}

  /** Forks `script` (a .ts file run through tsx) and waits until it is ready. */
  static async start<C extends { kind: string }, R extends { kind: string }>(script: string): Promise<LoadDriver<C, R>> {
    const child = fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m: DriverMessage<R>) => (m.kind === 'ready' ? resolve() : reject(new Error(`load driver: unexpected ${m.kind}`))));
      child.once('exit', (code) => reject(new Error(`load driver exited with ${code} before it was ready`)));
    });
    return new LoadDriver<C, R>(child);
  }

  run(cmd: C): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load driver exited with ${code}`));
      this.child.once('exit', onExit);
      this.child.once('message', (m: DriverMessage<R>) => {
        this.child.off('exit', onExit);
        if (m.kind === 'failed') reject(new Error(`load driver failed: ${(m as { message: string }).message}`));
        else if (m.kind === 'ready') reject(new Error('load driver: unexpected ready'));
        else resolve(m as R);
      });
      this.child.send(cmd);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ kind: 'stop' });
    await exited;
  }
}

const clients = new Map<string, grpc.Client>();

/** In a load process: a raw grpc-js client with mTLS as `certName`, pinned to `service` (cached per address). */
export async function loadClient(address: string, pkiDir: string, certName: string, service: string): Promise<grpc.Client> {
  const key = `${address}|${certName}|${service}`;
  let c = clients.get(key);
  if (!c) {
    const material = { ...(await loadTlsMaterial(pkiDir, certName)), expectedServerName: service };
    c = new grpc.Client(address, createClientCredentials(material), { ...CLIENT_CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': serviceAuthority(service) });
    clients.set(key, c);
  }
  return c;
}

/** In a load process: answers commands from the parent with `run` until `stop`, then closes its clients. */
export function serveLoadCommands<C extends { kind: string }, R>(run: (cmd: C) => Promise<R>): void {
  process.on('message', (msg: C) => {
    if (msg.kind === 'stop') {
      for (const c of clients.values()) c.close();
      process.disconnect();
      return;
    }
    run(msg).then(
      (r) => process.send?.(r),
      (err: unknown) => process.send?.({ kind: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  process.send?.({ kind: 'ready' });
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

/** `p50 x ms, p99 y ms (n calls)` of latency samples in ms. */
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
