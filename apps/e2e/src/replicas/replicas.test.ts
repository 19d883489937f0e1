import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type {
  identityV1} from '@gatehouse/contracts';
import {
  AllowlistServiceClient,
  AuditServiceClient,
  IdentityServiceClient,
  ImpersonationServiceClient,
  allowlistV1,
  auditEventV1,
  commonV1,
  impersonationV1,
  SecretsServiceClient,
  secretsV1,
} from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { findMongo, percentile, skipReason } from '@gatehouse/testing';
import { devSignIn, hotp } from '../dev-sign-in.js';
import { STACK, type StackService } from '../stack.js';
import { startReplicaStack, type ReplicaStack } from './replica-stack.js';

const P = impersonationV1;

/** An event as identity would ship it (an event's service must be its caller's: these go with identity's certificate). */
function identityEvent(eventId = `evt-replicas-${randomUUID()}`): auditEventV1.AuditEvent {
  return auditEventV1.AuditEvent.fromPartial({
    eventId,
    occurredAt: new Date(),
    service: auditEventV1.Service.SERVICE_IDENTITY,
    action: auditEventV1.Action.ACTION_IDENTITY_OTP_VERIFY,
    outcome: auditEventV1.Outcome.OUTCOME_SUCCESS,
    actor: { kind: auditEventV1.ActorKind.ACTOR_KIND_EMPLOYEE, id: 'acc-load', displayName: 'load@corp.example' },
    subject: { kind: auditEventV1.SubjectKind.SUBJECT_KIND_ACCOUNT, id: 'acc-load', displayName: '' },
    sourceIp: '203.0.113.7',
  });
}
const WHY = 'customer reported missing contacts after the import (case 4711)';

/**
 * Issue 15 item 6: two replicas of every service, each its own process of the built bundle, on
 * one MongoDB (jongodb here; MONGO_URL or testcontainers where they exist), reached by clients
 * through ONE target per service that balances over both replicas (round robin) and retries
 * UNAVAILABLE for the idempotent methods only (dialBalanced).
 */
