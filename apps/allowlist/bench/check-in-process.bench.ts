// `nx run allowlist:bench` (part 1): in-process Check decisions per second on AllowlistIndex,
// against a plain Map<string, X> lookup of the same query strings, same run, alternating slices.
// See run.ts for why this baseline.
import { benchLine } from '@gatehouse/testing';
import { AllowlistIndex, type CheckReason } from '../src/domain/allowlist-index.js';
import { tryParseIp } from '@gatehouse/ip';
import type { AllowlistEntry, DailyIp, Environment } from '../src/domain/model.js';
import { envNumber, goalLine, pct } from './bench-support.js';
import type { BenchData, QueryKind } from './data.js';

const SECONDS = envNumber('BENCH_SECONDS', 6);
const BUILD_REPEATS = Math.trunc(envNumber('BENCH_BUILD_REPEATS', 5));
const GOAL = 0.25;

/** The queries as parallel arrays: both loops read them the same way. */
interface Columns {
  ips: string[];
  accounts: Array<string | undefined>;
  envs: Environment[];
}

function columns(qs: BenchData['queries']): Columns {
  return { ips: qs.map((q) => q.ip), accounts: qs.map((q) => q.accountId), envs: qs.map((q) => q.env) };
}

/** Runs `pass` (one pass over n queries, returning a checksum) for at least `ms`. */
function slice(pass: () => number, n: number, ms: number): { calls: number; ms: number; sink: number } {
  let calls = 0;
  let sink = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    sink += pass();
    calls += n;
    t = performance.now();
  } while (t - t0 < ms);
  return { calls, ms: t - t0, sink };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export function inProcessBench(data: BenchData, now: Date, log: (line: string) => void): string[] {
  // --- Index build (what every replica does on each change and every 30 s).
  const builds: number[] = [];
  let index: AllowlistIndex | undefined;
  for (let i = 0; i < BUILD_REPEATS; i++) {
    const t0 = performance.now();
    index = new AllowlistIndex(data.entries, data.dailies);
    builds.push(performance.now() - t0);
  }
  if (!index) throw new Error('no index');
  const size = index.size;
  log(
    `  index build (${size.entries} entries + ${size.daily} daily IPs): first ${(builds[0] as number).toFixed(1)} ms, median of ${BUILD_REPEATS} ${median(builds).toFixed(1)} ms, min ${Math.min(...builds).toFixed(1)} ms`,
  );

  // --- What the mix decides (untimed).
  const reasons = new Map<CheckReason, number>();
  const q = data.queries;
  let denies = 0;
  for (const x of q) {
    const r = index.check(x.ip, x.accountId, x.env, now);
    reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    if (!r.allow) denies++;
  }
  const kinds = new Map<QueryKind, number>();
  for (const x of q) kinds.set(x.kind, (kinds.get(x.kind) ?? 0) + 1);
  log(`  query mix (${q.length} distinct): ${[...kinds].map(([k, n]) => `${k} ${pct(n, q.length)}`).join(', ')}; ${pct(q.filter((x) => x.accountId !== undefined).length, q.length)} name an account`);
  log(`  decisions: DENY ${pct(denies, q.length)} (${[...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${pct(n, q.length)}`).join(', ')})`);

  // --- Baseline: exact-string Map of every query that the index allows (same answer for those),
  // filled up with each entry's network address and each daily IP, so it holds ~15k keys.
  const map = new Map<string, AllowlistEntry | DailyIp>();
  for (const e of data.entries) map.set(e.cidr.split('/')[0] as string, e);
  for (const d of data.dailies) map.set(d.ip, d);
  for (const x of q) {
    const r = index.check(x.ip, x.accountId, x.env, now);
    const v = r.entry ?? r.daily;
    if (r.allow && v) map.set(x.ip, v);
    else map.delete(x.ip);
  }
  const c = columns(q);
  const n = q.length;
  const idx = index;
  const checkPass = (): number => {
    let allow = 0;
    for (let i = 0; i < n; i++) if (idx.check(c.ips[i] as string, c.accounts[i], c.envs[i] as Environment, now).allow) allow++;
    return allow;
  };
  const mapPass = (): number => {
    let allow = 0;
    for (let i = 0; i < n; i++) if (map.get(c.ips[i] as string) !== undefined) allow++;
    return allow;
  };
  // The map ignores account and environment, so it answers "found" for some queries the index denies.
  log(`  baseline map: ${map.size} keys; finds ${pct(mapPass(), n)} of the queries (the index allows ${pct(checkPass(), n)})`);

  // Warm-up, then map, index, index, map, ... in slices so a drift of the machine cancels out.
  slice(mapPass, n, 300);
  slice(checkPass, n, 300);
  const sliceMs = (SECONDS * 1000) / 4;
  const acc = { index: { calls: 0, ms: 0 }, map: { calls: 0, ms: 0 } };
  let sink = 0;
  for (const which of ['map', 'index', 'index', 'map', 'map', 'index', 'index', 'map'] as const) {
    const r = slice(which === 'map' ? mapPass : checkPass, n, sliceMs / 2);
    acc[which].calls += r.calls;
    acc[which].ms += r.ms;
    sink += r.sink;
  }
  const rate = acc.index.calls / (acc.index.ms / 1000);
  const baseline = acc.map.calls / (acc.map.ms / 1000);
  log(`  AllowlistIndex.check: ${(rate / 1e6).toFixed(2)} M decisions/s (${(1e9 / rate).toFixed(0)} ns each); Map.get baseline: ${(baseline / 1e6).toFixed(2)} M lookups/s (${(1e9 / baseline).toFixed(0)} ns each) [checksum ${sink}]`);

  // --- Cold: every query evaluated from scratch (a fresh snapshot per pass, so its decision cache is empty):
  // what the first sight of an address, or the first Check after any change, costs.
  let cold = { calls: 0, ms: 0 };
  {
    const snapshots = Array.from({ length: 6 }, () => new AllowlistIndex(data.entries, data.dailies));
    const t0 = performance.now();
    for (const snap of snapshots) for (let i = 0; i < n; i++) if (snap.check(c.ips[i] as string, c.accounts[i], c.envs[i] as Environment, now).allow) sink++;
    cold = { calls: snapshots.length * n, ms: performance.now() - t0 };
  }
  const coldRate = cold.calls / (cold.ms / 1000);
  log(`  cold (uncached) AllowlistIndex.check: ${(coldRate / 1e6).toFixed(2)} M decisions/s (${(1e9 / coldRate).toFixed(0)} ns each); repeated addresses hit the per-snapshot decision cache`);

  // --- Where the time goes, per kind of query, and the share of parsing alone (tryParseIp).
  const parts: string[] = [];
  for (const kind of kinds.keys()) {
    const sub = columns(q.filter((x) => x.kind === kind));
    const m = sub.ips.length;
    const r = slice(
      () => {
        let allow = 0;
        for (let i = 0; i < m; i++) if (idx.check(sub.ips[i] as string, sub.accounts[i], sub.envs[i] as Environment, now).allow) allow++;
        return allow;
      },
      m,
      150,
    );
    parts.push(`${kind} ${((r.ms * 1e6) / r.calls).toFixed(0)}`);
  }
  const parse = slice(
    () => {
      let v6 = 0;
      for (let i = 0; i < n; i++) if (tryParseIp(c.ips[i] as string)?.family === 6) v6++;
      return v6;
    },
    n,
    300,
  );
  log(`  ns per check by kind: ${parts.join(', ')}; tryParseIp alone ${((parse.ms * 1e6) / parse.calls).toFixed(0)} ns per query`);

  return [
    goalLine('allowlist-check-in-process', rate / baseline, GOAL),
    benchLine({ name: 'allowlist-check-in-process', value: rate, unit: 'decisions/s', baseline, baselineUnit: 'Map.get/s' }),
    benchLine({ name: 'allowlist-check-in-process-cold', value: coldRate, unit: 'decisions/s', baseline, baselineUnit: 'Map.get/s' }),
  ];
}
