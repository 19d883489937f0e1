import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ManualClock } from '@gatehouse/core';
import { DEV_CLIENT_ID, DEV_ISSUER, DevIdTokenIssuer, DevJwksSource, GOOGLE_ISSUERS, parseJwks } from './index.js';

const NOW = Date.UTC(2026, 2, 10, 12, 0, 0);

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

describe('DevIdTokenIssuer', () => {
  const clock = new ManualClock(NOW);
  const issuer = new DevIdTokenIssuer({ clock });

  test('the key is generated on first use, and the caller is told to persist it', () => {
    const fresh = new DevIdTokenIssuer({ clock });
    assert.equal(fresh.generated, false);
    fresh.issue({ email: 'a@example.com', audience: DEV_CLIENT_ID });
    assert.equal(fresh.generated, true);
    assert.match(fresh.privateKeyPem(), /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test('tokens are Google-shaped RS256 JWTs of the dev issuer, never of Google', () => {
    const token = issuer.issue({ email: 'Dev.User@Example.com', audience: DEV_CLIENT_ID, name: 'Dev User' });
    const { header, payload } = decode(token);
    assert.deepEqual(header, { alg: 'RS256', kid: issuer.kid, typ: 'JWT' });
    assert.match(issuer.kid, /^dev-[A-Za-z0-9_-]{43}$/);
    assert.equal(payload['iss'], DEV_ISSUER);
    assert.ok(!(GOOGLE_ISSUERS as readonly string[]).includes(DEV_ISSUER));
    assert.equal(payload['aud'], DEV_CLIENT_ID);
    assert.equal(payload['azp'], DEV_CLIENT_ID);
    assert.equal(payload['email'], 'Dev.User@Example.com');
    assert.equal(payload['email_verified'], true);
    assert.equal(payload['hd'], 'example.com');
    assert.equal(payload['name'], 'Dev User');
    assert.equal(payload['iat'], NOW / 1000);
    assert.equal(payload['exp'], NOW / 1000 + 3600);
  });

  test('the subject is stable per e-mail (case-insensitive) and differs between users', () => {
    const sub = (email: string): unknown => decode(issuer.issue({ email, audience: DEV_CLIENT_ID })).payload['sub'];
    assert.equal(sub('dev@example.com'), sub('DEV@example.com'));
    assert.notEqual(sub('dev@example.com'), sub('other@example.com'));
    assert.equal(decode(issuer.issue({ email: 'x@example.com', audience: DEV_CLIENT_ID, subject: 'fixed' })).payload['sub'], 'fixed');
  });

  test('hostedDomain null leaves hd out (a consumer-shaped account)', () => {
    const { payload } = decode(issuer.issue({ email: 'dev@gmail.com', audience: DEV_CLIENT_ID, hostedDomain: null }));
    assert.equal('hd' in payload, false);
  });

  test('refuses nonsense input', () => {
    assert.throws(() => issuer.issue({ email: 'nobody', audience: DEV_CLIENT_ID }), /email/);
    assert.throws(() => issuer.issue({ email: 'a@', audience: DEV_CLIENT_ID }), /email/);
    assert.throws(() => issuer.issue({ email: 'a@b.c', audience: '' }), /audience/);
    assert.throws(() => issuer.issue({ email: 'a@b.c', audience: DEV_CLIENT_ID, lifetimeSeconds: 0 }), /lifetimeSeconds/);
  });

  test('PEM export / import keeps the kid; weak or non-RSA keys are refused on import', () => {
    const restored = new DevIdTokenIssuer({ clock, privateKeyPem: issuer.privateKeyPem() });
    assert.equal(restored.kid, issuer.kid);
    assert.equal(restored.generated, false);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(() => new DevIdTokenIssuer({ clock, privateKeyPem: weak }), /at least 2048 bits/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    assert.throws(() => new DevIdTokenIssuer({ clock, privateKeyPem: ec }), /RSA private key/);
  });

  test('its JWKS document and DevJwksSource serve the one public key under its kid', async () => {
    const parsed = parseJwks(issuer.publicJwks());
    assert.deepEqual([...parsed.keys.keys()], [issuer.kid]);
    const source = new DevJwksSource(issuer.publicKeyPem());
    const key = await source.key(issuer.kid);
    assert.ok(key);
    assert.equal(key.type, 'public');
    assert.equal(await source.key('other'), undefined);
    assert.equal(createPublicKey(issuer.publicKeyPem()).export({ format: 'jwk' }).n, key.export({ format: 'jwk' }).n);
    // Built from a private key, it still only hands out the public half.
    const fromPrivate = new DevJwksSource(createPublicKey(issuer.privateKeyPem()));
    assert.equal((await fromPrivate.key(issuer.kid))?.type, 'public');
  });
});
