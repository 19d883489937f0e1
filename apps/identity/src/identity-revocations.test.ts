import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { commonV1, identityV1, type IdentityServiceClient } from '@gatehouse/contracts';
import { call, stream } from '@gatehouse/service-kit';
import { STORAGE_BACKENDS, backendEnv, refused } from '@gatehouse/testing';
import { startIdentity } from './test-support/harness.js';

const K = identityV1.RevocationKind;

/** Reads a WatchRevocations stream into an array; `until` resolves once a predicate holds. */
function watch(c: IdentityServiceClient, afterSequence: number) {
  const got: identityV1.Revocation[] = [];
  let caughtUp = false;
  let heartbeats = 0;
  const waiters: Array<() => void> = [];
  const s = stream(c, c.watchRevocations, { afterSequence });
  s.on('data', (m: identityV1.WatchRevocationsResponse) => {
    got.push(...m.revocations);
    if (m.caughtUp && m.revocations.length === 0) heartbeats++;
    caughtUp ||= m.caughtUp;
    for (const w of waiters.splice(0)) w();
  });
  s.on('error', () => undefined);
  const until = async (ok: () => boolean, ms = 3000) => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error('the stream did not deliver in time');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { got, until, caughtUp: () => caughtUp, heartbeats: () => heartbeats, close: () => s.cancel() };
}

/**
 * WatchRevocations from outside (issue 13 item 1): a backend's stream replays what it missed,
 * pushes logouts, account revocations and lockouts live, resumes after a sequence without
 * replaying what the client already had, sends heartbeats, and is not for operators.
 */
for (const backend of STORAGE_BACKENDS) {
  describe(`identity WatchRevocations (${backend})`, () => {
    test('replay, live push, resume from a sequence, heartbeats; operators are refused', async (t) => {
      const env = await backendEnv('identity', backend, (why) => t.skip(why));
      if (!env) return;
      const h = await startIdentity({ ...env, GATEHOUSE_LOCK_AFTER: '3' });
      try {
        const web = await h.client('web');
        const cli = await h.client('cli');
        const officer = await h.bootstrapOfficer('olga@bank.example');
        const second = await h.signIn('olga@bank.example', officer.device);

        const a = watch(web, 0);
        await a.until(() => a.caughtUp());
        assert.equal(a.got.length, 0, 'nothing revoked yet');
        await call(cli, cli.revokeSession, { sessionId: second.session.sessionId, reason: 'logout' }, { bearer: second.token });
        await a.until(() => a.got.length === 1);
        const first = a.got[0];
        assert.equal(first?.kind, K.REVOCATION_KIND_SESSION);
        assert.equal(first?.sessionId, second.session.sessionId);
        assert.equal(first?.accountId, officer.accountId);
        assert.ok((first?.forgetAfter?.getTime() ?? 0) > Date.now(), 'kept while the session could live');
        await a.until(() => a.heartbeats() >= 2, 3500);
        a.close();

        // While no one listens: an employee's lockout (3 wrong SMS codes).
        const bobId = await h.approve(officer, 'bob@bank.example', [commonV1.Role.ROLE_DEVELOPER]);
        await h.firstSignIn('bob@bank.example');
        const begun = await call(cli, cli.beginSignIn, { googleIdToken: h.idToken('bob@bank.example') });
        const signInId = begun.state?.signInId ?? '';
        await call(cli, cli.sendSmsCode, { signInId });
        const real = h.sms[h.sms.length - 1]?.code ?? '';
        for (let i = 0; i < 3; i++) await call(cli, cli.verifySmsCode, { signInId, code: real === '000000' ? '111111' : '000000' }).catch(() => undefined);

        const b = watch(web, first?.sequence ?? 0);
        await b.until(() => b.caughtUp() && b.got.some((r) => r.kind === K.REVOCATION_KIND_ACCOUNT_LOCKED));
        assert.ok(!b.got.some((r) => r.sequence <= (first?.sequence ?? 0)), 'resuming after a sequence replays nothing older');
        const lock = b.got.find((r) => r.kind === K.REVOCATION_KIND_ACCOUNT_LOCKED);
        assert.equal(lock?.accountId, bobId);
        assert.equal(lock?.sessionId, '');
        b.close();

        const err = await refused(new Promise((resolve, reject) => {
          const s = stream(cli, cli.watchRevocations, { afterSequence: 0 });
          s.on('data', resolve);
          s.on('error', reject);
        }));
        assert.equal(err.code, grpc.status.PERMISSION_DENIED, 'an operator certificate may not watch revocations');
      } finally {
        await h.stop();
      }
    });
  });
}
