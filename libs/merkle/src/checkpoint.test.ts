import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import {
  checkpointText,
  formatSignedAt,
  keyIdOf,
  publicKeyFromRaw,
  rawPublicKey,
  signCheckpoint,
  verifyCheckpoint,
  type CheckpointFields,
} from './index.js';

// RFC 8032 §7.1 TEST 1: a fixed key, so signatures are reproducible.
const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const PUBLIC = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
const privateKey = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]),
  format: 'der',
  type: 'pkcs8',
});

const fields: CheckpointFields = {
  origin: 'gatehouse.example.com/audit',
  treeSize: 1234,
  rootHash: Buffer.from('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', 'hex'),
  signedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 67)),
};

test('the signed text is exactly the five lines of the contract', () => {
  assert.equal(
    checkpointText(fields),
    'gatehouse.audit.v1 checkpoint\n' +
      'gatehouse.example.com/audit\n' +
      '1234\n' +
      'XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n' +
      '2025-01-02T03:04:05.067000000Z\n',
  );
});

test('signed_at has exactly nine fractional digits, UTC', () => {
  assert.equal(formatSignedAt(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))), '2025-01-02T03:04:05.000000000Z');
  assert.equal(formatSignedAt(new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999))), '1999-12-31T23:59:59.999000000Z');
  assert.throws(() => formatSignedAt(new Date(NaN)), RangeError);
  assert.throws(() => formatSignedAt(new Date(Date.UTC(10000, 0, 1))), RangeError);
});

test('checkpointText refuses fields it cannot represent', () => {
  assert.throws(() => checkpointText({ ...fields, origin: 'a\nb' }), RangeError);
  assert.throws(() => checkpointText({ ...fields, origin: '' }), RangeError);
  assert.throws(() => checkpointText({ ...fields, treeSize: -1 }), RangeError);
  assert.throws(() => checkpointText({ ...fields, rootHash: Buffer.alloc(31) }), RangeError);
  assert.equal(checkpointText({ ...fields, treeSize: 0, rootHash: Buffer.alloc(32) }).split('\n')[2], '0');
});

test('raw key helpers agree with RFC 8032 and the key id is pinned', () => {
  assert.deepEqual(rawPublicKey(privateKey), PUBLIC);
  assert.deepEqual(rawPublicKey(publicKeyFromRaw(PUBLIC)), PUBLIC);
  // RFC 8032 TEST 1 signature of the empty message, checked through the imported raw key.
  assert.equal(
    sign(null, Buffer.alloc(0), privateKey).toString('hex'),
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  assert.equal(keyIdOf(PUBLIC), '21fe31dfa154a261');
  assert.match(keyIdOf(PUBLIC), /^[0-9a-f]{16}$/);
  assert.throws(() => keyIdOf(Buffer.alloc(31)), RangeError);
  assert.throws(() => publicKeyFromRaw(Buffer.alloc(33)), RangeError);
});

test('sign/verify round trip with a KeyObject and with the raw public key', () => {
  const sig = signCheckpoint(fields, privateKey);
  assert.equal(sig.length, 64);
  assert.equal(verifyCheckpoint(fields, sig, PUBLIC), true);
  assert.equal(verifyCheckpoint(fields, sig, publicKeyFromRaw(PUBLIC)), true);
  // Ed25519 is deterministic: the same fields always give the same signature.
  assert.deepEqual(signCheckpoint({ ...fields }, privateKey), sig);
});

test('tampering with any signed field, the signature or the key fails verification', () => {
  const sig = signCheckpoint(fields, privateKey);
  const root = Buffer.from(fields.rootHash);
  root[31] = (root[31] as number) ^ 1;
  const badSig = Buffer.from(sig);
  badSig[10] = (badSig[10] as number) ^ 1;
  const other = generateKeyPairSync('ed25519');
  const cases: Array<[string, boolean]> = [
    ['origin', verifyCheckpoint({ ...fields, origin: 'gatehouse.example.org/audit' }, sig, PUBLIC)],
    ['tree size', verifyCheckpoint({ ...fields, treeSize: 1235 }, sig, PUBLIC)],
    ['root hash', verifyCheckpoint({ ...fields, rootHash: root }, sig, PUBLIC)],
    ['signed at (+1 ms)', verifyCheckpoint({ ...fields, signedAt: new Date(fields.signedAt.getTime() + 1) }, sig, PUBLIC)],
    ['signature bit', verifyCheckpoint(fields, badSig, PUBLIC)],
    ['short signature', verifyCheckpoint(fields, sig.subarray(0, 63), PUBLIC)],
    ['other key', verifyCheckpoint(fields, sig, other.publicKey)],
    ['bad raw key', verifyCheckpoint(fields, sig, Buffer.alloc(32))],
    ['short raw key', verifyCheckpoint(fields, sig, Buffer.alloc(3))],
    ['invalid date', verifyCheckpoint({ ...fields, signedAt: new Date(NaN) }, sig, PUBLIC)],
    ['non-Ed25519 key', verifyCheckpoint(fields, sig, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)],
  ];
  for (const [what, ok] of cases) assert.equal(ok, false, what);
});

test('signCheckpoint refuses a key that is not an Ed25519 private key', () => {
  assert.throws(() => signCheckpoint(fields, publicKeyFromRaw(PUBLIC)), TypeError);
  assert.throws(() => signCheckpoint(fields, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), TypeError);
});
