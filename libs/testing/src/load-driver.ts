import { fork, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { createClientCredentials, loadTlsMaterial, serviceAuthority } from '@gatehouse/pki';
import type { HostedService } from '@gatehouse/service-host';
import { CLIENT_CHANNEL_OPTIONS } from '@gatehouse/service-kit';

type DriverMessage<R> = R | { kind: 'ready' } | { kind: 'failed'; message: string };

/** Where a load process sends its calls: a service's address, the PKI folder and the client certificate it presents. */
export interface LoadTarget {
  address: string;
  pkiDir: string;
  certName: string;
}

/** A closed loop of a load process: `inFlight` calls at a time from `startAt` (epoch ms, common to every process) for `seconds`. */
export interface ClosedLoopSpec {
  /** Where this process starts in its requests, so processes do not send the same sequence in lockstep (default 0). */
  offset?: number;
  seconds: number;
  startAt: number;
  inFlight: number;
}

/** What a load process measured for one command (its answer carries these, plus what the bench adds). */
export interface LoadRun {
  /** Successful calls (answered, and the answer checked out). */
  calls: number;
  elapsedMs: number;
  /** Per-call latency in ms, of the successful calls. */
  latencies: number[];
  /** The first few error messages. */
  errors: string[];
  /** Failed calls and answers that did not check out. */
  errorCount: number;
  /** CPU time of the load process during the command. */
  cpuMs: number;
}

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

/** Where a bench's load processes reach replica 0 of a service harness: its loopback address and the harness's PKI folder. */
export function harnessTarget(h: { dir: string; replicas: readonly HostedService[] }): { address: string; pkiDir: string } {
  const hosted = h.replicas[0];
  if (!hosted) throw new Error('the harness runs no replica');
  return { address: `127.0.0.1:${hosted.server.port}`, pkiDir: `${h.dir}/pki` };
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

/**
 * In a load process: one unary call of request bytes encoded beforehand (so no encoding happens
 * in the timed loop), the answer decoded by `decode`; rejects on an error or an empty answer.
 */
export function sendBytes<T>(client: grpc.Client, method: string, body: Buffer, decode: (b: Buffer) => T, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      decode,
      body,
      metadata,
      { deadline: Date.now() + 30_000 },
      (err, res) => (err || res === undefined ? reject(err ?? new Error('no response')) : resolve(res)),
    );
  });
}

/** Times calls from now on: latencies of those that did not throw, the first 5 errors, this process's CPU. */
function recorder(): { t0: number; time: (call: () => Promise<void>) => Promise<void>; done: () => LoadRun } {
  const latencies: number[] = [];
  const errors: string[] = [];
  let errorCount = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    t0,
    async time(call) {
      const s = performance.now();
      try {
        await call();
        latencies.push(performance.now() - s);
      } catch (err) {
        if (errorCount++ < 5) errors.push(err instanceof Error ? err.message : String(err));
      }
    },
    done() {
      const elapsedMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      return { calls: latencies.length, elapsedMs, latencies, errors, errorCount, cpuMs: (cpu.user + cpu.system) / 1000 };
    },
  };
}

/**
 * In a load process: `op(i)` once for each i < n, `inFlight` at a time (each worker takes the
 * next i), timed; `op` throws for a failed call or an answer that does not check out.
 */
export async function driveEach(n: number, inFlight: number, op: (i: number) => Promise<void>): Promise<LoadRun> {
  const r = recorder();
  await pool(n, inFlight, (i) => r.time(() => op(i)));
  return r.done();
}

/**
 * In a load process: `opts.warmUps` untimed calls (connection, TLS, JIT), then, from the common
 * instant `spec.startAt`, `send` over `requests` in turn (from `spec.offset`, cycling) in a closed
 * loop, `spec.inFlight` at a time for `spec.seconds`, timed; `opts.check` throws for an answer
 * that does not check out (counted as an error). Used unchanged against a service and its
 * bare-RPC baseline.
 */
export async function driveClosedLoop<B, A>(
  spec: ClosedLoopSpec,
  requests: readonly B[],
  send: (request: B) => Promise<A>,
  opts: { warmUps: number; check?: (answer: A) => void },
): Promise<LoadRun> {
  const offset = spec.offset ?? 0;
  for (let i = 0; i < opts.warmUps; i++) await send(requests[(offset + i) % requests.length] as B);
  await new Promise((r) => setTimeout(r, Math.max(0, spec.startAt - Date.now())));
  const check = opts.check;
  let n = offset;
  const r = recorder();
  const until = r.t0 + spec.seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const request = requests[n++ % requests.length] as B;
      await r.time(async () => {
        const answer = await send(request);
        check?.(answer);
      });
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight }, worker));
  return r.done();
}

