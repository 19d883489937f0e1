import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { signCompactJws } from '@gatehouse/session';
import { checkImpersonationToken, signImpersonationToken, VerifiedTokenCache, type TokenKeys } from './impersonation-token.js';

const ISSUER = 'gatehouse-impersonation';
const NOW = new Date(Date.UTC(2026, 10, 27, 9, 0, 0));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const keys: TokenKeys = {
  signingKey: async () => ({ keyId: 'ik-test', privateKey }),
  key: async (kid) => (kid === 'ik-test' ? publicKey : kid === 'ik-other' ? other.publicKey : undefined),
  validity: () => undefined,
};
const claims = {
  issuer: ISSUER,
  grantId: 'gr_AAAAAAAAAAAAAAAA',
  targetUserId: 'user-42',
  customerDomain: 'acme.example',
  actor: { accountId: 'acc-sam', email: 'sam@corp.example', displayName: 'Sam' },
  reason: 'customer_support_case' as const,
  issuedAt: NOW,
  expiresAt: new Date(NOW.getTime() + 30 * 60_000),
};
const mint = () => signImpersonationToken(claims, { keyId: 'ik-test', privateKey }).token;
const check = (token: string, at = NOW, issuer = ISSUER) => checkImpersonationToken(token, keys, issuer, at, 30_000);

describe('impersonation tokens (compact JWS, EdDSA, RFC 8693 act)', () => {
  test('round trip: sub is the target, act.sub the employee, gid/dom/rsn/exp carried', async () => {
    const token = mint();
    const r = await check(token);
    assert.ok(r.ok);
    assert.equal(r.claims.targetUserId, 'user-42');
    assert.equal(r.claims.actor.accountId, 'acc-sam');
    assert.equal(r.claims.grantId, 'gr_AAAAAAAAAAAAAAAA');
    assert.equal(r.claims.customerDomain, 'acme.example');
    assert.equal(r.claims.expiresAt.getTime(), claims.expiresAt.getTime());
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(payload.act, { sub: 'acc-sam', email: 'sam@corp.example', name: 'Sam' });
    assert.equal(payload.aud, 'gatehouse-product-backends', 'never a session audience');
  });

  test('refusals: expiry, issued in the future, wrong issuer, unknown or wrong key, tampering, alg none, oversized', async () => {
    const token = mint();
    const [h, p, s] = token.split('.') as [string, string, string];
    const reason = async (t: string, at = NOW, issuer = ISSUER) => {
      const r = await check(t, at, issuer);
      return r.ok ? 'valid' : r.reason;
    };
    assert.equal(await reason(token, claims.expiresAt), 'expired');
    assert.equal(await reason(token, new Date(NOW.getTime() - 60_000)), 'not_yet_valid');
    assert.equal(await reason(token, new Date(NOW.getTime() - 10_000)), 'valid', 'within the leeway');
    assert.equal(await reason(token, NOW, 'someone-else'), 'malformed');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'user-1' })).toString('base64url')}.${s}`;
    assert.equal(await reason(tampered), 'bad_signature');
    const otherKey = signImpersonationToken(claims, { keyId: 'ik-other', privateKey }).token;
    assert.equal(await reason(otherKey), 'bad_signature', 'signed by a key other than the one its kid names');
    assert.equal(await reason(signImpersonationToken(claims, { keyId: 'ik-gone', privateKey }).token), 'unknown_key');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'ik-test' })).toString('base64url')}.${p}.`;
    assert.equal(await reason(none), 'malformed');
    assert.equal(await reason('x'.repeat(5000)), 'malformed');
    assert.equal(await reason(''), 'malformed');
    const noAct = signCompactJws({ alg: 'EdDSA', typ: 'JWT', kid: 'ik-test' }, { ...JSON.parse(Buffer.from(p, 'base64url').toString()), act: undefined }, privateKey);
    assert.equal(await reason(noAct), 'malformed', 'an act claim is required');
  });

  test('the verified-token cache skips only the signature: expiry still applies, a key no longer published sends it back through the full check', async () => {
    let published = true;
    let lookups = 0;
    const rotating: TokenKeys = {
      signingKey: keys.signingKey,
      key: async (kid) => {
        lookups += 1;
        return published && kid === 'ik-test' ? publicKey : undefined;
      },
      validity: (kid) => (published && kid === 'ik-test' ? { notBefore: new Date(0) } : undefined),
    };
    const cache = new VerifiedTokenCache(2);
    const token = mint();
    const run = (at = NOW) => checkImpersonationToken(token, rotating, ISSUER, at, 30_000, cache);
    assert.equal((await run()).ok, true);
    assert.equal((await run()).ok, true);
    assert.equal(lookups, 1, 'the second check came from the cache');
    const late = await run(claims.expiresAt);
    assert.deepEqual(late.ok ? 'valid' : late.reason, 'expired');
    published = false;
    const gone = await run();
    assert.deepEqual(gone.ok ? 'valid' : gone.reason, 'unknown_key');
    // Garbage never enters the cache; the bound holds.
    for (let i = 0; i < 5; i++) await checkImpersonationToken(`garbage.${i}.x`, rotating, ISSUER, NOW, 30_000, cache);
    published = true;
    for (const c of [{ ...claims, targetUserId: 'a' }, { ...claims, targetUserId: 'b' }, { ...claims, targetUserId: 'c' }]) {
      const t = signImpersonationToken(c, { keyId: 'ik-test', privateKey }).token;
      assert.equal((await checkImpersonationToken(t, rotating, ISSUER, NOW, 30_000, cache)).ok, true);
    }
    lookups = 0;
    await run();
    assert.equal(lookups, 1, 'the oldest entry was evicted (bound 2)');
  });
});
