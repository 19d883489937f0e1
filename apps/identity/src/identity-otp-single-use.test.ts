import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { auditEventV1, commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call } from '@gatehouse/service-kit';
import { STORAGE_BACKENDS, backendEnv, skipReason } from '@gatehouse/testing';
import { startIdentity, type IdentityHarness, type SignedIn } from './test-support/harness.js';

const Act = auditEventV1.Action;
const O = auditEventV1.Outcome;
const S = grpc.status;

/**
 * Issue 14 item 4 from outside: VerifyOtp is one unit of work now (throttle, code, sign-in,
 * session, account, events). One TOTP code presented on 100 sign-ins at once, over 10
 * connections, must still issue exactly one session, on SQLite and on MongoDB.
 */
for (const backend of STORAGE_BACKENDS) {
  describe(`identity VerifyOtp single use under 100 parallel calls (${backend})`, () => {
    let h: IdentityHarness | undefined;
    let officer: SignedIn;

    let skipped: string | undefined;

    before(async () => {
      const env = await backendEnv('identity', backend, (why) => (skipped = why));
      if (!env) return;
      // The throttle must not be what refuses the replays: 100 attempts stay under the lock. One
      // account's units run one at a time (jongodb: in turn), so the last of 100 waits longer
      // than the default 15 s cap on a loaded test machine.
      h = await startIdentity({ ...env, GATEHOUSE_DEADLINE_CAP_MS: '60000', GATEHOUSE_LOCK_AFTER: '100', GATEHOUSE_FREE_FAILURES: '99', GATEHOUSE_THROTTLE_BASE_DELAY_MS: '1', GATEHOUSE_THROTTLE_MAX_DELAY_MS: '1' });
      officer = await h.bootstrapOfficer(`olga.single.${backend}@bank.example`);
    });
    after(async () => {
      await h?.stop();
    });

    test('one code on 100 sign-ins: exactly one session and one otp_verify success; every other call is refused as invalid', async (t) => {
      if (!h) return t.skip(skipReason(skipped));
      const email = `single.use.${backend}@bank.example`;
      const accountId = await h.approve(officer, email, [commonV1.Role.ROLE_DEVELOPER]);
      const first = await h.firstSignIn(email);
      const signIns: string[] = [];
      for (let i = 0; i < 100; i++) signIns.push(await h.pastSms(email));
      h.clock.advance(30_000); // the next step: the code of the first sign-in is not reused
      const code = h.totp(first.device);
      const clients: IdentityServiceClient[] = await Promise.all(Array.from({ length: 10 }, () => h!.client('cli')));
      await h.drainAudit();
      const issuedBefore = h.events.filter((e) => e.action === Act.ACTION_IDENTITY_SESSION_ISSUE && e.actor?.id === accountId).length;
      const results = await Promise.allSettled(signIns.map((signInId, i) => call(clients[i % 10]!, clients[i % 10]!.verifyOtp, { signInId, code }, { deadlineMs: 60_000 })));
      const ok = results.filter((r) => r.status === 'fulfilled');
      assert.equal(ok.length, 1, 'exactly one success');
      for (const r of results) {
        if (r.status === 'rejected') {
          const e = r.reason as grpc.ServiceError;
          assert.ok(e.code === S.UNAUTHENTICATED && /sign-in or the code is not valid/.test(e.details), `${S[e.code]} ${e.details}`);
        }
      }
      const active = await call(
        clients[0]!,
        clients[0]!.listSessions,
        identityV1.ListSessionsRequest.fromPartial({ accountId, statuses: [identityV1.SessionStatus.SESSION_STATUS_ACTIVE], pageSize: 500 }),
        { bearer: officer.token },
      );
      assert.equal(active.sessions.length, 2, 'the first sign-in and exactly one more session');
      await h.drainAudit();
      const of = (action: auditEventV1.Action, outcome?: auditEventV1.Outcome) =>
        h!.events.filter((e) => e.action === action && (outcome === undefined || e.outcome === outcome) && (e.subject?.id === accountId || e.actor?.id === accountId));
      assert.equal(of(Act.ACTION_IDENTITY_SESSION_ISSUE).length - issuedBefore, 1, 'one session_issue event');
      assert.equal(of(Act.ACTION_IDENTITY_OTP_VERIFY, O.OUTCOME_SUCCESS).length, 2, 'one otp_verify success besides the first sign-in');
      assert.equal(of(Act.ACTION_IDENTITY_OTP_REPLAY).length, 99, 'every other call is audited as a replay');
    });
  });
}
