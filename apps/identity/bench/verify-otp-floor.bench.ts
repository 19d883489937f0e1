// `nx run identity:bench` (part 2, issue 14 item 7): VerifyOtp, the sign-in step, against its
// floor. A critical action cannot beat the least durable work it must do: one mTLS round trip to
// a server that makes one fsynced commit of the same rows. A successful VerifyOtp commits, in its
// one unit of work (sign-in-flow.ts verifyOtp), 7 rows: 5 state rows — the account's throttle row
// (reserved, then reset: one row), the OTP credential (code compare-and-set), the sign-in
// (compare-and-set to completed), the session record, the account (last sign-in) — and 2 audit
// events in the outbox: otp_verify and session_issue (sign_in_new_ip only for roles reaching
// LIVE; the bench accounts are developers). The floor is a bare kit RPC with identity's binding and
// caller policy (startBareRpc: same mTLS, same interceptors) whose VerifyOtp awaits one commit of
// 7 rows of the real rows' mean size (libs/testing openCommitFloor: the same SqliteStore, group
// commit) and returns a real VerifyOtp answer captured in setup. Both are driven from this process
// by the same closed loop, 16 and 100 calls in flight, in the order floor, real, real, floor.
//
// Every VerifyOtp needs a sign-in past SMS and a fresh code, prepared untimed before each real
// phase: BENCH_OTP_FLOOR_ACCOUNTS accounts (own TOTP credentials), up to 3 sign-ins each (3 in
// the first phase, then twice what the fastest phase so far did), then the clock moves 3 TOTP steps so each account has 3 codes (steps now-1, now, now+1, used in that order, one
// call per account in flight at a time). A phase that runs out of prepared sign-ins fails the
// bench (raise the accounts). The real calls are checked: each answer carries a session, and the
// sessions, otp_verify and session_issue events grow by the number of calls.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IdentityServiceClient, IdentityServiceService, SERVICE_NAMES, auditEventV1, type identityV1 } from '@gatehouse/contracts';
import { loadTlsMaterial } from '@gatehouse/pki';
import { call, dial, unary } from '@gatehouse/service-kit';
import type { SqliteStore } from '@gatehouse/storage';
import { benchLine, catchThis, closedLoop, latencyText, openCommitFloor, startBareRpc, type LoopRun } from '@gatehouse/testing';
import type { IdentityDeps } from '../src/domain/identity-deps.js';
import { SignInFlow } from '../src/domain/sign-in/sign-in-flow.js';
import { identityPolicy } from '../src/rpc/identity-rpc.js';
import type { IdentityHarness } from '../src/test-support/harness.js';
import { envNumber, goalLine, pool } from './bench-support.js';
import { PREPARE_CONCURRENCY, pastSms, setUpAccounts, type BenchAccount } from './verify-otp.bench.js';

const SECONDS = envNumber('BENCH_SECONDS', 4);
const ACCOUNTS = Math.trunc(envNumber('BENCH_OTP_FLOOR_ACCOUNTS', 400));
const GOAL = 0.5;
/** Rows one successful VerifyOtp commits: 5 state rows + 2 outbox events (see the header). */
const ROWS = 7;
/** Codes per account per clock position: steps now-1, now, now+1 (RFC 6238 window ±1). */
const CODES_PER_ACCOUNT = 3;

const Act = auditEventV1.Action;
const O = auditEventV1.Outcome;
const rate = (r: LoopRun) => (r.calls / r.ms) * 1000;
const merged = (a: LoopRun, b: LoopRun): LoopRun => ({ calls: a.calls + b.calls, ms: a.ms + b.ms, latencies: [...a.latencies, ...b.latencies], busyMs: a.busyMs + b.busyMs });

/** A prepared VerifyOtp: a sign-in past SMS and the TOTP step offset its code is taken at. */
interface Prepared {
  signInId: string;
  offset: number;
}

