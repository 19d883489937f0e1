import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ManualClock } from '@gatehouse/core';
import { base64urlEncode } from './base64url.js';
import { payloadOf } from './claims.js';
import { signCompactJws } from './jws.js';
import { DEFAULT_MAX_TOKEN_BYTES, InvalidSessionError, SessionVerifier, signSessionToken, StaticKeySource, type SessionKeySource } from './index.js';
import { assertRefused, AUDIENCE, ISSUER, keyPair, sessionClaims, T0 } from './test-support.js';

const signer = keyPair();
const HEADER = { alg: 'EdDSA', typ: 'JWT', kid: 'k1' };

/** A key source that counts lookups, to prove bad headers are refused before any lookup. */
function countingKeys(keys: Record<string, KeyObject>): SessionKeySource & { lookups: number } {
  const inner = new StaticKeySource(keys);
  const source = {
    lookups: 0,
    key(kid: string) {
      source.lookups++;
      return inner.key(kid);
    },
  };
  return source;
}

function setup(opts: { leewaySeconds?: number } = {}) {
  const clock = new ManualClock(T0 + 10_000);
  const keys = countingKeys({ k1: signer.publicKey });
  const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, clock, ...opts });
  return { clock, keys, verifier };
}

const sign = (overrides: Parameters<typeof sessionClaims>[0] = {}) =>
  signSessionToken(sessionClaims(overrides), { privateKey: signer.privateKey, keyId: 'k1' });

/** A token with this payload (edited from the standard one) validly signed by k1. */
function signedPayload(edit: (p: Record<string, unknown>) => void, header: Record<string, unknown> = HEADER): string {
  const payload = payloadOf(sessionClaims()) as unknown as Record<string, unknown>;
  edit(payload);
  return signCompactJws(header, payload, signer.privateKey);
}

const b64json = (v: unknown) => base64urlEncode(JSON.stringify(v));

/** The same bytes spelled differently: a 64-byte value leaves 4 unused bits in its last character. */
function nonCanonical(s: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const spelled = s.slice(0, -1) + alphabet[alphabet.indexOf(s.slice(-1)) + 1];
  assert.deepEqual(Buffer.from(spelled, 'base64url'), Buffer.from(s, 'base64url'), 'node decodes both spellings alike');
  return spelled;
}

describe('signSessionToken', () => {
  test('writes exactly the agreed header and claim names, times as NumericDate seconds', () => {
    const token = sign();
    const [h, p, s] = token.split('.') as [string, string, string];
    assert.equal(Buffer.from(h, 'base64url').toString(), '{"alg":"EdDSA","typ":"JWT","kid":"k1"}');
    assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url').toString()), {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'acc_01HZX3',
      sid: 'ses_01HZX4',
      iat: T0 / 1000,
      exp: T0 / 1000 + 3600,
      auth_time: T0 / 1000 - 120,
      email: 'maria@example.com',
      roles: ['manager'],
      amr: ['google', 'sms', 'totp'],
      cip: '203.0.113.7',
      scope: 'full',
      env: { live: T0 / 1000 + 1800, staging: T0 / 1000 + 3600 },
    });
    assert.equal(Buffer.from(s, 'base64url').length, 64);
  });

  test('refuses claims a verifier would refuse, and keys that are not Ed25519 private keys', () => {
    const key = { privateKey: signer.privateKey, keyId: 'k1' };
    assert.throws(() => signSessionToken(sessionClaims({ pinnedIp: 'not-an-ip' }), key), /claim cip must be an IP address/);
    assert.throws(() => signSessionToken(sessionClaims({ expiresAt: new Date(T0) }), key), /claim exp must be after iat/);
    assert.throws(() => signSessionToken(sessionClaims({ accountId: '' }), key), /claim sub must not be empty/);
    assert.throws(() => signSessionToken(sessionClaims(), { privateKey: signer.publicKey, keyId: 'k1' }), /Ed25519 private key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.throws(() => signSessionToken(sessionClaims(), { privateKey: rsa.privateKey, keyId: 'k1' }), /Ed25519 private key/);
    assert.throws(() => signSessionToken(sessionClaims(), { privateKey: signer.privateKey, keyId: 'bad kid' }), /keyId/);
  });

  test('pins the canonical form of the client IP', async () => {
    const { verifier } = setup();
    const claims = await verifier.verify(sign({ pinnedIp: '::ffff:203.0.113.7' }));
    assert.equal(claims.pinnedIp, '203.0.113.7');
  });
});

