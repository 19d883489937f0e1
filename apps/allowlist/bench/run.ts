// `nx run allowlist:bench`: the allowlist's hot path, Check, each figure against a baseline
// measured in the same run on the same machine (DESIGN.md §8), printed as
// `bench …; baseline …; ratio …` lines (last).
//
// Data (data.ts, seeded PRNG, same every run): 10,000 enumerated CIDRs (60% IPv4 at /16–/32,
// 40% IPv6 at /48–/128, about a third nested inside broader entries, some chains several deep;
// scopes live/staging/all; 3% expired, 25% with a future expiry) and 5,000 daily IPs (three per
// account, 75% IPv4, 5% shared by two accounts). Queries: 8,192 pre-generated strings: hits in
// IPv4 and IPv6 entries, IPv4-mapped IPv6 forms of IPv4 hits, daily IPs with their own account,
// with none and with another account, and IPv4/IPv6 misses; 70% LIVE, half name an account.
// Misses and mismatches make about a third of the answers DENY, so the denial audit is paid.
//
// 1. In-process: AllowlistIndex.check(ip, account, env, now) decisions per second (what every
//    Check does once the request is decoded), plus the index build time for the whole data set
//    (what each replica does on every change and every 30 s).
//    Baseline: Map.get of the same query strings in a Map of exact address strings (~15k keys,
//    every allowed query included). That is the cheapest conceivable lookup, an allowlist of
//    single addresses without parsing, canonicalisation, prefixes, scopes or expiry; the ratio
//    says what strict parsing plus the prefix search and the rules cost on top. Alternating
//    slices of equal length so a drift of the machine cancels out.
// 2. gRPC: Check over mTLS (caller `other-backend`) against the real service, startAllowlist()
//    (SQLite default store, the recording audit double in-process), holding the same data,
//    seeded through the service's own repositories and picked up by its change-version poll.
//    The load comes from several forked processes (load.ts), closed loop, several calls in flight.
//    Baseline: a bare RPC on the same kind of server (service-kit startServer, mTLS with the
//    allowlist certificate, the same caller policy, limits and rate limits) whose Check replays
//    the answer the real service gave to that request (same request and response bytes), driven
//    the same way, in the order bare, allowlist, allowlist, bare (half the time each). The ratio
//    is what decoding-to-decision, the index and the buffered denial audit (outbox + relay) cost
//    on top of gRPC and TLS themselves. p50/p99 latencies and CPU per call are printed for both.
//
// 3. AddEntry (the officer's critical write) over gRPC against its floor: a bare RPC that makes
//    one fsynced commit of the same 3 rows, at 16 and 100 in flight (add-entry.bench.ts).
//
// Sizes: BENCH_SECONDS (timed seconds per figure, default 6), BENCH_ENTRIES (10000),
// BENCH_DAILY_IPS (5000), BENCH_QUERIES (8192), BENCH_LOAD_PROCESSES (2),
// BENCH_CHECK_IN_FLIGHT (16 per process), BENCH_BUILD_REPEATS (5). Loopback only.
import { startAllowlist } from '../src/test-support/harness.js';
import { envNumber, startLoadDriver } from './bench-support.js';
import { addEntryBench } from './add-entry.bench.js';
import { grpcBench } from './check-grpc.bench.js';
import { inProcessBench } from './check-in-process.bench.js';
import { generate } from './data.js';

const LOAD_PROCESSES = Math.trunc(envNumber('BENCH_LOAD_PROCESSES', 2));
const ENTRIES = Math.trunc(envNumber('BENCH_ENTRIES', 10_000));
const DAILY_IPS = Math.trunc(envNumber('BENCH_DAILY_IPS', 5_000));
const QUERIES = Math.trunc(envNumber('BENCH_QUERIES', 8192));

const t0 = performance.now();
const log = (line: string) => console.log(line);
const now = new Date();
const g0 = performance.now();
const data = generate({ entries: ENTRIES, dailies: DAILY_IPS, queries: QUERIES, now });
const s = data.stats;
log(
  `data: ${data.entries.length} entries (${s.v4} IPv4, ${s.v6} IPv6, ${s.nested} nested, ${s.expired} expired), ` +
    `${data.dailies.length} daily IPs (${s.accounts} accounts, ${s.sharedDailyIps} shared), ${data.queries.length} queries; generated in ${(performance.now() - g0).toFixed(0)} ms`,
);
const lines: string[] = [];
log('allowlist Check in-process:');
lines.push(...inProcessBench(data, now, log));

const drivers = await Promise.all(Array.from({ length: LOAD_PROCESSES }, () => startLoadDriver()));
const h = await startAllowlist({}, now.getTime());
try {
  log('allowlist Check over gRPC:');
  lines.push(...(await grpcBench(h, drivers, data, log)));
} finally {
  await Promise.all(drivers.map((d) => d.stop()));
  await h.stop();
}
log('allowlist AddEntry against its floor (issue 14 item 7):');
lines.push(...(await addEntryBench(log)));
log(`(took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
for (const l of lines) log(l);