export async function verifyOtpFloorBench(h: IdentityHarness, officerToken: string, log: (line: string) => void): Promise<string[]> {
  const opened = h.hosted.store;
  if (opened.backend !== 'sqlite') throw new Error('the identity bench measures the SQLite default store');
  const store: SqliteStore = opened.store;
  const cli = await h.client('cli');
  const t0 = performance.now();
  // The service's SignInFlow (for the in-process line of the breakdown): caught on its next view().
  const catcher = catchThis(SignInFlow, 'view');
  const accounts = await setUpAccounts(h, cli, officerToken, ACCOUNTS, 'floor', 20_000_000);
  catcher.release();
  const flow = catcher.caught();
  // Finish each enrolment sign-in (one clock step on, so the confirmed code is not replayed); one
  // answer is the floor's canned answer, the rows they wrote give the floor's row size.
  h.clock.advance(30_000);
  await h.drainAudit();
  let canned: identityV1.VerifyOtpResponse | undefined;
  const sessionsBefore = await countSessions(store);
  await pool(accounts.length, PREPARE_CONCURRENCY, async (i) => {
    const a = accounts[i] as BenchAccount;
    const r = await call(cli, cli.verifyOtp, { signInId: a.signInId, code: h.totp(a.device) });
    canned ??= r;
  });
  await h.drainAudit();
  const bytes = await meanRowBytes(store, accounts[0] as BenchAccount);
  log(`  floor setup: ${ACCOUNTS} accounts approved, enrolled (TOTP) and signed in once in ${((performance.now() - t0) / 1000).toFixed(1)} s; mean row ${bytes} bytes (${(await countSessions(store)) - sessionsBefore} sessions)`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-floor-'));
  const floor = openCommitFloor(dir);
  const pkiDir = `${h.dir}/pki`;
  const answer = canned as identityV1.VerifyOtpResponse;
  const bare = await startBareRpc({
    service: 'identity',
    pkiDir,
    binding: {
      name: SERVICE_NAMES.identity,
      definition: IdentityServiceService,
      policy: identityPolicy,
      handlers: {
        VerifyOtp: unary<identityV1.VerifyOtpRequest, identityV1.VerifyOtpResponse>(async () => {
          await floor.commit(ROWS, bytes);
          return answer;
        }),
      },
    },
  });
  const lines: string[] = [];
  const phaseCommits: Array<{ inFlight: number; inProcess: boolean; floor?: boolean; calls: number; units: number; commits: number; commitMs: number }> = [];
  const floorClient = dial(IdentityServiceClient, `127.0.0.1:${bare.port}`, { mode: 'mtls', material: { ...(await loadTlsMaterial(pkiDir, 'cli')), expectedServerName: 'identity' } });
  try {
    const floorOp = (_i: number) => call(floorClient, floorClient.verifyOtp, { signInId: 'si_floorfloorfloorfloorfl', code: '123456' }).then(() => undefined);
    const ownCommits = countCommits(store);
    let bestRate = Infinity;
    const phaseFloorBusy = new Map<number, number>();
    /** One real phase: prepare 3 sign-ins per account, move the clock 3 steps, then the closed loop (over gRPC, or on the service's SignInFlow). */
    const realPhase = async (inFlight: number, inProcess = false): Promise<LoopRun> => {
      const queues = new Map<BenchAccount, Prepared[]>();
      // As many as the fastest phase so far would use, twice over (all 3 per account at first).
      const need = Math.ceil(2 * bestRate * (SECONDS / 4)) + 2 * inFlight;
      const perAccount = Math.min(CODES_PER_ACCOUNT, Math.ceil(need / accounts.length));
      await pool(accounts.length, PREPARE_CONCURRENCY, async (i) => {
        const a = accounts[i] as BenchAccount;
        const q: Prepared[] = [];
        // One after the other: pastSms finds the code as the last SMS sent to the account's phone.
        for (let k = 0; k < perAccount; k++) q.push({ signInId: await pastSms(h, cli, a.email, a.phone), offset: k - 1 });
        queues.set(a, q);
      });
      h.clock.advance(CODES_PER_ACCOUNT * 30_000);
      await h.drainAudit();
      const idle = [...accounts];
      const sessions0 = await countSessions(store);
      const events0 = countEvents(h);
      let failed: unknown;
      const op = async (_i: number) => {
        const a = idle.shift();
        const next = a && queues.get(a)?.shift();
        if (!a || !next) throw new Error(`VerifyOtp floor bench: the ${ACCOUNTS * perAccount} prepared sign-ins ran out at ${inFlight} in flight: raise BENCH_OTP_FLOOR_ACCOUNTS`);
        try {
          const code = h.totp(a.device, next.offset);
          const token = inProcess
            ? (await (flow as SignInFlow).verifyOtp(next.signInId, code, { ip: '127.0.0.1', requestId: randomUUID() })).session.token
            : (await call(cli, cli.verifyOtp, { signInId: next.signInId, code })).session?.token;
          if (!token) throw new Error('VerifyOtp answered without a session');
        } catch (err) {
          failed ??= err;
          throw err;
        } finally {
          if ((queues.get(a)?.length ?? 0) > 0) idle.push(a);
        }
      };
      ownCommits.reset();
      const run = await closedLoop(SECONDS / 4, inFlight, op);
      phaseCommits.push({ inFlight, inProcess, calls: run.calls, ...ownCommits.read() });
      if (failed) throw failed;
      bestRate = Math.max(bestRate === Infinity ? 0 : bestRate, rate(run));
      await h.drainAudit();
      const sessions = (await countSessions(store)) - sessions0;
      const events = countEvents(h);
      const verified = events.verified - events0.verified;
      const issued = events.issued - events0.issued;
      if (sessions !== run.calls || verified !== run.calls || issued !== run.calls) {
        throw new Error(`VerifyOtp floor bench: ${run.calls} calls, but ${sessions} sessions, ${verified} otp_verify and ${issued} session_issue events`);
      }
      return run;
    };
    const floorCommits = countCommits(floor.store);
    const rawCommit = await closedLoop(SECONDS / 4, 16, () => floor.commit(ROWS, bytes));
    const floorPhase = async (inFlight: number) => {
      floorCommits.reset();
      const run = await closedLoop(SECONDS / 4, inFlight, floorOp);
      phaseCommits.push({ inFlight, inProcess: false, floor: true, calls: run.calls, ...floorCommits.read() });
      return run;
    };
    for (const inFlight of [16, 100]) {
      const f1 = await floorPhase(inFlight);
      const r1 = await realPhase(inFlight);
      const r2 = await realPhase(inFlight);
      const f2 = await floorPhase(inFlight);
      const r = merged(r1, r2);
      const f = merged(f1, f2);
      log(`  VerifyOtp at ${inFlight} in flight: ${rate(r).toFixed(0)}/s (${latencyText(r.latencies)}); floor (mTLS RPC + one fsynced commit of ${ROWS} rows) ${rate(f).toFixed(0)}/s (${latencyText(f.latencies)})`);
      log(`    phases in order: floor ${rate(f1).toFixed(0)}, VerifyOtp ${rate(r1).toFixed(0)}, VerifyOtp ${rate(r2).toFixed(0)}, floor ${rate(f2).toFixed(0)} calls/s; event loop busy per call: VerifyOtp ${(r.busyMs / r.calls).toFixed(2)} ms, floor ${(f.busyMs / f.calls).toFixed(2)} ms`);
      phaseFloorBusy.set(inFlight, f.busyMs / f.calls);
      const ratio = rate(r) / rate(f);
      if (inFlight === 16) lines.push(goalLine('identity-verify-otp-vs-floor', ratio, GOAL));
      lines.push(benchLine({ name: `identity-verify-otp-vs-floor-${inFlight}`, value: rate(r), unit: 'VerifyOtp/s', baseline: rate(f), baselineUnit: 'floor calls/s' }));
      lines.push(`latency identity-verify-otp-${inFlight}: ${latencyText(r.latencies)}; floor ${latencyText(f.latencies)}`);
    }
    log(`  raw commit of the ${ROWS} rows (no RPC, 16 in flight): ${rate(rawCommit).toFixed(0)}/s`);
    // Breakdown: the store's units and group COMMITs per phase, and at 16 in flight what the allowlist round trip and the gRPC layer cost.
    const deps = flow ? (flow as unknown as { d: IdentityDeps }).d : undefined;
    const signInAccount = (await store.exec(undefined, (db) => db.prepare('SELECT account_id AS a FROM sign_ins WHERE sign_in_id = ?').get((accounts[0] as BenchAccount).signInId) as { a: string } | undefined))?.a ?? '';
    const check = deps ? await closedLoop(SECONDS / 4, 16, () => deps.allowlist.isAllowlisted('127.0.0.1', signInAccount).then(() => undefined)) : undefined;
    const inproc = flow ? await realPhase(16, true) : undefined;
    const perCall = (r: LoopRun) => `${(r.busyMs / r.calls).toFixed(2)} ms`;
    log('  breakdown (this one process runs the load, identity, its allowlist and audit doubles, and the floor; "per call" is event loop time):');
    for (const c of phaseCommits) {
      if (c.inFlight !== 16 && c.inFlight !== 100) continue;
      log(
        `    ${c.floor ? 'floor    ' : c.inProcess ? 'in-proc. ' : 'VerifyOtp'} ${String(c.inFlight).padStart(3)} in flight: ${c.calls} calls, ${c.units} units, ${c.commits} group COMMITs ` +
          `(${(c.units / Math.max(1, c.commits)).toFixed(1)} units per COMMIT, ${(c.commits / Math.max(1, c.calls)).toFixed(2)} per call), ${(c.commitMs / Math.max(1, c.commits)).toFixed(2)} ms per COMMIT (fsync, blocks the loop), ${(c.commitMs / Math.max(1, c.calls)).toFixed(2)} ms per call`,
      );
    }
    if (check) {
      log(`    allowlist Check round trip (identity's client + the in-process allowlist double): ${rate(check).toFixed(0)}/s, ${perCall(check)} per call`);
      // The floor has no second RPC; VerifyOtp must ask the allowlist for the session's scope. With
      // the loop the limit, that round trip alone caps the ratio at floor / (floor + Check).
      const f16 = phaseFloorBusy.get(16);
      if (f16) log(`    ratio ceiling from that round trip alone (loop-bound): ${(f16 / (f16 + check.busyMs / check.calls)).toFixed(2)} (floor ${f16.toFixed(2)} ms per call)`);
    }
    if (inproc) log(`    VerifyOtp in-process (SignInFlow.verifyOtp, no gRPC): ${rate(inproc).toFixed(0)}/s (${latencyText(inproc.latencies)}), ${perCall(inproc)} per call`);
    ownCommits.detach();
    floorCommits.detach();
  } finally {
    floorClient.close();
    await bare.shutdown('bench over');
    await floor.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

/** Counts a store's units (run) and its group COMMITs (the one fsync each batch pays) with the time they block the event loop. */
function countCommits(store: SqliteStore): { reset(): void; read(): { units: number; commits: number; commitMs: number }; detach(): void } {
  let units = 0;
  let commits = 0;
  let commitMs = 0;
  const db = store.db;
  const exec = db.exec.bind(db);
  (db as unknown as { exec: (sql: string) => unknown }).exec = (sql: string) => {
    if (sql !== 'COMMIT') return exec(sql);
    const s = performance.now();
    try {
      return exec(sql);
    } finally {
      commits++;
      commitMs += performance.now() - s;
    }
  };
  const run = store.run.bind(store);
  (store as unknown as { run: SqliteStore['run'] }).run = (fn) => {
    units++;
    return run(fn);
  };
  return {
    reset: () => {
      units = commits = commitMs = 0;
    },
    read: () => ({ units, commits, commitMs }),
    detach: () => {
      delete (db as unknown as Record<string, unknown>)['exec'];
      delete (store as unknown as Record<string, unknown>)['run'];
    },
  };
}

function countSessions(store: SqliteStore): Promise<number> {
  return store.exec(undefined, (db) => (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n);
}

function countEvents(h: IdentityHarness): { verified: number; issued: number } {
  let verified = 0;
  let issued = 0;
  for (const e of h.events) {
    if (e.outcome !== O.OUTCOME_SUCCESS) continue;
    if (e.action === Act.ACTION_IDENTITY_OTP_VERIFY) verified++;
    else if (e.action === Act.ACTION_IDENTITY_SESSION_ISSUE) issued++;
  }
  return { verified, issued };
}

/** The mean size of the 7 rows one VerifyOtp of `a` wrote (doc columns and outbox payloads), for the floor's rows. */
async function meanRowBytes(store: SqliteStore, a: BenchAccount): Promise<number> {
  return store.exec(undefined, (db) => {
    const one = (sql: string, ...args: unknown[]) => ((db.prepare(sql).get(...args) as { n: number | null } | undefined)?.n ?? 0);
    const signIn = db.prepare('SELECT account_id AS accountId, doc FROM sign_ins WHERE sign_in_id = ?').get(a.signInId) as { accountId: string; doc: string };
    const state =
      one('SELECT length(doc) AS n FROM accounts WHERE account_id = ?', signIn.accountId) +
      one('SELECT length(doc) AS n FROM otp_credentials WHERE credential_id = ?', a.credentialId) +
      signIn.doc.length +
      one('SELECT max(length(doc)) AS n FROM sessions WHERE account_id = ?', signIn.accountId) +
      32; // the throttle row: an id and three numbers
    const events = one('SELECT avg(length(payload)) AS n FROM audit_outbox') * 2;
    return Math.round((state + events) / ROWS) || 256;
  });
}
