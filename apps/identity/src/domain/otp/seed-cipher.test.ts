// Seeds at rest (RFC 4226 §7.5, RFC 6238 §5.1): AES-256-GCM, AAD bound to the row, key rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('a fresh IV per encryption: the same seed never gives the same ciphertext', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blobs = new Set(Array.from({ length: 50 }, () => cipher.encrypt(seed(), binding)));
  assert.equal(blobs.size, 50);
});

test('AAD binds the row: a ciphertext moved to another credential or account does not decrypt', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blob = cipher.encrypt(seed(), binding);
  assert.throws(() => cipher.decrypt(blob, { ...binding, credentialId: 'cred-2' }), refusedWith('not_authentic'));
  assert.throws(() => cipher.decrypt(blob, { ...binding, accountId: 'acc-2' }), refusedWith('not_authentic'));
  assert.throws(() => cipher.decrypt(blob, { credentialId: 'acc-1', accountId: 'cred-1' }), refusedWith('not_authentic'));
  // Length-prefixed AAD: shifting characters between the two ids is another binding.
  const shifted = cipher.encrypt(seed(), { credentialId: 'ab', accountId: 'c' });
  assert.throws(() => cipher.decrypt(shifted, { credentialId: 'a', accountId: 'bc' }), refusedWith('not_authentic'));
});

test('a wrong key under the same id, an unknown key id, or any flipped bit is refused', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blob = cipher.encrypt(seed(), binding);
  const otherKey = new SeedCipher(new TestKeyring('k1', new Uint8Array(32).fill(8)));
  assert.throws(() => otherKey.decrypt(blob, binding), refusedWith('not_authentic'));
  const noKey = new SeedCipher(new TestKeyring('k9'));
  assert.throws(() => noKey.decrypt(blob, binding), refusedWith('unknown_key'));
  // Renaming the key id in the header (to a key that exists) fails too: the id is in the AAD.
  const both = new TestKeyring('k2', new Uint8Array(32).fill(7));
  const renamed = blob.replace(/^v1:k1:/, 'v1:k2:');
  assert.throws(() => new SeedCipher(both).decrypt(renamed, binding), refusedWith('not_authentic'));
  const [v, k, iv, ct, tag] = blob.split(':') as [string, string, string, string, string];
  const flip = (part: string) => {
    const bytes = Buffer.from(part, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 1;
    return bytes.toString('base64url');
  };
  assert.throws(() => cipher.decrypt([v, k, flip(iv), ct, tag].join(':'), binding), refusedWith('not_authentic'));
  assert.throws(() => cipher.decrypt([v, k, iv, flip(ct), tag].join(':'), binding), refusedWith('not_authentic'));
  assert.throws(() => cipher.decrypt([v, k, iv, ct, flip(tag)].join(':'), binding), refusedWith('not_authentic'));
});

test('malformed values are refused as malformed, before any key is looked up', () => {
  const cipher = new SeedCipher(new TestKeyring());
  const blob = cipher.encrypt(seed(), binding);
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
    Buffer.from(seedBytes).toString('hex'),
  ]) {
    assert.throws(() => cipher.decrypt(bad, binding), refusedWith('malformed'), bad);
  }
  assert.throws(() => cipher.decrypt(undefined as unknown as string, binding), refusedWith('malformed'));
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

test('bad keys and bindings are configuration errors at encryption', () => {
  assert.throws(() => new SeedCipher(new TestKeyring('k1', new Uint8Array(16))).encrypt(seed(), binding), /32 bytes/);
  assert.throws(() => new SeedCipher(new TestKeyring('k:1')).encrypt(seed(), binding), /key id/);
  const cipher = new SeedCipher(new TestKeyring());
  assert.throws(() => cipher.encrypt(seed(), { credentialId: '', accountId: 'a' }), /binding/);
});

test('the ciphertext does not contain the seed in any common encoding', () => {
  const blob = new SeedCipher(new TestKeyring()).encrypt(seed(), binding);
  const b = Buffer.from(seedBytes);
  for (const form of [b.toString('hex'), b.toString('base64'), b.toString('base64url'), b.toString('latin1')]) {
    assert.ok(!blob.includes(form));
  }
});
