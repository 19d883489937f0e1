// `nx run identity:bench` (part 1): VerifyOtp (TOTP) throughput on the real service against a raw
// compare-and-set UPDATE of the same otp_credentials rows on the same SQLite store, same run,
// same concurrency. See run.ts for why this baseline.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call, isStatus } from '@gatehouse/service-kit';
import type { SqliteStore } from '@gatehouse/storage';
import { benchLine, catchThis, timePorts, type StoreCounts } from '@gatehouse/testing';
import type { IdentityDeps } from '../src/domain/identity-deps.js';
import type { SessionService } from '../src/domain/sessions/session-service.js';
import { SignInFlow } from '../src/domain/sign-in/sign-in-flow.js';
import { identityStores } from '../src/store/schema.js';
import { deviceOf, type Device, type IdentityHarness } from '../src/test-support/harness.js';
import { closedLoop, envNumber, goalLine, latencyText, pool, probeStore, type BenchLoadDriver } from './bench-support.js';

const SECONDS = envNumber('BENCH_SECONDS', 4);
/** Accounts, each with an active TOTP credential: one VerifyOtp per account per round. */
const ACCOUNTS = Math.trunc(envNumber('BENCH_OTP_ACCOUNTS', 150));
/** VerifyOtp calls (and baseline CAS writes) in flight at once. */
const CONCURRENCY = Math.trunc(envNumber('BENCH_OTP_CONCURRENCY', 8));
const MAX_ROUNDS = Math.trunc(envNumber('BENCH_OTP_MAX_ROUNDS', 30));
/** Untimed preparation (accounts, sign-ins past SMS) runs this many at once. */
export const PREPARE_CONCURRENCY = 8;
const GOAL = 0.5;
const CLIENT_IP = '127.0.0.1';

export interface BenchAccount {
  email: string;
  phone: string;
  device: Device;
  credentialId: string;
  /** A sign-in past its SMS step, waiting for VerifyOtp. */
  signInId: string;
}

export interface OtpBenchResult {
  /** DESIGN.md §8 lines (gRPC first). */
  benchLines: string[];
  /** Session tokens issued by the last gRPC round, for the VerifySession benchmark. */
  tokens: string[];
  /** The officer's session (the floor part approves its own accounts with it). */
  officerToken: string;
}

/**
 * The harness's approve(), with every unexpected answer reported instead of swallowed, and the
 * listing narrowed to pending accounts: ListAccounts applies its `email` filter to one page after
 * paging, so beyond 50 accounts an e-mail alone may find nothing.
 */
async function approve(h: IdentityHarness, cli: IdentityServiceClient, officerToken: string, email: string, phone: string): Promise<void> {
  const refused = await call(cli, cli.beginSignIn, { googleIdToken: h.idToken(email) }).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isStatus(refused, grpc.status.PERMISSION_DENIED)) throw new Error(`BeginSignIn of a new account ${email}: expected PERMISSION_DENIED, got ${String(refused)}`);
  const listed = await call(cli, cli.listAccounts, identityV1.ListAccountsRequest.fromPartial({ email, states: [identityV1.AccountState.ACCOUNT_STATE_PENDING_APPROVAL] }), { bearer: officerToken });
  const accountId = listed.accounts[0]?.principal?.accountId;
  if (!accountId) throw new Error(`ListAccounts did not find ${email}`);
  await call(cli, cli.approveAccount, { accountId, roles: [commonV1.Role.ROLE_DEVELOPER], phoneNumber: phone, note: 'bench', displayName: 'Bench Employee' }, { bearer: officerToken });
}

/**
 * The harness's pastSms(), safe to run for several accounts at once: each account has its own
 * phone number, and the code is the last SMS sent to it (the harness takes the last SMS of all).
 */
export async function pastSms(h: IdentityHarness, cli: IdentityServiceClient, email: string, phone: string): Promise<string> {
  const begun = await call(cli, cli.beginSignIn, { googleIdToken: h.idToken(email) });
  const signInId = begun.state?.signInId ?? '';
  await call(cli, cli.sendSmsCode, { signInId });
  let code = '';
  for (let i = h.sms.length - 1; i >= 0 && !code; i--) if (h.sms[i]?.to === phone) code = h.sms[i]?.code ?? '';
  await call(cli, cli.verifySmsCode, { signInId, code });
  return signInId;
}

/**
 * `count` approved accounts, each with a confirmed TOTP credential and its enrolment sign-in past
 * SMS and enrolled (a VerifyOtp finishes it). E-mails `<prefix>-<i>@bank.example`, phones from
 * `+49151<phoneBase + i>` (distinct per account: pastSms finds the code by phone).
 */
