// Seeds at rest (RFC 4226 §7.5, RFC 6238 §5.1): AES-256-GCM, AAD bound to the row, key rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SealedBox } from '@gatehouse/signing-keys';
import { OtpSeed, SeedCipher, SeedDecryptionError } from './index.js';
import { TestKeyring, seededRandom } from './otp-test-support.js';

const binding = { credentialId: 'cred-1', accountId: 'acc-1' };
const seedBytes = seededRandom(1).bytes(20);
const seed = () => OtpSeed.fromBytes(seedBytes);

function refusedWith(failure: SeedDecryptionError['failure']) {
  return (err: unknown) => err instanceof SeedDecryptionError && err.failure === failure && err.message === `OTP seed could not be decrypted (${failure})`;
}

test('round trip: v1:<keyId>:<iv>:<ct>:<tag>, base64url parts, 12-byte IV, 16-byte tag', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blob = cipher.encrypt(seed(), binding);
  assert.match(blob, /^v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{27}:[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(cipher.decrypt(blob, binding).reveal(), seedBytes);
  // 64-byte seeds (the RFC 6238 SHA-512 one) too.
  const big = OtpSeed.fromBytes(new Uint8Array(64).fill(9));
  assert.deepEqual(cipher.decrypt(cipher.encrypt(big, binding), binding).reveal(), new Uint8Array(64).fill(9));
});

test('AAD binds the row: a ciphertext moved to another credential or account does not decrypt', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blob = cipher.encrypt(seed(), binding);
  assert.throws(() => cipher.decrypt(blob, { ...binding, credentialId: 'cred-2' }), refusedWith('not_authentic'));
  assert.throws(() => cipher.decrypt(blob, { ...binding, accountId: 'acc-2' }), refusedWith('not_authentic'));
  assert.throws(() => cipher.decrypt(blob, { credentialId: 'acc-1', accountId: 'cred-1' }), refusedWith('not_authentic'));
});

test('every failure of the sealed box is a SeedDecryptionError of the same kind (the box itself is tested in @gatehouse/signing-keys)', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blob = cipher.encrypt(seed(), binding);
  assert.throws(() => new SeedCipher(new TestKeyring('k1', new Uint8Array(32).fill(8))).decrypt(blob, binding), refusedWith('not_authentic'));
  assert.throws(() => new SeedCipher(new TestKeyring('k9')).decrypt(blob, binding), refusedWith('unknown_key'));
  for (const bad of ['', blob.replace(/^v1:/, 'v2:'), Buffer.from(seedBytes).toString('hex')]) {
    assert.throws(() => cipher.decrypt(bad, binding), refusedWith('malformed'), bad);
  }
  // Authentic, but not a seed (too short for one): malformed too, and the plaintext is not shown.
  const notASeed = new SealedBox(new TestKeyring(), 'gatehouse/otp-seed').seal(new Uint8Array(3), [binding.credentialId, binding.accountId]);
  assert.throws(() => cipher.decrypt(notASeed, binding), refusedWith('malformed'));
});

test('key rotation: old ciphertexts still decrypt by their key id, and say they need re-encryption', () => {
  const keyring = new TestKeyring();
  const cipher = new SeedCipher(keyring);
  const old = cipher.encrypt(seed(), binding);
  assert.equal(cipher.needsRotation(old), false);
  keyring.rotate('k2', new Uint8Array(32).fill(3));
  assert.equal(cipher.needsRotation(old), true);
  assert.deepEqual(cipher.decrypt(old, binding).reveal(), seedBytes);
  const fresh = cipher.encrypt(cipher.decrypt(old, binding), binding);
  assert.match(fresh, /^v1:k2:/);
  assert.equal(cipher.needsRotation(fresh), false);
});

test('a binding without both ids is a configuration error', () => {
  const cipher = new SeedCipher(new TestKeyring());
  assert.throws(() => cipher.encrypt(seed(), { credentialId: '', accountId: 'a' }), /binding/);
  assert.throws(() => cipher.decrypt('v1:k1:a:b:c', { credentialId: 'c', accountId: '' }), /binding/);
});

test('the ciphertext does not contain the seed in any common encoding', () => {
  const blob = new SeedCipher(new TestKeyring()).encrypt(seed(), binding);
  const b = Buffer.from(seedBytes);
  for (const form of [b.toString('hex'), b.toString('base64'), b.toString('base64url'), b.toString('latin1')]) {
    assert.ok(!blob.includes(form));
  }
});
