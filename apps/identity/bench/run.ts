// `nx run identity:bench`: identity's two hot paths, each against a baseline measured in the same
// run on the same machine (DESIGN.md §8), printed as `bench …; baseline …; ratio …` lines (last).
//
// 1. VerifyOtp (TOTP, the last sign-in step) on the real service: startIdentity() (SQLite default
//    store, mTLS on loopback, doubles for audit/allowlist/SMS, manual clock). Sign-ins that have
//    passed the SMS step are prepared outside the timed section, one per account per round; the
//    clock then moves one TOTP step so every account has a fresh code. Timed: the VerifyOtp calls,
//    sent over gRPC from a forked load process, and (alternating rounds) the same call in-process
//    on the service's own SignInFlow (the harness does not expose it: the bench catches the
//    instance on its first view() call), which shows what gRPC adds.
//    Baseline: a raw compare-and-set UPDATE of the same otp_credentials rows (guard: credential id,
//    status, last accepted step, counter) on the same store, through its lock, each committed on
//    its own, at the same concurrency. That write is the one thing VerifyOtp cannot do without
//    (it is the replay protection), so the ratio says how much of the store's write capacity is
//    left for it after the rest: VerifyOtp also reads the sign-in, account and credential, does the
//    throttle reserve/reset, the sign-in CAS (twice), the session insert, the account update, the
//    allowlist RPC and two audit outbox transactions. A per-call breakdown follows.
// 2. VerifyOtp against its floor (issue 14 item 7, verify-otp-floor.bench.ts): a bare kit RPC with
//    identity's binding and policy that makes one fsynced commit of the 7 rows a VerifyOtp commits,
//    both driven from this process by one closed loop at 16 and 100 in flight (floor, real, real,
//    floor), with p99 lines. The raw CAS UPDATE line above stays as the second line for history.
// 3. VerifySession over gRPC from several load processes (closed loop, several calls in flight).
//    Baseline: a bare RPC on the same kind of server (service-kit startServer, mTLS with the
//    identity certificate, the same caller policy, limits and rate limits), answering the same
//    response bytes without any work, driven the same way (bare, identity, identity, bare, half
//    the time each). The ratio is what the session check (Ed25519 verify, claims, the revocation
//    read in SQLite) costs on top of gRPC itself. p50/p99 latencies and the CPU per call of the
//    server and load processes are printed for both.
//
// Sizes: BENCH_SECONDS (timed seconds per figure, default 4), BENCH_OTP_ACCOUNTS (150),
// BENCH_OTP_CONCURRENCY (8), BENCH_OTP_MAX_ROUNDS (30), BENCH_LOAD_PROCESSES (2),
// BENCH_SESSION_IN_FLIGHT (16 per process), BENCH_OTP_FLOOR_ACCOUNTS (300). Loopback only.
import { startIdentity } from '../src/test-support/harness.js';
import { envNumber, startLoadDriver, type BenchLoadDriver } from './bench-support.js';
import { verifyOtpFloorBench } from './verify-otp-floor.bench.js';
import { verifyOtpBench } from './verify-otp.bench.js';
import { verifySessionBench } from './verify-session.bench.js';

const LOAD_PROCESSES = Math.trunc(envNumber('BENCH_LOAD_PROCESSES', 2));

const t0 = performance.now();
const log = (line: string) => console.log(line);
const drivers = await Promise.all(Array.from({ length: LOAD_PROCESSES }, () => startLoadDriver()));
const h = await startIdentity();
const lines: string[] = [];
try {
  log('identity VerifyOtp:');
  const otp = await verifyOtpBench(h, drivers[0] as BenchLoadDriver, log);
  log('identity VerifyOtp against its floor:');
  const floorLines = await verifyOtpFloorBench(h, otp.officerToken, log);
  // The goal against the floor first, the old raw CAS UPDATE lines second (history stays comparable).
  lines.push(...floorLines.slice(0, 1), ...otp.benchLines, ...floorLines.slice(1));
  log('identity VerifySession:');
  lines.push(...(await verifySessionBench(h, drivers, otp.tokens, log)));
} finally {
  await Promise.all(drivers.map((d) => d.stop()));
  await h.stop();
}
log(`(took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
for (const l of lines) log(l);
