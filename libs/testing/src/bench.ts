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