describe('two replicas of every service on one MongoDB, behind balanced targets', () => {
  let stack: ReplicaStack | undefined;
  let skipped: string | undefined;

  before(async () => {
    const mongo = await findMongo();
    if ('skipped' in mongo) {
      skipped = mongo.skipped;
      return;
    }
    stack = await startReplicaStack(mongo.url);
  });
  after(async () => {
    await stack?.stop();
  });
  /**
   * The stack, or undefined with the test skipped when no MongoDB is reachable (findMongo's
   * reason). A stack missing without a reason is a failed setup, and skipReason throws.
   */
  const live = (t: { skip(msg?: string): void }): ReplicaStack | undefined => {
    if (!stack) {
      t.skip(skipReason(skipped));
      return undefined;
    }
    return stack;
  };
  let bootstrapped: Promise<{ people: ReturnType<typeof devSignIn>; officer: Awaited<ReturnType<ReturnType<typeof devSignIn>['bootstrapOfficer']>> }> | undefined;
  /**
   * The officer, bootstrapped and signed in for real on the identity replicas (once per suite):
   * a session identity itself issued, for the cases that need one identity knows.
   */
  const realOfficer = (s: ReplicaStack) =>
    (bootstrapped ??= (async () => {
      const identity = await s.balanced(IdentityServiceClient, 'identity', 'cli');
      const people = devSignIn({ identity: () => identity, dataDir: path.join(s.dir, 'data', 'identity'), output: () => s.logs.identity.join('') });
      return { people, officer: await people.bootstrapOfficer('olga@bank.example', '+4915100000001') };
    })());
  const support = (s: ReplicaStack, accountId: string) => s.sessions.token({ roles: ['support'], accountId, email: `${accountId}@corp.example`, ip: '127.0.0.1' });
  const officer = (s: ReplicaStack) => s.sessions.token({ roles: ['security_officer'], accountId: 'acc-officer', email: 'officer@corp.example', ip: '127.0.0.1' });
  const startImp = (s: ReplicaStack, c: ImpersonationServiceClient, bearer: string, customerDomain: string, targetUserId: string): Promise<impersonationV1.StartImpersonationResponse> =>
    call(
      c,
      c.startImpersonation,
      P.StartImpersonationRequest.fromPartial({ targetUserId, customerDomain, reason: P.ImpersonationReason.IMPERSONATION_REASON_CUSTOMER_SUPPORT_CASE, justification: WHY, ticketRef: 'SUP-5120' }),
      { bearer, deadlineMs: 30_000 },
    );

  test('every replica is SERVING', async (t) => {
    const s = live(t);
    if (!s) return;
    for (const name of STACK) for (const i of [0, 1] as const) assert.equal(await s.health(name, i), 'SERVING', `${name}#${i}`);
  });

  test('an allowlist change made on replica A is seen by Check on replica B within 1 s (p50 and max over 10 changes)', async (t) => {
    const s = live(t);
    if (!s) return;
    const a = await s.direct(AllowlistServiceClient, 'allowlist', 0, 'cli');
    const b = await s.direct(AllowlistServiceClient, 'allowlist', 1);
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const ip = `198.51.100.${10 + i}`;
      const check = async () => (await call(b, b.check, allowlistV1.CheckRequest.fromPartial({ ip, environment: commonV1.Environment.ENVIRONMENT_LIVE }))).decision;
      assert.equal(await check(), allowlistV1.CheckDecision.CHECK_DECISION_DENY, `${ip} is denied before the change`);
      await call(
        a,
        a.addEntry,
        allowlistV1.AddEntryRequest.fromPartial({ cidr: `${ip}/32`, scope: allowlistV1.EntryScope.ENTRY_SCOPE_LIVE, label: `replica convergence ${i}`, reason: 'replica convergence test', expiresAt: new Date(Date.now() + 3600_000) }),
        { bearer: officer(s) },
      );
      const added = Date.now();
      while ((await check()) !== allowlistV1.CheckDecision.CHECK_DECISION_ALLOW) {
        if (Date.now() - added > 5_000) break;
        await sleep(10);
      }
      delays.push(Date.now() - added);
    }
    const sorted = [...delays].sort((x, y) => x - y);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const max = sorted[sorted.length - 1] ?? 0;
    t.diagnostic(`allowlist convergence A -> B over ${delays.length} changes: p50 ${p50} ms, max ${max} ms`);
    console.log(`replicas: allowlist convergence p50 ${p50} ms, max ${max} ms (${delays.join(', ')})`);
    assert.ok(max <= 1000, `a change was seen on replica B only after ${max} ms (${delays.join(', ')})`);
  });

  test('10 parallel StartImpersonation at the burst threshold over both replicas: no slip-through', async (t) => {
    const s = live(t);
    if (!s) return;
    const imp = await s.balanced(ImpersonationServiceClient, 'impersonation', 'cli');
    const a = await s.direct(ImpersonationServiceClient, 'impersonation', 0, 'cli');
    const b = await s.direct(ImpersonationServiceClient, 'impersonation', 1, 'cli');
    for (const already of [2, 0]) {
      const me = `acc-burst${already}-${randomBytes(3).toString('hex')}`;
      const domain = `parallel-${randomBytes(3).toString('hex')}.example`;
      for (let i = 0; i < already; i++) await startImp(s, imp, support(s, me), domain, `old-${i}`);
      const results: Array<PromiseSettledResult<impersonationV1.StartImpersonationResponse>> = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => startImp(s, i % 2 ? b : a, support(s, me), domain, `new-${i}`)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as grpc.ServiceError] : []));
      console.log(`replicas: burst with ${already} earlier grants: ${ok.length} of 10 parallel starts passed, ${failed.length} refused`);
      assert.equal(ok.length, 3 - already, `with ${already} earlier grants, ${3 - already} may start (refusals: ${failed.map((f) => f.details).join(' | ')})`);
      for (const f of failed) {
        assert.equal(f.code, grpc.status.FAILED_PRECONDITION, f.details);
        assert.match(f.details, /impersonation\.burst/);
      }
      const list: impersonationV1.ListActiveResponse = await call(imp, imp.listActive, { customerDomain: domain, pageSize: 0, pageToken: '' }, { bearer: officer(s) });
      assert.equal(list.grants.length, 3, 'exactly three grants exist in the domain');
    }
  });

  test('20 parallel VerifyOtp with one code over both identity replicas: exactly 1 session, the other 19 refused', async (t) => {
    const s = live(t);
    if (!s) return;
    // A real sign-in on the real identity replicas (dev Google issuer, the SMS dev sink, HOTP),
    // each step through the balanced target, so the steps themselves cross replicas.
    const { people, officer } = await realOfficer(s);
    assert.ok(officer.token, 'the bootstrapped officer is signed in');
    const signInId = await people.pastSms('olga@bank.example');
    const code = hotp(officer.device.secret, officer.device.counter++);
    const replicas = [await s.direct(IdentityServiceClient, 'identity', 0, 'cli'), await s.direct(IdentityServiceClient, 'identity', 1, 'cli')];
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => call(replicas[i % 2]!, replicas[i % 2]!.verifyOtp, { signInId, code }, { deadlineMs: 30_000 })));
    const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ replica: i % 2, token: r.value.session?.token ?? '' }] : []));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as grpc.ServiceError] : []));
    console.log(`replicas: 20 parallel VerifyOtp with one code over both identity replicas: ${ok.length} session(s) (from replica ${ok.map((o) => o.replica).join(', ')}), ${failed.length} refused (${[...new Set(failed.map((f) => grpc.status[f.code]))].join(', ')})`);
    assert.equal(ok.length, 1, `exactly one session (refusals: ${[...new Set(failed.map((f) => `${f.code} ${f.details}`))].join(' | ')})`);
    // A loser hears that the code was used, or (after the failures it caused) the throttle's wait.
    for (const f of failed) assert.ok([grpc.status.UNAUTHENTICATED, grpc.status.RESOURCE_EXHAUSTED].includes(f.code), `${f.code} ${f.details}`);
    // The one session is real on both replicas; the code is spent on both.
    for (const i of [0, 1] as const) {
      const c: IdentityServiceClient = await s.direct(IdentityServiceClient, 'identity', i);
      const v: identityV1.VerifySessionResponse = await call(c, c.verifySession, { sessionToken: ok[0]!.token, clientIp: '127.0.0.1' });
      assert.equal(v.valid, true);
    }
    await sleep(1_500); // past the throttle's wait
    const again = await call(replicas[0]!, replicas[0]!.verifyOtp, { signInId: await people.pastSms('olga@bank.example'), code }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    console.log(`replicas: the spent code on a new sign-in: ${again ? `${grpc.status[again.code]} ${again.details}` : 'OK'}`);
    assert.equal(again?.code, grpc.status.UNAUTHENTICATED, 'the spent code does not sign in again');
  });

  test('100 parallel RedeemRelease of one release over both secrets replicas: exactly 1 bundle, 99 refused as already redeemed', async (t) => {
    const s = live(t);
    if (!s) return;
    const S = secretsV1;
    const manager = s.sessions.token({ roles: ['manager'], accountId: 'acc-manager', email: 'manager@corp.example', ip: '127.0.0.1' });
    const cli = await s.balanced(SecretsServiceClient, 'secrets', 'cli');
    const app = `replicas-${randomBytes(3).toString('hex')}`;
    for (const [name, value] of [['DB_PASSWORD', 'pa55-value'], ['API_KEY', 'api-value']] as const) {
      await call(cli, cli.putSecret, S.PutSecretRequest.fromPartial({ environment: commonV1.Environment.ENVIRONMENT_LIVE, app, name, value: Buffer.from(value) }), { bearer: manager });
    }
    const created = await call(cli, cli.createRelease, S.CreateReleaseRequest.fromPartial({ environment: commonV1.Environment.ENVIRONMENT_LIVE, app, deploymentRef: 'commit-4f2a9c1' }), { bearer: manager });
    const releaseId = created.release?.releaseId ?? '';
    assert.equal(created.release?.state, S.ReleaseState.RELEASE_STATE_READY);
    // Half the calls go to each replica directly, so both really race.
    const replicas = [await s.direct(SecretsServiceClient, 'secrets', 0), await s.direct(SecretsServiceClient, 'secrets', 1)];
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => call(replicas[i % 2]!, replicas[i % 2]!.redeemRelease, { releaseToken: created.releaseToken }, { deadlineMs: 30_000 })),
    );
    const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ replica: i % 2, bundle: r.value }] : []));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as grpc.ServiceError] : []));
    console.log(`replicas: 100 parallel RedeemRelease over both secrets replicas: ${ok.length} bundle(s) (from replica ${ok.map((o) => o.replica).join(', ')}), ${failed.length} refused`);
    assert.equal(ok.length, 1, `exactly one bundle (refusals: ${[...new Set(failed.map((f) => `${f.code} ${f.details}`))].join(' | ')})`);
    for (const f of failed) {
      assert.equal(f.code, grpc.status.FAILED_PRECONDITION, f.details);
      assert.match(f.details, new RegExp(`release ${releaseId} was already redeemed`));
    }
    assert.deepEqual(
      ok[0]!.bundle.secrets.map((x) => [x.name, Buffer.from(x.value).toString()]),
      [
        ['API_KEY', 'api-value'],
        ['DB_PASSWORD', 'pa55-value'],
      ],
    );
    const officerToken = officer(s);
    for (const i of [0, 1] as const) {
      const c: SecretsServiceClient = await s.direct(SecretsServiceClient, 'secrets', i, 'cli');
      const r: secretsV1.GetReleaseResponse = await call(c, c.getRelease, { releaseId }, { bearer: officerToken });
      assert.equal(r.release?.state, S.ReleaseState.RELEASE_STATE_REDEEMED, 'both replicas see it redeemed');
    }
  });

  test('40 parallel Appends on the two audit replicas: every one stored, distinct sequences; one event sent to both at once is stored once', async (t) => {
    const s = live(t);
    if (!s) return;
    const replicas = [await s.direct(AuditServiceClient, 'audit', 0, 'identity'), await s.direct(AuditServiceClient, 'audit', 1, 'identity')];
    // Both replicas warm (connections open, frontier cached), then all 40 at once.
    for (const c of replicas) await call(c, c.append, { events: [identityEvent()] });
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => call(replicas[i % 2]!, replicas[i % 2]!.append, { events: [identityEvent()] }, { deadlineMs: 30_000 })));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [`${(r.reason as grpc.ServiceError).code} ${(r.reason as Error).message}`] : []));
    console.log(`replicas: 40 parallel Appends over both audit replicas: ${40 - failed.length} stored, ${failed.length} failed`);
    assert.deepEqual(failed, [], 'an Append failed because the other replica appended at the same time');
    const sequences = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.results.map((x) => Number(x.sequence)) : []));
    assert.equal(new Set(sequences).size, 40, `sequences handed out twice: ${sequences.join(',')}`);
    const same = identityEvent();
    const both = await Promise.all(replicas.map((c) => call(c, c.append, { events: [same] }, { deadlineMs: 30_000 })));
    const stored = both.map((r) => r.results[0]!);
    assert.equal(stored[0]!.sequence, stored[1]!.sequence, 'the same event got two sequences');
    assert.equal(stored.filter((r) => r.duplicate).length, 1, 'exactly one of the two was the duplicate');
    for (const i of [0, 1] as const) assert.equal(await s.health('audit', i), 'SERVING', `audit#${i}`);
  });

  /**
   * Restarts each replica of `restarted` in turn by SIGTERM (the next only once the restarted one
   * is SERVING and the clients had time to reconnect) while two callers per method of `methods`
   * call through the balanced targets; every call must succeed.
   */
  const rollingRestart = async (s: ReplicaStack, restarted: StackService[], methods: string[], diagnostic: (m: string) => void) => {
    const identity = await s.balanced(IdentityServiceClient, 'identity');
    const allowlist = await s.balanced(AllowlistServiceClient, 'allowlist');
    const imp = await s.balanced(ImpersonationServiceClient, 'impersonation');
    const impCli = await s.balanced(ImpersonationServiceClient, 'impersonation', 'cli');
    // Append as the identity service (an event's service must be its caller's).
    const audit = await s.balanced(AuditServiceClient, 'audit', 'identity');
    const grant = await startImp(s, impCli, support(s, `acc-load-${randomBytes(3).toString('hex')}`), `load-${randomBytes(3).toString('hex')}.example`, 'user-1');
    const impToken = grant.impersonationToken;
    assert.ok(impToken);
    // A session identity issued (a real sign-in), so VerifySession must answer valid on every replica.
    const session = (await realOfficer(s)).officer.token;

    const calls: Record<string, () => Promise<unknown>> = {
      VerifySession: () =>
        call(identity, identity.verifySession, { sessionToken: session, clientIp: '127.0.0.1' }, { deadlineMs: 20_000 }).then((r) => assert.equal(r.valid, true, `VerifySession: ${r.reason}`)),
      Check: () =>
        call(allowlist, allowlist.check, allowlistV1.CheckRequest.fromPartial({ ip: '127.0.0.1', environment: commonV1.Environment.ENVIRONMENT_LIVE }), { deadlineMs: 20_000 }).then((r) =>
          assert.equal(r.decision, allowlistV1.CheckDecision.CHECK_DECISION_ALLOW),
        ),
      VerifyImpersonationToken: () =>
        call(imp, imp.verifyImpersonationToken, P.VerifyImpersonationTokenRequest.fromPartial({ impersonationToken: impToken }), { deadlineMs: 20_000 }).then((r) => assert.equal(r.valid, true)),
      RecordAccess: () =>
        call(
          imp,
          imp.recordAccess,
          P.RecordAccessRequest.fromPartial({
            impersonationToken: impToken,
            reportId: randomUUID(),
            records: [{ resourceType: 'contact', operation: P.AccessOperation.ACCESS_OPERATION_READ, count: 1, recordIds: [] }],
            accessedAt: new Date(),
          }),
          { deadlineMs: 20_000 },
        ),
      Append: () =>
        call(
          audit,
          audit.append,
          { events: [identityEvent()] },
          { deadlineMs: 20_000 },
        ),
    };
    const names = Object.keys(calls).filter((n) => methods.includes(n));
    const made: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    const failures: string[] = [];
    const took: Record<string, number[]> = {};
    let running = true;
    // Bounded: 2 callers per method, each one call at a time, 20 ms apart.
    const worker = async (name: string) => {
      while (running) {
        made[name] = (made[name] ?? 0) + 1;
        const started = Date.now();
        try {
          await calls[name]!();
          (took[name] ??= []).push(Date.now() - started);
        } catch (err) {
          failures.push(`${name}: ${(err as grpc.ServiceError).code ?? ''} ${(err as Error).message}`);
        }
        await sleep(20);
      }
    };
    // Every method works before the restarts begin.
    for (const n of names) await calls[n]!();
    const workers = names.flatMap((n) => [worker(n), worker(n)]);
    const restarts: string[] = [];
    try {
      for (const name of restarted) {
        for (const i of [0, 1] as const) {
          const r = await s.restart(name, i);
          restarts.push(`${name}#${i} exit ${r.exit} back SERVING in ${r.downMs} ms`);
          // Let every balanced client reconnect to it (their reconnect backoff is at most 1 s).
          await sleep(2000);
        }
      }
    } finally {
      running = false;
      await Promise.all(workers);
    }
    const total = Object.values(made).reduce((x, y) => x + y, 0);
    console.log(`replicas: restarts: ${restarts.join('; ')}`);
    console.log(`replicas: latency during the restarts (ms, p50/p99/max): ${names.map((n) => `${n} ${percentile(took[n] ?? [], 0.5)}/${percentile(took[n] ?? [], 0.99)}/${Math.max(0, ...(took[n] ?? []))}`).join(', ')}`);
    console.log(`replicas: rolling restarts of ${restarted.join(", ")}: calls made ${total} (${names.map((n) => `${n} ${made[n]}`).join(', ')}), calls failed ${failures.length}`);
    diagnostic(`calls made ${total}, calls failed ${failures.length}`);
    if (failures.length > 0) for (const n of STACK) console.log(`replicas: ${n} logs:\n${s.logs[n].join('').slice(-4000)}`);
    assert.deepEqual(failures, [], `idempotent calls failed during the rolling restarts`);
    for (const r of restarts) assert.match(r, /exit 0 /, 'every replica drained and exited 0 on SIGTERM');
  };

  test('rolling SIGTERM restart of every replica of every service under a bounded mixed load (all five methods): zero failed idempotent calls', async (t) => {
    const s = live(t);
    if (!s) return;
    await rollingRestart(s, ['audit', 'allowlist', 'identity', 'secrets', 'impersonation'], ['VerifySession', 'Check', 'VerifyImpersonationToken', 'RecordAccess', 'Append'], (m) => t.diagnostic(m));
  });

  test('rolling SIGTERM restart of the identity, allowlist, secrets and impersonation replicas under VerifySession, Check, VerifyImpersonationToken and RecordAccess: zero failed calls (every server)', async (t) => {
    const s = live(t);
    if (!s) return;
    await rollingRestart(s, ['allowlist', 'identity', 'secrets', 'impersonation'], ['VerifySession', 'Check', 'VerifyImpersonationToken', 'RecordAccess'], (m) => t.diagnostic(m));
  });
});
