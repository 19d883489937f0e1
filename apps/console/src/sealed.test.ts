import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Sealer } from './sealed.js';

test('a sealed value opens only with its key and purpose, before its expiry, and unaltered', () => {
  const s = new Sealer(randomBytes(32));
  const sealed = s.seal('session', { token: 'secret-token' }, 60_000);
  assert.doesNotMatch(Buffer.from(sealed, 'base64url').toString('latin1'), /secret-token/, 'the value is encrypted, not only signed');
  assert.deepEqual(s.open('session', sealed), { token: 'secret-token' });
  assert.equal(s.open('sign-in', sealed), undefined, 'sealed for another purpose');
  assert.equal(new Sealer(randomBytes(32)).open('session', sealed), undefined, 'another key');
  assert.equal(s.open('session', sealed, Date.now() + 61_000), undefined, 'expired');
  const raw = Buffer.from(sealed, 'base64url');
  raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
  assert.equal(s.open('session', raw.toString('base64url')), undefined, 'one flipped bit');
  for (const junk of ['', 'x', '$ne', 'a'.repeat(9000), '{"v":1}']) assert.equal(s.open('session', junk), undefined, `junk ${junk.slice(0, 10)}`);
  assert.throws(() => new Sealer(randomBytes(16)), /32 bytes/);
});