/** One timed phase of a closed-loop figure: every load process ran from one common instant. */
export interface LoadPhase<R extends LoadRun = LoadRun> {
  /** Calls per second, summed over the load processes. */
  rate: number;
  calls: number;
  latencies: number[];
  /** CPU of this (the server's) process from the common start instant on. */
  serverCpuMs: number;
  clientCpuMs: number;
  /** What each load process answered. */
  results: R[];
}

/**
 * One closed-loop phase on every load process: `run(driver, loop)` sends the bench's command
 * with `loop` (its ClosedLoopSpec: one start instant `leadMs` from now, time for each process to
 * warm up first, and with `requests` given, offsets spreading the processes over that many
 * requests). Sums what they measured, with this process's CPU from the start instant on. Throws
 * `<what> (<n> calls): <errors>` if any call failed.
 */
export async function loadPhase<D, R extends LoadRun>(
  drivers: readonly D[],
  timing: { leadMs: number; seconds: number; inFlight: number; requests?: number },
  run: (driver: D, loop: Required<ClosedLoopSpec>) => Promise<R>,
  what: string,
): Promise<LoadPhase<R>> {
  const startAt = Date.now() + timing.leadMs;
  const stride = Math.floor((timing.requests ?? 0) / drivers.length);
  let cpu0 = process.cpuUsage();
  const mark = setTimeout(() => (cpu0 = process.cpuUsage()), startAt - Date.now());
  const results = await Promise.all(drivers.map((d, i) => run(d, { offset: i * stride, seconds: timing.seconds, startAt, inFlight: timing.inFlight })));
  clearTimeout(mark);
  const cpu = process.cpuUsage(cpu0);
  for (const r of results) if (r.errorCount > 0) throw new Error(`${what} (${r.errorCount} calls): ${r.errors.join('; ')}`);
  return {
    rate: results.reduce((a, r) => a + r.calls / (r.elapsedMs / 1000), 0),
    calls: results.reduce((a, r) => a + r.calls, 0),
    latencies: results.flatMap((r) => r.latencies),
    serverCpuMs: (cpu.user + cpu.system) / 1000,
    clientCpuMs: results.reduce((a, r) => a + r.cpuMs, 0),
    results,
  };
}

/** Several phases of one target as one figure. */
export interface PhaseFigure {
  /** Mean rate of the phases. */
  rate: number;
  calls: number;
  /** Pooled latencies. */
  latencies: number[];
  serverCpuPerCallMs: number;
  clientCpuPerCallMs: number;
}

/** The phases of one target as one figure (mean rate, pooled latencies and CPU per call). */
export function mergePhases(phases: readonly LoadPhase[]): PhaseFigure {
  const calls = phases.reduce((a, p) => a + p.calls, 0);
  return {
    rate: phases.reduce((a, p) => a + p.rate, 0) / phases.length,
    calls,
    latencies: phases.flatMap((p) => p.latencies),
    serverCpuPerCallMs: phases.reduce((a, p) => a + p.serverCpuMs, 0) / calls,
    clientCpuPerCallMs: phases.reduce((a, p) => a + p.clientCpuMs, 0) / calls,
  };
}

/** `<label> <n> calls/s; latency …; server CPU x ms/call, load CPU y ms/call` of a figure. */
export function figureText(label: string, f: PhaseFigure): string {
  return `${label} ${f.rate.toFixed(0)} calls/s; latency ${latencyText(f.latencies)}; server CPU ${f.serverCpuPerCallMs.toFixed(3)} ms/call, load CPU ${f.clientCpuPerCallMs.toFixed(3)} ms/call`;
}

/**
 * `server CPU per call, bare / <name>: r (…)`. On 2 cores the load processes take about as much
 * CPU as the server, so a throughput ratio against a bare RPC is partly client-bound; the CPU the
 * server spends per call says what a saturated server would do.
 */
export function serverCpuRatioText(name: string, bare: PhaseFigure, real: PhaseFigure): string {
  return `server CPU per call, bare / ${name}: ${(bare.serverCpuPerCallMs / real.serverCpuPerCallMs).toFixed(2)} (the ratio a CPU-bound server would show)`;
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
