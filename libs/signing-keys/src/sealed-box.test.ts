// Values at rest: AES-256-GCM, a fresh IV each time, AAD bound to purpose, key id and row, key rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SealedBox, SealedBoxError, type Keyring, type SealingKey } from './index.js';

/** A keyring with fixed keys, the first current; `rotate` makes another current. */
function keyring(...keys: SealingKey[]): Keyring & { rotate(k: SealingKey): void } {
  const all = new Map(keys.map((k) => [k.keyId, k.key]));
  let current = keys[0] as SealingKey;
  return {
    current: () => current,
    byId: (id) => all.get(id),
    rotate: (k) => {
      all.set(k.keyId, k.key);
      current = k;
    },
  };
}
const K1: SealingKey = { keyId: 'k1', key: new Uint8Array(32).fill(7) };
const PURPOSE = 'gatehouse/test-value';
const plain = Buffer.from('a secret value, 32 bytes long...', 'utf8');
const row = ['row-1', 'owner-1'];

function refusedWith(failure: SealedBoxError['failure']) {
  return (err: unknown) => err instanceof SealedBoxError && err.failure === failure && err.message === `${PURPOSE} could not be decrypted (${failure})`;
}

test('round trip: v1:<keyId>:<iv>:<ct>:<tag>, base64url parts, 12-byte IV, 16-byte tag', () => {
  const box = new SealedBox(keyring(K1), PURPOSE);
  const blob = box.seal(plain, row);
  assert.match(blob, /^v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(box.open(blob, row), plain);
});

test('a fresh IV per encryption: the same value never gives the same ciphertext', () => {
  const box = new SealedBox(keyring(K1), PURPOSE);
  assert.equal(new Set(Array.from({ length: 50 }, () => box.seal(plain, row))).size, 50);
});

test('AAD binds the purpose and the row, length-prefixed so no shift of characters collides', () => {
  const box = new SealedBox(keyring(K1), PURPOSE);
  const blob = box.seal(plain, row);
  assert.throws(() => box.open(blob, ['row-2', 'owner-1']), refusedWith('not_authentic'));
  assert.throws(() => box.open(blob, ['owner-1', 'row-1']), refusedWith('not_authentic'));
  assert.throws(() => box.open(blob, ['row-1']), refusedWith('not_authentic'));
  assert.throws(() => new SealedBox(keyring(K1), 'gatehouse/other').open(blob, row), /gatehouse\/other could not be decrypted \(not_authentic\)/);
  const shifted = box.seal(plain, ['ab', 'c']);
  assert.throws(() => box.open(shifted, ['a', 'bc']), refusedWith('not_authentic'));
});

test('a wrong key under the same id, an unknown key id, a renamed key id or any flipped bit is refused', () => {
  const box = new SealedBox(keyring(K1), PURPOSE);
  const blob = box.seal(plain, row);
  assert.throws(() => new SealedBox(keyring({ keyId: 'k1', key: new Uint8Array(32).fill(8) }), PURPOSE).open(blob, row), refusedWith('not_authentic'));
  assert.throws(() => new SealedBox(keyring({ keyId: 'k9', key: K1.key }), PURPOSE).open(blob, row), refusedWith('unknown_key'));
  // Renaming the key id in the header (to a key that exists) fails too: the id is in the AAD.
  const both = new SealedBox(keyring(K1, { keyId: 'k2', key: K1.key }), PURPOSE);
  assert.throws(() => both.open(blob.replace(/^v1:k1:/, 'v1:k2:'), row), refusedWith('not_authentic'));
  const [v, k, iv, ct, tag] = blob.split(':') as [string, string, string, string, string];
  const flip = (part: string) => {
    const bytes = Buffer.from(part, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 1;
    return bytes.toString('base64url');
  };
  assert.throws(() => box.open([v, k, flip(iv), ct, tag].join(':'), row), refusedWith('not_authentic'));
  assert.throws(() => box.open([v, k, iv, flip(ct), tag].join(':'), row), refusedWith('not_authentic'));
  assert.throws(() => box.open([v, k, iv, ct, flip(tag)].join(':'), row), refusedWith('not_authentic'));
});

test('malformed values are refused as malformed, before any key is looked up', () => {
  const box = new SealedBox(keyring(K1), PURPOSE);
  const blob = box.seal(plain, row);
  const [, k, iv, ct, tag] = blob.split(':') as [string, string, string, string, string];
  for (const bad of [
    '',
    'v1',
    blob.replace(/^v1:/, 'v2:'),
    `${blob}:extra`,
    ['v1', 'bad id!', iv, ct, tag].join(':'),
    ['v1', k, `${iv}=`, ct, tag].join(':'),
    ['v1', k, iv.slice(1), ct, tag].join(':'),
    ['v1', k, iv, '', tag].join(':'),
    ['v1', k, iv, ct, tag.slice(2)].join(':'),
    plain.toString('hex'),
  ]) {
    assert.throws(() => box.open(bad, row), refusedWith('malformed'), bad);
  }
  assert.throws(() => box.open(undefined as unknown as string, row), refusedWith('malformed'));
});

test('key rotation: old ciphertexts still open by their key id, and say they need re-encryption', () => {
  const ring = keyring(K1);
  const box = new SealedBox(ring, PURPOSE);
  const old = box.seal(plain, row);
  assert.equal(box.needsRotation(old), false);
  ring.rotate({ keyId: 'k2', key: new Uint8Array(32).fill(3) });
  assert.equal(box.needsRotation(old), true);
  assert.deepEqual(box.open(old, row), plain);
  const fresh = box.seal(box.open(old, row), row);
  assert.match(fresh, /^v1:k2:/);
  assert.equal(box.needsRotation(fresh), false);
});

test('bad keys, key ids, random sources and bindings are configuration errors at encryption', () => {
  assert.throws(() => new SealedBox(keyring({ keyId: 'k1', key: new Uint8Array(16) }), PURPOSE).seal(plain, row), /32 bytes/);
  assert.throws(() => new SealedBox(keyring({ keyId: 'k:1', key: K1.key }), PURPOSE).seal(plain, row), /key id/);
  assert.throws(() => new SealedBox(keyring(K1), PURPOSE, { bytes: () => new Uint8Array(8) }).seal(plain, row), /random source returned 8 bytes/);
  const box = new SealedBox(keyring(K1), PURPOSE);
  for (const binding of [[''], ['x'.repeat(513)], [7 as unknown as string]]) assert.throws(() => box.seal(plain, binding), /binding field/);
});
