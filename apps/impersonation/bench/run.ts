// `nx run impersonation:bench`: the impersonation service's write path and its hottest read path,
// each against a baseline measured in the same run on the same machine (DESIGN.md §8), printed as
// `bench …; baseline …; ratio …` lines (last), each under its goal line.
//
// The service: startImpersonation() (service.ts as production wires it: SQLite default store, mTLS
// on loopback, the recording audit double, a fake allowlist allowing 127.0.0.1 and test session
// keys, all in-process; manual clock). Settings that differ from the test harness are the
// production defaults instead: log level info (the harness logs every RPC at debug into memory)
// and the expiry scan every 10 s (the harness scans every 100 ms). The burst rule is pinned to its
// defaults (3 distinct targets within 60 minutes). The load comes from forked processes (load.ts)
// over mTLS channels, requests encoded before the timed section.
//
// The doubles (audit, allowlist) are not rate limited and share the service's process: each start
// is one allowlist Check and one audit Append (a start waits for audit's confirmation), so both
// ends of those two RPCs count in the service process's CPU and event loop. The breakdown shows
// what they take.
//
// 1. StartImpersonation (goal: ratio >= 0.5 against the floor, see below): GRANTS (10,000) existing grants of EMPLOYEES (250)
//    support employees across DOMAINS (500) customer domains, 2 distinct targets per (employee,
//    domain) within the window and the burst windows holding exactly those grants, seeded through
//    SqliteGrantRepository/SqliteBurstRepository on the service's own store. Then STARTS (2,000)
//    starts, START_IN_FLIGHT (16) in flight from one load process, each for a different seeded
//    (employee, domain) with a new target: the rule is evaluated on the pair's 2 live entries and
//    does not fire (the third distinct target is allowed; only a fourth would open an anomaly).
//    Checked: every call returned an ACTIVE grant and a token, the store holds exactly those new
//    grants, each window took its one new entry, no anomaly opened, audit confirmed every start and
//    refused none. Throughput and p50/p99 latency.
//    Baseline: the burst count in its raw form on the same data: SqliteGrantRepository.
//    countDistinctTargets (SELECT COUNT(DISTINCT target_user_id) … WHERE account_id = ? AND
//    customer_domain = ? AND started_at >= ?, on the grants_burst index, checked by EXPLAIN QUERY
//    PLAN) of the seeded pairs, on the service's own store, 16 in flight, half before and half
//    after the service's run. The ratio says what a start costs on top of the one read its rule
//    needs: gRPC and TLS, the session check, the lock read, the allowlist Check, the window read and
//    its compare-and-set write, token signing, the grant insert, the confirmed audit Append. Then,
//    untimed, a breakdown of one start at a time: over gRPC, and in-process on the service's own
//    Impersonation object (breakdown.ts) with its ports timed.
//    Then (issue 14 item 7; the goal moved here): StartImpersonation against its floor, a bare
//    kit RPC with impersonation's binding and policy whose handler awaits one fsynced commit of
//    the 3 rows the start's unit commits (window, grant, outcome event; floor.ts), both driven by
//    one closed loop in this process at 16 and 100 in flight (floor, real, real, floor), with p99
//    lines; an informative "floor + waits" adds the allowlist Check and confirmed Append round
//    trips a start must wait for. Printed with commits per start, the waits and the loop's time.
//    The raw-count line above stays as the second line.
// 2. VerifyImpersonationToken READ_DATA (goal: ratio >= 0.7): VERIFY_GRANTS (200) grants started
//    over gRPC, their tokens verified in a closed loop by the crm backend from LOAD_PROCESSES (2)
//    load processes, VERIFY_IN_FLIGHT (16) in flight each. Every answer must say valid.
//    Baseline: a bare RPC on the same kind of server (service-kit startServer, mTLS with the
//    impersonation certificate, the service's caller policy, limits and rate limits), answering
//    the same response bytes without any work, driven the same way (VERIFY_ROUNDS (2) rounds of
//    bare, impersonation, impersonation, bare; SECONDS (6) per target in all). The ratio is what
//    the verification (Ed25519 verify, claims, the grant read in SQLite) costs on top of gRPC
//    itself. Then, untimed, a breakdown of one verification at a time in-process (10 x
//    BENCH_BREAKDOWN) with the ports timed.
//
// Sizes: BENCH_GRANTS (10000), BENCH_DOMAINS (500), BENCH_EMPLOYEES (250), BENCH_STARTS (2000),
// BENCH_START_IN_FLIGHT (16), BENCH_COUNT_SECONDS (2), BENCH_BREAKDOWN (50 starts one at a time
// per way), BENCH_VERIFY_GRANTS (200), BENCH_LOAD_PROCESSES (2), BENCH_VERIFY_IN_FLIGHT (16 per
// process), BENCH_SECONDS (6), BENCH_VERIFY_ROUNDS (2).
// Loopback only.
import type { HostedService } from '@gatehouse/service-host';
import { startImpersonation } from '../src/test-support/harness.js';
import { envNumber, startLoadDriver, type BenchLoadDriver } from './bench-support.js';
import { startImpersonationBench } from './start-impersonation.bench.js';
import { verifyTokenBench } from './verify-token.bench.js';

const LOAD_PROCESSES = Math.trunc(envNumber('BENCH_LOAD_PROCESSES', 2));
const BURST = { distinctTargets: 3, windowMinutes: 60 };

const t0 = performance.now();
const log = (line: string) => console.log(line);
const drivers = await Promise.all(Array.from({ length: LOAD_PROCESSES }, () => startLoadDriver()));
const h = await startImpersonation({
  GATEHOUSE_LOG_LEVEL: 'info',
  GATEHOUSE_IMPERSONATION_EXPIRY_SCAN_MS: '10000',
  GATEHOUSE_IMPERSONATION_BURST_TARGETS: String(BURST.distinctTargets),
  GATEHOUSE_IMPERSONATION_BURST_WINDOW_MINUTES: String(BURST.windowMinutes),
});
const lines: string[] = [];
try {
  const opened = (h.replicas[0] as HostedService).store;
  if (opened.backend !== 'sqlite') throw new Error('the impersonation bench measures the SQLite default store');
  const store = opened.store;
  const cli = await h.client('cli');
  log(`impersonation started; store ${store.file}`);

  log('impersonation StartImpersonation:');
  lines.push(
    ...(await startImpersonationBench({
      h,
      driver: drivers[0] as BenchLoadDriver,
      store,
      cli,
      burst: { distinctTargets: BURST.distinctTargets, windowMs: BURST.windowMinutes * 60_000 },
      log,
    })),
  );
  log('impersonation VerifyImpersonationToken:');
  lines.push(...(await verifyTokenBench({ h, drivers, store, cli, log })));
} finally {
  await Promise.all(drivers.map((d) => d.stop()));
  await h.stop();
}
log(`(took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
for (const l of lines) log(l);
