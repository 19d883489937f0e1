// The master key in memory (P3): never shown, really wiped, unusable once sealed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format, inspect } from 'node:util';
import { MASTER_KEY_BYTES, MasterKey, MasterKeyWipedError, masterKeyFingerprint } from './master-key.js';
import { scriptedRandom, seededRandom } from './seal-test-support.js';

const KNOWN = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

test('generate: 32 random bytes from the injected source, version as given, key id = mk- + 16 hex', () => {
  const random = scriptedRandom([...KNOWN]);
  const key = MasterKey.generate(3, random);
  assert.equal(random.served, MASTER_KEY_BYTES);
  assert.equal(key.version, 3);
  assert.match(key.keyId, /^mk-[0-9a-f]{16}$/);
  assert.equal(key.keyId, masterKeyFingerprint(KNOWN));
  key.withBytes((b) => assert.deepEqual(Buffer.from(b), KNOWN));
  // Two random keys differ, and so do their ids.
  const a = MasterKey.generate(1);
  const b = MasterKey.generate(1);
  assert.notEqual(a.keyId, b.keyId);
});

test('the key id is a stable fingerprint that does not reveal the key (HMAC under the key, truncated)', () => {
  assert.equal(MasterKey.fromBytes(KNOWN, 1).keyId, MasterKey.fromBytes(KNOWN, 2).keyId, 'same bytes, same id, whatever the version');
  assert.ok(!KNOWN.toString('hex').includes(masterKeyFingerprint(KNOWN).slice(3)));
  const flipped = Buffer.from(KNOWN);
  flipped[31] = (flipped[31] as number) ^ 1;
  assert.notEqual(masterKeyFingerprint(flipped), masterKeyFingerprint(KNOWN));
});

test('fromBytes copies: changing or wiping the source does not change the key', () => {
  const source = Buffer.from(KNOWN);
  const key = MasterKey.fromBytes(source, 1);
  source.fill(0);
  key.withBytes((b) => assert.deepEqual(Buffer.from(b), KNOWN));
});

test('JSON, String(), template literals, util.inspect and console formatting all show "[master key]"', () => {
  const key = MasterKey.fromBytes(KNOWN, 1);
  const leaks = [KNOWN.toString('hex'), KNOWN.toString('base64'), KNOWN.toString('base64url'), '0, 1, 2, 3'];
  const shown = [
    JSON.stringify(key),
    JSON.stringify({ master: key }),
    String(key),
    `${key}`,
    inspect(key),
    inspect({ nested: { key } }, { depth: 10, showHidden: true }),
    format('%s %o %O %j', key, key, key, key),
    JSON.stringify(structuredClone({ ...key })),
  ];
  for (const s of shown) for (const leak of leaks) assert.ok(!s.includes(leak), `${s} leaks the key`);
  assert.equal(JSON.stringify(key), '"[master key]"');
  assert.equal(String(key), '[master key]');
  assert.equal(inspect(key), '[master key]');
  assert.deepEqual(Object.keys(key).sort(), ['keyId', 'version'], 'the bytes are not an own property');
});

test('wipe() zeroes the key bytes in place, is idempotent, and every later use throws MasterKeyWipedError', () => {
  const key = MasterKey.fromBytes(KNOWN, 1);
  let internal: Buffer | undefined;
  key.withBytes((b) => {
    internal = b; // deliberately keeping the buffer, only to observe the wipe
  });
  assert.equal(key.wiped, false);
  key.wipe();
  key.wipe();
  assert.equal(key.wiped, true);
  assert.ok(internal?.every((b) => b === 0), 'the memory holding the key is zero');
  assert.throws(() => key.withBytes(() => 1), MasterKeyWipedError);
  assert.throws(() => key.deriveKey('data-key-wrap/v1'), MasterKeyWipedError);
  assert.equal(key.keyId, masterKeyFingerprint(KNOWN), 'the public id survives (for logs and audit)');
});

test('deriveKey: HKDF subkeys, one per purpose, deterministic, never the master key itself', () => {
  const key = MasterKey.fromBytes(KNOWN, 1);
  const a = key.deriveKey('data-key-wrap/v1');
  const b = key.deriveKey('data-key-wrap/v1');
  const c = key.deriveKey('release-token-hmac');
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, KNOWN);
  assert.notDeepEqual(MasterKey.generate(1, seededRandom(1)).deriveKey('data-key-wrap/v1'), a, 'another master, another subkey');
  assert.throws(() => key.deriveKey(''), /purpose/);
  assert.throws(() => key.deriveKey('Upper Case'), /purpose/);
});

test('withBytes refuses an async function (the buffer would outlive the call)', () => {
  const key = MasterKey.fromBytes(KNOWN, 1);
  assert.throws(() => key.withBytes(async () => 1), /synchronous/);
});

test('refuses a key of the wrong size or a non-positive version', () => {
  assert.throws(() => MasterKey.fromBytes(new Uint8Array(16), 1), /32 bytes/);
  assert.throws(() => MasterKey.fromBytes(KNOWN, 0), /positive integer/);
  assert.throws(() => MasterKey.fromBytes(KNOWN, 1.5), /positive integer/);
  assert.throws(() => MasterKey.generate(1, { bytes: () => new Uint8Array(31) }), /32 bytes/);
});
