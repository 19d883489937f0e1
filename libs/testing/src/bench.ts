import { pool } from './load-driver.js';

/**
 * Benchmarks measure a baseline in the same run and report the ratio (DESIGN.md §8), because
 * these machines are noisy: only the ratio is comparable across runs.
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baselineUnit: string;
}

/** Runs `fn` (which does `work` units) repeatedly for at least `minMs`, returns units per second. */
export async function throughput(fn: () => Promise<number> | number, minMs = 2_000): Promise<number> {
  let units = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) units += await fn();
  return units / ((performance.now() - t0) / 1000);
}

/** The DESIGN.md §8 line: `bench <name>: <value> <unit>; baseline <value> <unit>; ratio <r>`. */
export function benchLine(r: BenchResult): string {
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toFixed(2));
  return `bench ${r.name}: ${fmt(r.value)} ${r.unit}; baseline ${fmt(r.baseline)} ${r.baselineUnit}; ratio ${(r.value / r.baseline).toFixed(2)}`;
}

/** What a closed loop in this process did. */
export interface LoopRun {
  calls: number;
  ms: number;
  /** Per-call latency in ms. */
  latencies: number[];
  /** Time this process's event loop was busy meanwhile. */
  busyMs: number;
}

/**
 * `inFlight` workers call `op(i)` (i counting up across workers) back to back for `seconds`, in
 * this process: the in-process baselines of the benches (raw queries and writes on the service's
 * own store), timed the same way everywhere.
 */
export async function closedLoop(seconds: number, inFlight: number, op: (i: number) => Promise<void>): Promise<LoopRun> {
  const latencies: number[] = [];
  let n = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const i = n++;
      const s = performance.now();
      await op(i);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { calls: latencies.length, ms: performance.now() - t0, latencies, busyMs: performance.eventLoopUtilization(elu0).active };
}

/**
 * `op(i)` once for each i < n, `inFlight` at a time, in this process, timed like
 * {@link closedLoop}: the in-process baselines that must touch each of their rows exactly once.
 */
export async function timedEach(n: number, inFlight: number, op: (i: number) => Promise<void>): Promise<LoopRun> {
  const latencies: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await pool(n, inFlight, async (i) => {
    const s = performance.now();
    await op(i);
    latencies.push(performance.now() - s);
  });
  return { calls: latencies.length, ms: performance.now() - t0, latencies, busyMs: performance.eventLoopUtilization(elu0).active };
}
