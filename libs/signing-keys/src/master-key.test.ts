// Subkeys of a master key (HKDF-SHA256) and the text ciphers built on them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SealedBoxError, checkMasterKeys, deriveKey, derivedKeyring, masterKeyCipher, masterKeyId } from './index.js';

const M1 = new Uint8Array(32).fill(0x11);
const M2 = new Uint8Array(32).fill(0x22);
const INFO = 'gatehouse/test/values';
const LABEL = 'gatehouse/test-value';

test('deriveKey is HKDF-SHA256 with an empty salt (RFC 5869 test case 3, first 32 bytes)', () => {
  const okm = deriveKey(new Uint8Array(22).fill(0x0b), '');
  assert.equal(okm.toString('hex'), '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d');
  assert.notDeepEqual(deriveKey(M1, 'gatehouse/a'), deriveKey(M1, 'gatehouse/b'), 'each purpose its own key');
});

test('masterKeyId: a stable short hash that names the key without revealing it', () => {
  assert.match(masterKeyId(M1), /^mk-[0-9a-f]{16}$/);
  assert.equal(masterKeyId(M1), masterKeyId(Uint8Array.from(M1)));
  assert.notEqual(masterKeyId(M1), masterKeyId(M2));
  assert.ok(!masterKeyId(M1).includes(Buffer.from(M1).toString('hex').slice(0, 8)));
});

test('derivedKeyring: the first master key seals, every given master key opens by its id', () => {
  const ring = derivedKeyring([M1, M2], INFO);
  assert.equal(ring.current().keyId, masterKeyId(M1));
  assert.deepEqual(ring.current().key, deriveKey(M1, INFO));
  assert.deepEqual(ring.byId(masterKeyId(M2)), deriveKey(M2, INFO));
  assert.equal(ring.byId('mk-0000000000000000'), undefined);
});

test('masterKeyCipher: round trip bound to the row; another row, info string or AAD label does not decrypt', () => {
  const cipher = masterKeyCipher([M1], INFO, LABEL);
  const blob = cipher.encrypt('+41 79 123 45 67', 'row-1');
  assert.match(blob, new RegExp(`^v1:${masterKeyId(M1)}:`));
  assert.ok(!blob.includes('123'));
  assert.equal(cipher.decrypt(blob, 'row-1'), '+41 79 123 45 67');
  const notAuthentic = (err: unknown) => err instanceof SealedBoxError && err.failure === 'not_authentic';
  assert.throws(() => cipher.decrypt(blob, 'row-2'), notAuthentic);
  assert.throws(() => masterKeyCipher([M1], 'gatehouse/test/other', LABEL).decrypt(blob, 'row-1'), notAuthentic);
  assert.throws(() => masterKeyCipher([M1], INFO, 'gatehouse/other').decrypt(blob, 'row-1'), notAuthentic);
  assert.throws(() => masterKeyCipher([M2], INFO, LABEL).decrypt(blob, 'row-1'), (e: unknown) => e instanceof SealedBoxError && e.failure === 'unknown_key');
});

test('masterKeyCipher: master-key rotation, newest first; old values still open, new ones use the new key', () => {
  const old = masterKeyCipher([M2], INFO, LABEL).encrypt('value', 'row-1');
  const rotated = masterKeyCipher([M1, M2], INFO, LABEL);
  assert.equal(rotated.decrypt(old, 'row-1'), 'value');
  assert.match(rotated.encrypt('value', 'row-1'), new RegExp(`^v1:${masterKeyId(M1)}:`));
});

test('master keys must be given, and each must be 256 bits', () => {
  assert.throws(() => masterKeyCipher([], INFO, LABEL), /at least one master key is required/);
  assert.throws(() => masterKeyCipher([new Uint8Array(16)], INFO, LABEL), /a master key is 32 bytes \(256 bits\)/);
  assert.throws(() => checkMasterKeys([M1, new Uint8Array(31)], 'SomeKeys'), /^Error: SomeKeys: a master key is 32 bytes/);
  checkMasterKeys([M1, M2], 'SomeKeys');
});
