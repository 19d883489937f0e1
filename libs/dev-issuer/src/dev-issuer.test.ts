import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { ManualClock } from '@gatehouse/core';
import { DEV_CLIENT_ID, DEV_ISSUER, DevIdTokenIssuer, DevJwksSource } from './index.js';

describe('dev-issuer lib', () => {
  test('a key persisted as PEM signs tokens that its public key (in another process) verifies', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 27, 9));
    const first = new DevIdTokenIssuer({ clock });
    const pem = first.privateKeyPem();
    assert.ok(first.generated);
    const second = new DevIdTokenIssuer({ clock, privateKeyPem: pem });
    assert.equal(second.generated, false);
    assert.equal(second.kid, first.kid);
    const token = second.issue({ email: 'ada@bank.example', audience: DEV_CLIENT_ID });
    const [h, p, s] = token.split('.') as [string, string, string];
    const source = new DevJwksSource(first.publicKeyPem());
    const key = await source.key(first.kid);
    assert.ok(key);
    assert.equal(await source.key('another-kid'), undefined);
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')));
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(payload['iss'], DEV_ISSUER);
    assert.equal(payload['hd'], 'bank.example');
    assert.equal(payload['exp'], Math.floor(clock.now().getTime() / 1000) + 3600);
  });

  test('a non-RSA or short key is refused', () => {
    assert.throws(() => new DevIdTokenIssuer({ clock: new ManualClock(0), privateKeyPem: 'not a pem' }));
  });
});