describe('SessionVerifier accepts', () => {
  test('a token it signed, returning the same claims (round trip)', async () => {
    const { verifier } = setup();
    const claims = await verifier.verify(sign());
    assert.deepEqual(claims, sessionClaims());
  });

  test('a register-ip session without environments', async () => {
    const { verifier } = setup();
    const claims = await verifier.verify(sign({ scope: 'register-ip', env: {}, roles: [] }));
    assert.equal(claims.scope, 'register-ip');
    assert.deepEqual(claims.env, {});
    assert.deepEqual(claims.roles, []);
  });

  test('iat slightly in the future, within the leeway (clock skew)', async () => {
    const { verifier, clock } = setup();
    clock.set(T0 - 29_000);
    await verifier.verify(sign());
  });

  test('until the instant before exp', async () => {
    const { verifier, clock } = setup();
    clock.set(T0 + 3600_000 - 1);
    await verifier.verify(sign());
  });

  test('role names it does not know are dropped (roles only grant), known ones kept', async () => {
    const { verifier } = setup();
    const claims = await verifier.verify(signedPayload((p) => (p['roles'] = ['manager', 'root', 'manager'])));
    assert.deepEqual(claims.roles, ['manager']);
  });
});

describe('SessionVerifier refuses', () => {
  test('an expired token', async () => {
    const { verifier, clock } = setup();
    const token = sign();
    clock.set(T0 + 3600_000);
    await assertRefused(verifier.verify(token), token, 'expired', /^session token has expired/);
  });

  test('a token issued in the future beyond the leeway', async () => {
    const { verifier, clock } = setup();
    clock.set(T0 - 31_000);
    const token = sign();
    await assertRefused(verifier.verify(token), token, 'not_yet_valid', /not valid yet \(issued in the future/);
  });

  test('a token whose nbf is in the future beyond the leeway', async () => {
    const { verifier } = setup();
    const token = signedPayload((p) => (p['nbf'] = T0 / 1000 + 60));
    await assertRefused(verifier.verify(token), token, 'not_yet_valid', /nbf is in the future/);
    await verifier.verify(signedPayload((p) => (p['nbf'] = T0 / 1000 + 30)));
  });

  test('a session that outlives the 24 h absolute limit', async () => {
    const { verifier } = setup();
    const token = sign({ authTime: new Date(T0 - 24 * 3600_000) });
    await assertRefused(verifier.verify(token), token, 'too_long_lived', /absolute session lifetime/);
  });

  test('a token of another issuer', async () => {
    const { verifier } = setup();
    const token = sign({ issuer: 'https://evil.example' });
    await assertRefused(verifier.verify(token), token, 'wrong_issuer', /issued by another issuer/);
  });

  test('a token for another audience', async () => {
    const { verifier } = setup();
    const token = sign({ audience: 'some-product' });
    await assertRefused(verifier.verify(token), token, 'wrong_audience', /another audience \(wrong aud\)/);
  });

  test('a signature by another key under a known kid', async () => {
    const { verifier } = setup();
    const token = signSessionToken(sessionClaims(), { privateKey: keyPair().privateKey, keyId: 'k1' });
    await assertRefused(verifier.verify(token), token, 'bad_signature', /^session token signature does not verify$/);
  });

  test('a tampered payload (a role added) under the original signature', async () => {
    const { verifier } = setup();
    const [h, , s] = sign().split('.') as [string, string, string];
    const forged = b64json(payloadOf(sessionClaims({ roles: ['manager', 'security_officer'] })));
    const token = `${h}.${forged}.${s}`;
    await assertRefused(verifier.verify(token), token, 'bad_signature', /signature does not verify/);
  });

  test('an unsigned token (alg none), in any spelling, before looking up a key', async () => {
    const { verifier, keys } = setup();
    const body = b64json(payloadOf(sessionClaims()));
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64json({ alg, typ: 'JWT', kid: 'k1' })}.${body}.`;
      await assertRefused(verifier.verify(token), token, 'algorithm', /unsigned \(alg none\); only EdDSA/);
    }
    assert.equal(keys.lookups, 0);
  });

  test('HS256 keyed with the Ed25519 public key bytes (algorithm confusion), before looking up a key', async () => {
    const { verifier, keys } = setup();
    const secret = signer.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const input = `${b64json({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64json(payloadOf(sessionClaims()))}`;
    const token = `${input}.${base64urlEncode(createHmac('sha256', secret).update(input).digest())}`;
    await assertRefused(verifier.verify(token), token, 'algorithm', /^session token algorithm HS256 is not accepted; only EdDSA is$/);
    const pem = signer.publicKey.export({ format: 'pem', type: 'spki' });
    const token2 = `${input}.${base64urlEncode(createHmac('sha256', pem).update(input).digest())}`;
    await assertRefused(verifier.verify(token2), token2, 'algorithm', /HS256 is not accepted/);
    assert.equal(keys.lookups, 0);
  });

  test('any other algorithm (RS256, ES256, Ed25519 spelled differently) or a missing one', async () => {
    const { verifier } = setup();
    const body = b64json(payloadOf(sessionClaims()));
    const sig = base64urlEncode(Buffer.alloc(64));
    for (const alg of ['RS256', 'ES256', 'eddsa', 'Ed25519']) {
      const token = `${b64json({ alg, typ: 'JWT', kid: 'k1' })}.${body}.${sig}`;
      await assertRefused(verifier.verify(token), token, 'algorithm', new RegExp(`algorithm ${alg} is not accepted`));
    }
    const weird = `${b64json({ alg: 'EdDSA\nforged log line', typ: 'JWT', kid: 'k1' })}.${body}.${sig}`;
    await assertRefused(verifier.verify(weird), weird, 'algorithm', /^session token algorithm is not accepted; only EdDSA is$/);
    const none = `${b64json({ typ: 'JWT', kid: 'k1' })}.${body}.${sig}`;
    await assertRefused(verifier.verify(none), none, 'malformed', /header alg is missing or not a string/);
  });

  test('an unknown kid', async () => {
    const { verifier } = setup();
    const token = signSessionToken(sessionClaims(), { privateKey: signer.privateKey, keyId: 'k9' });
    await assertRefused(verifier.verify(token), token, 'unknown_key', /^session token is signed by an unknown key$/);
  });

  test('a missing or ill-formed kid', async () => {
    const { verifier, keys } = setup();
    const noKid = signedPayload(() => undefined, { alg: 'EdDSA', typ: 'JWT' });
    await assertRefused(verifier.verify(noKid), noKid, 'malformed', /header has no key id \(kid\)/);
    for (const kid of [7, '', '../../etc/passwd', 'x'.repeat(129)]) {
      const token = signedPayload(() => undefined, { alg: 'EdDSA', typ: 'JWT', kid });
      await assertRefused(verifier.verify(token), token, 'malformed', /header kid is not a valid key id/);
    }
    assert.equal(keys.lookups, 0);
  });

  test('header parameters other than alg, typ and kid (jwk, jku, crit) and a wrong typ', async () => {
    const { verifier } = setup();
    for (const extra of [{ jku: 'https://evil.example/jwks' }, { jwk: { kty: 'OKP' } }, { crit: ['exp'] }]) {
      const token = signedPayload(() => undefined, { ...HEADER, ...extra });
      await assertRefused(verifier.verify(token), token, 'malformed', /header may carry only alg, typ and kid/);
    }
    const at = signedPayload(() => undefined, { ...HEADER, typ: 'at+jwt' });
    await assertRefused(verifier.verify(at), at, 'malformed', /header typ must be JWT/);
  });

  test('an oversized token, before parsing it', async () => {
    const { verifier, keys } = setup();
    const token = signedPayload((p) => (p['pad'] = 'x'.repeat(DEFAULT_MAX_TOKEN_BYTES)));
    await assertRefused(verifier.verify(token), token, 'oversized', /^session token is too large \(more than 8192 bytes\)$/);
    const junk = 'a'.repeat(1_000_000);
    await assertRefused(verifier.verify(junk), junk, 'oversized', /too large/);
    assert.equal(keys.lookups, 0);
  });

  test('malformed structure and base64url (padding, foreign characters, non-canonical bits)', async () => {
    const { verifier } = setup();
    const [h, p, s] = sign().split('.') as [string, string, string];
    const cases: Array<[string, RegExp]> = [
      [`${h}.${p}`, /three base64url parts/],
      [`${h}.${p}.${s}.${s}`, /three base64url parts/],
      [`.${p}.${s}`, /header is not base64url/],
      [`${h}=.${p}.${s}`, /header is not base64url/],
      [`${h.replace(/.$/, '+')}.${p}.${s}`, /header is not base64url/],
      [`${h}.${p.slice(0, 10)}*${p.slice(11)}.${s}`, /payload is not base64url/],
      [`${h}.${p}.${s}==`, /signature is not base64url/],
      [`${h}.${p}.${nonCanonical(s)}`, /signature is not base64url/],
      [`${h}.${p}.${base64urlEncode(Buffer.from(s, 'base64url').subarray(0, 63))}`, /not a 64-byte Ed25519 signature/],
      [`${h}.${p}.${base64urlEncode(Buffer.concat([Buffer.from(s, 'base64url'), Buffer.alloc(1)]))}`, /not a 64-byte Ed25519 signature/],
      [`${h}.${p}.`, /not a 64-byte Ed25519 signature/],
      [`${base64urlEncode('{"alg":"EdDSA"')}.${p}.${s}`, /header is not valid JSON/],
      [`${base64urlEncode('["EdDSA"]')}.${p}.${s}`, /header is not a JSON object/],
      [`${base64urlEncode(Buffer.from([0x7b, 0xff, 0x7d]))}.${p}.${s}`, /header is not valid UTF-8/],
    ];
    for (const [token, message] of cases) await assertRefused(verifier.verify(token), token, 'malformed', message);
  });

  test('claims that are missing or wrongly typed, even when properly signed', async () => {
    const { verifier } = setup();
    const cases: Array<[(p: Record<string, unknown>) => void, RegExp]> = [
      [(p) => (p['exp'] = String(p['exp'])), /claim exp must be a NumericDate/],
      [(p) => (p['iat'] = 1.5), /claim iat must be a NumericDate/],
      [(p) => delete p['auth_time'], /claim auth_time must be a NumericDate/],
      [(p) => (p['exp'] = 1e300), /claim exp must be a NumericDate/],
      [(p) => delete p['sub'], /claim sub must be a string/],
      [(p) => (p['sid'] = 42), /claim sid must be a string/],
      [(p) => (p['aud'] = [AUDIENCE]), /claim aud must be a string/],
      [(p) => (p['email'] = null), /claim email must be a string/],
      [(p) => (p['roles'] = 'manager'), /claim roles must be an array of strings/],
      [(p) => (p['roles'] = [1]), /claim roles must be an array of strings/],
      [(p) => delete p['amr'], /claim amr must be an array of strings/],
      [(p) => (p['cip'] = 'localhost'), /claim cip must be an IP address/],
      [(p) => (p['scope'] = 'admin'), /claim scope must be "full" or "register-ip"/],
      [(p) => (p['scope'] = 1), /claim scope must be "full" or "register-ip"/],
      [(p) => (p['env'] = []), /claim env must be a JSON object/],
      [(p) => (p['env'] = { live: 'forever' }), /claim env.live must be a NumericDate/],
      [(p) => (p['auth_time'] = (p['iat'] as number) + 1), /claim auth_time must not be after iat/],
    ];
    for (const [edit, message] of cases) {
      const token = signedPayload(edit);
      await assertRefused(verifier.verify(token), token, 'malformed', message);
    }
    for (const body of ['[1,2]', 'null', '"x"']) {
      const token = signCompactJws(HEADER, JSON.parse(body), signer.privateKey);
      await assertRefused(verifier.verify(token), token, 'malformed', /payload is not a JSON object/);
    }
  });

  test('an empty token, as missing', async () => {
    const { verifier } = setup();
    await assertRefused(verifier.verify(''), '', 'missing', /a session is required/);
  });

  test('a token dated before its signing key became valid (key not_before)', async () => {
    const clock = new ManualClock(T0 + 10_000);
    const keys: SessionKeySource = {
      key: async () => signer.publicKey,
      validity: () => ({ notBefore: new Date(T0 + 500) }),
    };
    const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, clock });
    const early = sign({ issuedAt: new Date(T0 - 1000) });
    await assertRefused(verifier.verify(early), early, 'bad_signature', /dated before its signing key became valid/);
    await verifier.verify(sign()); // same second as not_before
  });

  test('to use a key source that hands back a non-Ed25519 key (fails closed, not as the token’s fault)', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keys = { key: async () => rsa.publicKey };
    const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, clock: new ManualClock(T0) });
    await assert.rejects(
      verifier.verify(sign()),
      (err: unknown) => err instanceof Error && !(err instanceof InvalidSessionError) && /rsa key/.test(err.message),
    );
  });
});

describe('IP pinning', () => {
  test('accepts the pinned IP, including as IPv4-mapped IPv6', async () => {
    const { verifier } = setup();
    const token = sign();
    await verifier.verify(token, { presentedIp: '203.0.113.7' });
    await verifier.verify(token, { presentedIp: '::ffff:203.0.113.7' });
    await verifier.verify(token, { presentedIp: '::FFFF:cb00:7107' });
  });

  test('accepts another spelling of the same IPv6 address', async () => {
    const { verifier } = setup();
    const token = sign({ pinnedIp: '2001:db8::1' });
    await verifier.verify(token, { presentedIp: '2001:DB8:0:0:0:0:0:1' });
    await verifier.verify(token, { presentedIp: '[2001:db8::1]' });
  });

  test('refuses any other address, and an unparseable one', async () => {
    const { verifier } = setup();
    const token = sign();
    for (const ip of ['203.0.113.8', '::ffff:203.0.113.8', '2001:db8::1', '', 'garbage']) {
      await assertRefused(verifier.verify(token, { presentedIp: ip }), token, 'ip_mismatch', /pinned to another IP address/);
    }
  });
});

describe('SessionVerifier options', () => {
  test('refuses nonsense configuration', () => {
    const keys = new StaticKeySource({ k1: signer.publicKey });
    assert.throws(() => new SessionVerifier({ issuer: '', audience: AUDIENCE, keys }), /issuer and audience/);
    assert.throws(() => new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, leewaySeconds: 3600 }), /leewaySeconds/);
    assert.throws(() => new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, maxTokenBytes: 10 }), /maxTokenBytes/);
  });

  test('a smaller leeway is honoured', async () => {
    const { verifier, clock } = setup({ leewaySeconds: 0 });
    clock.set(T0 - 1000);
    const token = sign();
    await assertRefused(verifier.verify(token), token, 'not_yet_valid', /not valid yet/);
  });
});

describe('SessionVerifier remembers verified signatures, never the decisions that depend on time or caller', () => {
  test('a token seen before is accepted again without re-parsing, with its claims intact and a fresh copy each time', async () => {
    const { verifier } = setup();
    const token = sign();
    const first = await verifier.verify(token, { presentedIp: '203.0.113.7' });
    first.roles.push('security_officer');
    const second = await verifier.verify(token, { presentedIp: '203.0.113.7' });
    assert.deepEqual(second.roles, sessionClaims().roles, "a caller's edit of its claims does not reach the next caller");
    assert.equal(second.sessionId, first.sessionId);
  });

  test('a remembered token still expires, is still pinned to its IP, and is still checked against not-before', async () => {
    const { verifier, clock } = setup();
    const token = sign();
    await verifier.verify(token, { presentedIp: '203.0.113.7' });
    await assertRefused(verifier.verify(token, { presentedIp: '198.51.100.9' }), token, 'ip_mismatch', /pinned to another IP/);
    clock.advance(3600_000);
    await assertRefused(verifier.verify(token, { presentedIp: '203.0.113.7' }), token, 'expired', /has expired/);
    const early = sign({ issuedAt: new Date(T0 + 10_000 + 120_000) });
    clock.set(new Date(T0 + 10_000));
    await assertRefused(verifier.verify(early), early, 'not_yet_valid', /not valid yet/);
  });

  test('a key withdrawn from the key source refuses a token verified with it before; a replaced key makes it verify afresh', async () => {
    const keys: Record<string, KeyObject> = { k1: signer.publicKey };
    const source: SessionKeySource = { key: async (kid) => keys[kid] };
    const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: source, clock: new ManualClock(T0 + 10_000) });
    const token = sign();
    await verifier.verify(token);
    delete keys['k1'];
    await assertRefused(verifier.verify(token), token, 'unknown_key', /unknown key/);
    keys['k1'] = keyPair().publicKey; // another key under the same id: the old signature no longer holds
    await assertRefused(verifier.verify(token), token, 'bad_signature', /does not verify/);
  });

  test('a forged token that differs from a remembered one in one character is verified, and refused', async () => {
    const { verifier } = setup();
    const token = sign();
    await verifier.verify(token);
    const [h, p, sig] = token.split('.') as [string, string, string];
    const forged = `${h}.${b64json({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['security_officer'] })}.${sig}`;
    await assertRefused(verifier.verify(forged), forged, 'bad_signature', /does not verify/);
  });

  test('the memory is bounded: with room for 2 tokens, a third evicts the oldest, and all still verify', async () => {
    const clock = new ManualClock(T0 + 10_000);
    const keys = countingKeys({ k1: signer.publicKey });
    const verifier = new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, clock, verifiedCacheSize: 2 });
    const tokens = [sign({ sessionId: 's-1' }), sign({ sessionId: 's-2' }), sign({ sessionId: 's-3' })];
    for (const t of tokens) await verifier.verify(t);
    for (const [i, t] of tokens.entries()) assert.equal((await verifier.verify(t)).sessionId, `s-${i + 1}`);
    assert.throws(() => new SessionVerifier({ issuer: ISSUER, audience: AUDIENCE, keys, verifiedCacheSize: -1 }), /verifiedCacheSize/);
  });
});