export async function setUpAccounts(h: IdentityHarness, cli: IdentityServiceClient, officerToken: string, count: number, prefix: string, phoneBase: number): Promise<BenchAccount[]> {
  const accounts: BenchAccount[] = new Array<BenchAccount>(count);
  await pool(count, PREPARE_CONCURRENCY, async (i) => {
    const email = `${prefix}-${i}@bank.example`;
    const phone = `+49151${String(phoneBase + i)}`;
    await approve(h, cli, officerToken, email, phone);
    const signInId = await pastSms(h, cli, email, phone);
    const enrolled = await call(cli, cli.enrollOtp, identityV1.EnrollOtpRequest.fromPartial({ signInId, kind: identityV1.OtpKind.OTP_KIND_TOTP }));
    const device = deviceOf(enrolled.otpauthUri);
    await call(cli, cli.confirmOtpEnrollment, { credentialId: enrolled.credentialId, code: h.totp(device), signInId });
    accounts[i] = { email, phone, device, credentialId: enrolled.credentialId, signInId };
  });
  return accounts;
}

export async function verifyOtpBench(h: IdentityHarness, driver: BenchLoadDriver, log: (line: string) => void): Promise<OtpBenchResult> {
  const opened = h.hosted.store;
  if (opened.backend !== 'sqlite') throw new Error('the identity bench measures the SQLite default store');
  const store: SqliteStore = opened.store;
  const pkiDir = `${h.dir}/pki`;
  const cli: IdentityServiceClient = await h.client('cli');
  // The harness does not expose the running service's SignInFlow: catch `this` on its next view().
  const catcher = catchThis(SignInFlow, 'view');

  // --- Setup (untimed): the officer, then ACCOUNTS approved accounts with a confirmed TOTP credential.
  const t0 = performance.now();
  const officer = await h.bootstrapOfficer('officer@bank.example');
  const accounts = await setUpAccounts(h, cli, officer.token, ACCOUNTS, 'bench', 10_000_000);
  catcher.release();
  const flow = catcher.caught();
  log(`  setup: ${ACCOUNTS} accounts approved and enrolled (TOTP) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // --- Rounds: prepare one sign-in per account (untimed), move the clock one TOTP step so every
  // account has a fresh code, then time ACCOUNTS VerifyOtp calls at CONCURRENCY. Rounds alternate
  // between gRPC (driven from the load process) and in-process (SignInFlow.verifyOtp).
  const acc = { grpc: { calls: 0, ms: 0, lat: [] as number[], userMs: 0, sysMs: 0, clientCpuMs: 0 }, inproc: { calls: 0, ms: 0, lat: [] as number[] } };
  let tokens: string[] = [];
  let prepMs = 0;
  const target = SECONDS * 1000;
  const prepare = async () => {
    const p0 = performance.now();
    await pool(accounts.length, PREPARE_CONCURRENCY, async (i) => {
      const a = accounts[i] as BenchAccount;
      a.signInId = await pastSms(h, cli, a.email, a.phone);
    });
    await h.drainAudit();
    prepMs += performance.now() - p0;
  };
  let round = 0;
  for (; round < MAX_ROUNDS && (acc.grpc.ms < target || (flow && acc.inproc.ms < target)); round++) {
    if (round > 0) await prepare();
    else await h.drainAudit();
    h.clock.advance(30_000);
    const calls = accounts.map((a) => ({ signInId: a.signInId, code: h.totp(a.device) }));
    const inProcess = flow !== undefined && acc.inproc.ms < acc.grpc.ms;
    if (!inProcess) {
      const cpu0 = process.cpuUsage();
      const r = await driver.run({ kind: 'otp', address: h.address, pkiDir, certName: 'cli', calls, concurrency: CONCURRENCY, wantTokens: true });
      const cpu = process.cpuUsage(cpu0);
      if (r.errorCount > 0) throw new Error(`VerifyOtp failed over gRPC in round ${round} (${r.errorCount} calls): ${r.errors.join('; ')}`);
      acc.grpc.calls += r.calls;
      acc.grpc.ms += r.elapsedMs;
      acc.grpc.lat.push(...r.latencies);
      acc.grpc.userMs += cpu.user / 1000;
      acc.grpc.sysMs += cpu.system / 1000;
      acc.grpc.clientCpuMs += r.cpuMs;
      tokens = r.tokens;
    } else {
      const latencies: number[] = [];
      const s0 = performance.now();
      await pool(calls.length, CONCURRENCY, async (i) => {
        const c = calls[i] as (typeof calls)[number];
        const s = performance.now();
        await flow.verifyOtp(c.signInId, c.code, { ip: CLIENT_IP, requestId: randomUUID() });
        latencies.push(performance.now() - s);
      });
      acc.inproc.ms += performance.now() - s0;
      acc.inproc.calls += calls.length;
      acc.inproc.lat.push(...latencies);
    }
  }
  const grpcRate = acc.grpc.calls / (acc.grpc.ms / 1000);
  log(`  rounds: ${round} x ${ACCOUNTS} VerifyOtp (concurrency ${CONCURRENCY}); sign-in preparation (untimed) took ${(prepMs / 1000).toFixed(1)} s`);
  log(`  VerifyOtp over gRPC: ${grpcRate.toFixed(0)} calls/s; latency ${latencyText(acc.grpc.lat)}; service process CPU (with its in-process audit/allowlist doubles) ${((acc.grpc.userMs + acc.grpc.sysMs) / acc.grpc.calls).toFixed(2)} ms/call (user ${(acc.grpc.userMs / acc.grpc.calls).toFixed(2)}, system ${(acc.grpc.sysMs / acc.grpc.calls).toFixed(2)}), load process CPU ${(acc.grpc.clientCpuMs / acc.grpc.calls).toFixed(2)} ms/call`);
  const inprocRate = flow ? acc.inproc.calls / (acc.inproc.ms / 1000) : NaN;
  if (flow) log(`  VerifyOtp in-process (SignInFlow.verifyOtp): ${inprocRate.toFixed(0)} calls/s; latency ${latencyText(acc.inproc.lat)}`);
  else log('  VerifyOtp in-process: skipped (could not reach the service\'s SignInFlow)');

  // --- Breakdown (one more round, in-process, one call at a time, instrumented): where a VerifyOtp goes.
  if (flow) {
    await prepare();
    h.clock.advance(30_000);
    const calls = accounts.map((a) => ({ signInId: a.signInId, code: h.totp(a.device) }));
    for (const l of await breakdown(flow, store, calls)) log(l);
  }

  // --- Baseline: the raw compare-and-set UPDATE of the same credential rows, on the same store,
  // through the store's own lock (exec), CONCURRENCY in flight, each one committed on its own.
  await h.drainAudit();
  const rows = await store.exec(undefined, (db) =>
    accounts.map((a) => {
      const r = db.prepare('SELECT status, last_accepted_step AS step, counter, doc FROM otp_credentials WHERE credential_id = ?').get(a.credentialId) as
        | { status: string; step: number; counter: number; doc: string }
        | undefined;
      if (!r) throw new Error(`credential ${a.credentialId} is missing`);
      return { id: a.credentialId, status: r.status, step: r.step, counter: r.counter, doc: JSON.parse(r.doc) as Record<string, unknown> };
    }),
  );
  const cas = store.db.prepare(
    'UPDATE otp_credentials SET status = ?, last_accepted_step = ?, counter = ?, doc = ? WHERE credential_id = ? AND status = ? AND last_accepted_step = ? AND counter = ?',
  );
  let lost = 0;
  const timedPool = async (ms: number, fn: (i: number) => Promise<boolean>) => {
    const r = await closedLoop(ms / 1000, CONCURRENCY, async (i) => {
      if (!(await fn(i))) lost++;
    });
    return r.calls / (r.ms / 1000);
  };
  const baseline = await timedPool(target, (i) => {
    const r = rows[i % rows.length] as (typeof rows)[number];
    const step = r.step;
    r.step += 1;
    r.doc['lastAcceptedStep'] = r.step;
    const doc = JSON.stringify(r.doc);
    return store.exec(undefined, () => cas.run(r.status, r.step, r.counter, doc, r.id, r.status, step, r.counter).changes === 1);
  });
  // For information: the repository's compareAndSet (SELECT + JSON + UPDATE, statements prepared per call).
  const credentials = identityStores(opened).credentials;
  const repoRate = await timedPool(Math.min(target, 2000), async (i) => {
    const r = rows[i % rows.length] as (typeof rows)[number];
    const step = r.step;
    r.step += 1;
    return store.run((tx) => credentials.compareAndSet(tx, { credentialId: r.id, status: 'active', lastAcceptedStep: step, counter: r.counter }, { lastAcceptedStep: r.step }));
  });
  if (lost > 0) throw new Error(`the baseline lost ${lost} compare-and-sets: the rows changed under it`);
  log(`  baseline raw CAS UPDATE (store.exec, own commit, concurrency ${CONCURRENCY}): ${baseline.toFixed(0)} writes/s; repository compareAndSet: ${repoRate.toFixed(0)} writes/s`);

  const lines = [goalLine('identity-verify-otp-grpc', grpcRate / baseline, GOAL)];
  lines.push(benchLine({ name: 'identity-verify-otp-grpc', value: grpcRate, unit: 'VerifyOtp/s', baseline, baselineUnit: 'raw CAS UPDATEs/s' }));
  if (flow) lines.push(benchLine({ name: 'identity-verify-otp-in-process', value: inprocRate, unit: 'VerifyOtp/s', baseline, baselineUnit: 'raw CAS UPDATEs/s' }));
  return { benchLines: lines, tokens, officerToken: officer.token };
}

/**
 * Runs the calls one at a time with the flow's ports wrapped in timing proxies and the store's
 * exec/run/prepare counted, and returns the per-call breakdown as text lines.
 */
async function breakdown(flow: SignInFlow, store: SqliteStore, calls: Array<{ signInId: string; code: string }>): Promise<string[]> {
  const deps = (flow as unknown as { d: IdentityDeps }).d;
  const sessions = (flow as unknown as { sessions: SessionService }).sessions;
  let inIssue = false;
  const ports = ['credentials', 'signIns', 'accounts', 'sessions', 'throttle', 'allowlist', 'audit', 'keys', 'seedCipher'] as const;
  const portName: Record<(typeof ports)[number], string> = {
    credentials: 'credentials',
    signIns: 'signIns',
    accounts: 'accounts',
    sessions: 'sessionRecords',
    throttle: 'throttle',
    allowlist: 'allowlist(gRPC)',
    audit: 'audit(outbox)',
    keys: 'signingKeys',
    seedCipher: 'seedCipher',
  };
  const timers = timePorts(deps as unknown as Record<(typeof ports)[number], object>, ports, {
    label: (p) => portName[p],
    keyOf: (name) => (inIssue && name !== 'session.issue' ? `  ${name} (in issue)` : name),
  });
  const stats = timers.stats;
  const issue = sessions.issueIn.bind(sessions);
  sessions.issueIn = async (...args) => {
    inIssue = true;
    const s = performance.now();
    try {
      return await issue(...args);
    } finally {
      inIssue = false;
      timers.add('session.issue', performance.now() - s);
    }
  };
  // Store: round trips, commits, statements prepared. The relay's own work (shipping the events
  // these calls wrote) is counted apart: it runs concurrently and shares the store's lock.
  const probe = probeStore(store, (kind) => (kind === 'run' ? 'transaction' : (new Error().stack ?? '').includes('outbox-sqlite-repository') ? 'relay' : 'own'));
  const prepares = { count: 0, ms: 0 };
  const db = store.db;
  const prepare = db.prepare.bind(db);
  (db as unknown as { prepare: typeof db.prepare }).prepare = ((source: string) => {
    const p0 = performance.now();
    const stmt = prepare(source);
    prepares.count++;
    prepares.ms += performance.now() - p0;
    return stmt;
  }) as typeof db.prepare;

  let wall = 0;
  try {
    for (const c of calls) {
      const s0 = performance.now();
      await flow.verifyOtp(c.signInId, c.code, { ip: CLIENT_IP, requestId: randomUUID() });
      wall += performance.now() - s0;
    }
  } finally {
    timers.restore();
    delete (sessions as unknown as Record<string, unknown>)['issue'];
    probe.detach();
    delete (db as unknown as Record<string, unknown>)['prepare'];
  }
  const none: StoreCounts = { calls: 0, commits: 0, heldMs: 0, waitedMs: 0 };
  const own = probe.byClass.get('own') ?? none;
  const relay = probe.byClass.get('relay') ?? none;
  const transactions = probe.byClass.get('transaction') ?? none;
  const n = calls.length;
  const per = (x: number) => (x / n).toFixed(3);
  const out = [`  breakdown of one VerifyOtp (in-process, one at a time, mean of ${n}; ms per VerifyOtp, calls per VerifyOtp):`];
  out.push(`    total                              ${per(wall)} ms`);
  let topLevel = 0;
  const rows = [...stats.entries()];
  for (const [name, st] of rows.filter(([k]) => !k.startsWith(' '))) {
    topLevel += st.ms;
    out.push(`    ${name.padEnd(34)} ${per(st.ms)} ms  x${(st.calls / n).toFixed(1)}`);
    if (name !== 'session.issue') continue;
    for (const [inner, is] of rows.filter(([k]) => k.startsWith(' '))) out.push(`    ${inner.padEnd(34)} ${per(is.ms)} ms  x${(is.calls / n).toFixed(1)}`);
  }
  out.push(`    ${'rest (TOTP check, flow, event loop)'.padEnd(34)} ${per(wall - topLevel)} ms`);
  out.push(
    `  store per VerifyOtp: ${per(own.calls - own.commits)} reads + ${per(own.commits)} single-statement commits + ${per(transactions.calls)} transactions ` +
      `(each commit is an fsync: synchronous=FULL), ${per(own.heldMs + relay.heldMs)} ms holding the store lock; ` +
      `${per(prepares.count)} statements prepared (${per(prepares.ms)} ms); relay: ${per(relay.calls)} store calls, ${per(relay.commits)} commits`,
  );
  return out;
}
