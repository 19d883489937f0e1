import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidSessionError } from './errors.js';
import { RevocationSet, type Revocation, type RevocationFeed } from './revocations.js';
import { ServiceSessionVerifier } from './service-verifier.js';
import type { SessionClaims } from './claims.js';

const T = Date.UTC(2026, 11, 7, 9, 0, 0);
const at = (s: number) => new Date(T + s * 1000);
const rev = (r: Partial<Revocation> & Pick<Revocation, 'kind' | 'accountId'>): Revocation => ({ sequence: 1, revokedAt: at(0), forgetAfter: at(3600), ...r });
const claims = (over: Partial<SessionClaims> = {}) => ({ sessionId: 'ses-1', accountId: 'acc-1', authTime: at(-60), ...over });

test('RevocationSet: a session by id; an account covers sign-ins up to the revocation, not after (unlock, new approval)', () => {
  const set = new RevocationSet();
  assert.equal(set.covers(claims()), false);
  set.apply(rev({ kind: 'session', accountId: 'acc-1', sessionId: 'ses-1' }));
  assert.equal(set.covers(claims()), true);
  assert.equal(set.covers(claims({ sessionId: 'ses-2' })), false, 'another session of the account is untouched');
  set.apply(rev({ kind: 'account_locked', accountId: 'acc-2', revokedAt: at(10) }));
  assert.equal(set.covers(claims({ sessionId: 'ses-9', accountId: 'acc-2', authTime: at(10) })), true, 'signed in at the lock instant');
  assert.equal(set.covers(claims({ sessionId: 'ses-9', accountId: 'acc-2', authTime: at(11) })), false, 'signed in after the unlock');
  // An older account revocation replayed after a newer one does not shrink it.
  set.apply(rev({ kind: 'account_sessions', accountId: 'acc-2', revokedAt: at(5) }));
  assert.equal(set.covers(claims({ sessionId: 'ses-9', accountId: 'acc-2', authTime: at(8) })), true);
  set.prune(at(3600));
  assert.equal(set.size, 0, 'forgotten once no covered token can be valid');
});

function verifier(opts: { revoked?: boolean; current?: boolean; remote?: 'ok' | 'revoked' | 'down' }) {
  const calls: string[] = [];
  const feed = {
    covers: () => opts.revoked === true,
    isCurrent: () => opts.current !== false,
    close: () => undefined,
  } as unknown as RevocationFeed;
  const remote = {
    check: async () => {
      calls.push('remote');
      if (opts.remote === 'revoked') throw new InvalidSessionError('revoked', 'session has been revoked; sign in again');
      if (opts.remote === 'down') throw new Error('identity down');
    },
  };
  const local = { verify: async () => ({ ...claims(), pinnedIp: '127.0.0.1' }) as SessionClaims };
  return { v: new ServiceSessionVerifier(local, feed, remote), calls };
}

test('ServiceSessionVerifier: the feed refuses a revoked session; critical actions and a stale feed ask identity; fail closed', async () => {
  await assert.rejects(verifier({ revoked: true }).v.verify('t', { presentedIp: '127.0.0.1' }), /revoked/);
  const fresh = verifier({});
  await fresh.v.verify('t', {});
  assert.deepEqual(fresh.calls, [], 'a current feed answers alone on the hot path');
  await fresh.v.verify('t', { critical: true });
  assert.deepEqual(fresh.calls, ['remote'], 'a critical action asks identity');
  const stale = verifier({ current: false, remote: 'revoked' });
  await assert.rejects(stale.v.verify('t', {}), /revoked/, 'a stale feed defers to identity');
  await assert.rejects(verifier({ current: false, remote: 'down' }).v.verify('t', {}), /identity down/, 'and fails closed when identity cannot answer');
});
