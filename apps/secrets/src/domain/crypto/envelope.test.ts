// Envelope encryption of secret values (P3; REQUIREMENTS "Secrets in a vault"; DESIGN §6: a data
// key per version wrapped by the master key, AAD binding the row).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, ManualClock, isDomainError } from '@gatehouse/core';
import { MasterKey, MasterKeyWipedError, SealManager } from '../seal/index.js';
import { GOOD_PASSPHRASE, InMemoryKeyFileStore, TEST_KEY_FILE_OPTIONS, recordingRandom } from '../seal/seal-test-support.js';
import { EnvelopeIntegrityError, MAX_VALUE_BYTES, decryptValue, encryptValue, rewrapDataKey, type EnvelopeFailure, type SealedValue, type SecretBinding } from './index.js';

const row: SecretBinding = { environment: 'live', app: 'contacts-api', name: 'DATABASE_PASSWORD', version: 1 };
const CANARY = 'CANARY-7f3a9c-do-not-leak-this-password';
const canary = () => Buffer.from(CANARY, 'utf8');

function refused(failure: EnvelopeFailure) {
  return (err: unknown) =>
    err instanceof EnvelopeIntegrityError && err.failure === failure && !isDomainError(err) && err.message === `secret value could not be decrypted (${failure})`;
}

function flip(base64: string, at = 0): string {
  const b = Buffer.from(base64, 'base64');
  b[at] = (b[at] as number) ^ 0x01;
  return b.toString('base64');
}

function flipWrapped(wrapped: string, part: 1 | 2 | 3): string {
  const parts = wrapped.split('.');
  parts[part] = flip(parts[part] as string);
  return parts.join('.');
}

test('round trip: binary values from 1 byte to exactly 64 KiB', () => {
  const master = MasterKey.generate(1);
  for (const size of [1, 16, 1000, MAX_VALUE_BYTES]) {
    const value = Buffer.alloc(size);
    for (let i = 0; i < size; i++) value[i] = (i * 31 + 7) & 0xff;
    const sealed = encryptValue(master, row, value);
    assert.equal(sealed.masterKeyVersion, 1);
    assert.equal(Buffer.from(sealed.iv, 'base64').length, 12);
    assert.equal(Buffer.from(sealed.tag, 'base64').length, 16);
    assert.equal(Buffer.from(sealed.ciphertext, 'base64').length, size);
    assert.match(sealed.wrappedDataKey, /^dk1\.[A-Za-z0-9+/=]{16}\.[A-Za-z0-9+/=]{44}\.[A-Za-z0-9+/=]{24}$/);
    assert.deepEqual(decryptValue(master, row, sealed), value);
  }
});

test('the sealed record is plain JSON (five fields) that round-trips through a store', () => {
  const master = MasterKey.generate(1);
  const sealed = encryptValue(master, row, canary());
  assert.deepEqual(Object.keys(sealed).sort(), ['ciphertext', 'iv', 'masterKeyVersion', 'tag', 'wrappedDataKey']);
  const stored = JSON.parse(JSON.stringify(sealed)) as SealedValue;
  assert.deepEqual(decryptValue(master, row, stored).toString('utf8'), CANARY);
});

test('an empty or oversized value is INVALID_ARGUMENT on "value" (the contract: 1 byte to 64 KiB)', () => {
  const master = MasterKey.generate(1);
  const invalid = (message: RegExp) => (e: unknown) => e instanceof InvalidArgumentError && e.field === 'value' && message.test(e.message);
  assert.throws(() => encryptValue(master, row, new Uint8Array(0)), invalid(/must not be empty/));
  assert.throws(() => encryptValue(master, row, new Uint8Array(MAX_VALUE_BYTES + 1)), invalid(/at most 65536 bytes \(64 KiB\)/));
  assert.throws(() => encryptValue(master, row, 'a string' as unknown as Uint8Array), invalid(/must be bytes/));
});

test('a fresh data key and IV per version: the same value encrypted twice shares no part', () => {
  const master = MasterKey.generate(1);
  const a = encryptValue(master, row, canary());
  const b = encryptValue(master, row, canary());
  for (const k of ['ciphertext', 'iv', 'tag', 'wrappedDataKey'] as const) assert.notEqual(a[k], b[k], k);
});

test('a canary plaintext and its data key never appear in the sealed record, in any encoding', () => {
  const master = MasterKey.generate(1);
  const random = recordingRandom({ bytes: (n) => new Uint8Array(n).map(() => Math.floor(Math.random() * 256)) });
  const sealed = encryptValue(master, row, canary(), random);
  const json = JSON.stringify(sealed);
  const dataKey = random.copies[0] as Uint8Array;
  const secrets = [canary(), Buffer.from(dataKey), master.withBytes((b) => Buffer.from(b))];
  for (const s of secrets) {
    for (const enc of [s.toString('utf8'), s.toString('hex'), s.toString('base64'), s.toString('base64url')]) {
      assert.ok(!json.includes(enc.slice(0, 24)), 'secret material in the sealed record');
    }
  }
  assert.ok(random.handedOut[0]?.every((b) => b === 0), 'the plaintext data key was wiped after use');
});

test('AAD binds the row: a record moved to another environment, app, name or version does not decrypt', () => {
  const master = MasterKey.generate(1);
  const sealed = encryptValue(master, row, canary());
  const others: SecretBinding[] = [
    { ...row, environment: 'staging' },
    { ...row, app: 'billing-api' },
    { ...row, name: 'GATEWAY_PASSWORD' },
    { ...row, version: 2 },
  ];
  for (const other of others) assert.throws(() => decryptValue(master, other, sealed), refused('data_key'), JSON.stringify(other));
  // Length-prefixed fields: moving characters between app and name is another row.
  const a = encryptValue(master, { ...row, app: 'ab', name: 'C' }, canary());
  assert.throws(() => decryptValue(master, { ...row, app: 'a', name: 'bC' }, a), refused('data_key'));
});

test('swapping parts between two rows fails: value ciphertext alone, wrapped key alone, or both', () => {
  const master = MasterKey.generate(1);
  const rowB: SecretBinding = { environment: 'staging', app: 'contacts-api', name: 'GATEWAY_PASSWORD', version: 4 };
  const a = encryptValue(master, row, canary());
  const b = encryptValue(master, rowB, Buffer.from('the other secret'));
  // B's value ciphertext under A's data key: A's key opens, the value does not.
  assert.throws(() => decryptValue(master, row, { ...a, ciphertext: b.ciphertext, iv: b.iv, tag: b.tag }), refused('value'));
  // B's wrapped data key in A's row: bound to row B, it does not unwrap here.
  assert.throws(() => decryptValue(master, row, { ...a, wrappedDataKey: b.wrappedDataKey }), refused('data_key'));
  // The whole of B's record read as row A.
  assert.throws(() => decryptValue(master, row, b), refused('data_key'));
  // Same row, another version: version 1's value ciphertext with version 2's data key.
  const a2 = encryptValue(master, { ...row, version: 2 }, canary());
  assert.throws(() => decryptValue(master, { ...row, version: 2 }, { ...a2, ciphertext: a.ciphertext, iv: a.iv, tag: a.tag }), refused('value'));
});

test('tampering with any part is refused with an integrity error that is not a DomainError and says nothing of the value', () => {
  const master = MasterKey.generate(1);
  const s = encryptValue(master, row, canary());
  const tampered: Array<[SealedValue, EnvelopeFailure]> = [
    [{ ...s, ciphertext: flip(s.ciphertext) }, 'value'],
    [{ ...s, ciphertext: flip(s.ciphertext, 20) }, 'value'],
    [{ ...s, iv: flip(s.iv) }, 'value'],
    [{ ...s, tag: flip(s.tag) }, 'value'],
    [{ ...s, wrappedDataKey: flipWrapped(s.wrappedDataKey, 1) }, 'data_key'],
    [{ ...s, wrappedDataKey: flipWrapped(s.wrappedDataKey, 2) }, 'data_key'],
    [{ ...s, wrappedDataKey: flipWrapped(s.wrappedDataKey, 3) }, 'data_key'],
    [{ ...s, masterKeyVersion: 2 }, 'master_key_version'],
    [{ ...s, ciphertext: Buffer.from(s.ciphertext, 'base64').subarray(1).toString('base64') }, 'value'],
    [{ ...s, ciphertext: '' }, 'malformed'],
    [{ ...s, iv: 'AAAA' }, 'malformed'],
    [{ ...s, tag: s.tag.slice(0, -4) }, 'malformed'],
    [{ ...s, ciphertext: `${s.ciphertext}!` }, 'malformed'],
    [{ ...s, wrappedDataKey: s.wrappedDataKey.replace(/^dk1/, 'dk2') }, 'malformed'],
    [{ ...s, wrappedDataKey: s.wrappedDataKey.split('.').slice(0, 3).join('.') }, 'malformed'],
    [{ ...s, masterKeyVersion: 0 }, 'malformed'],
    [{ ...s, wrappedDataKey: 42 as unknown as string }, 'malformed'],
  ];
  for (const [record, failure] of tampered) {
    assert.throws(() => decryptValue(master, row, record), refused(failure), `${failure}: ${JSON.stringify(record).slice(0, 60)}`);
  }
  assert.deepEqual(decryptValue(master, row, s).toString(), CANARY, 'the untouched record still opens');
});

test('another master key (same version number) does not open the data key', () => {
  const sealed = encryptValue(MasterKey.generate(1), row, canary());
  assert.throws(() => decryptValue(MasterKey.generate(1), row, sealed), refused('data_key'));
});

test('rotation: rewrap changes only the wrapped key and version; the value ciphertext is byte-identical; the old key no longer opens it', () => {
  const v1 = MasterKey.generate(1);
  const v2 = MasterKey.generate(2);
  const before = encryptValue(v1, row, canary());
  const after = rewrapDataKey(v1, v2, row, before);
  assert.deepEqual([after.ciphertext, after.iv, after.tag], [before.ciphertext, before.iv, before.tag]);
  assert.notEqual(after.wrappedDataKey, before.wrappedDataKey);
  assert.equal(after.masterKeyVersion, 2);
  assert.equal(decryptValue(v2, row, after).toString(), CANARY);
  assert.throws(() => decryptValue(v1, row, after), refused('master_key_version'));
  // Relabelling the version back does not help: the version is in the wrap AAD and the key differs.
  assert.throws(() => decryptValue(v1, row, { ...after, masterKeyVersion: 1 }), refused('data_key'));
  // The pre-rotation record is still readable with v1 until it is replaced (a crash mid-rotation loses nothing).
  assert.equal(decryptValue(v1, row, before).toString(), CANARY);
});

test('rewrap refuses what it cannot open (wrong old key, another row, tampering) and a non-increasing version', () => {
  const v1 = MasterKey.generate(1);
  const v2 = MasterKey.generate(2);
  const sealed = encryptValue(v1, row, canary());
  assert.throws(() => rewrapDataKey(MasterKey.generate(1), v2, row, sealed), refused('data_key'));
  assert.throws(() => rewrapDataKey(v1, v2, { ...row, name: 'OTHER' }, sealed), refused('data_key'));
  assert.throws(() => rewrapDataKey(v1, v2, row, { ...sealed, wrappedDataKey: flipWrapped(sealed.wrappedDataKey, 2) }), refused('data_key'));
  assert.throws(() => rewrapDataKey(v2, v2, row, sealed), /higher version/);
  assert.throws(() => rewrapDataKey(v2, v1, row, sealed), /higher version/);
  assert.throws(() => rewrapDataKey(v1, MasterKey.generate(3), row, { ...sealed, masterKeyVersion: 2 }), refused('master_key_version'));
});

test('a wiped (sealed) master key encrypts and decrypts nothing: no output under a zero key', () => {
  const master = MasterKey.generate(1);
  const sealed = encryptValue(master, row, canary());
  master.wipe();
  assert.throws(() => encryptValue(master, row, canary()), MasterKeyWipedError);
  assert.throws(() => decryptValue(master, row, sealed), MasterKeyWipedError);
  const v2 = MasterKey.generate(2);
  v2.wipe();
  const v1 = MasterKey.generate(1);
  assert.throws(() => rewrapDataKey(v1, v2, row, encryptValue(v1, row, canary())), MasterKeyWipedError);
});

test('integrity errors never contain the value, the binding or key material', () => {
  const master = MasterKey.generate(1);
  const s = encryptValue(master, row, canary());
  const errors: Error[] = [];
  for (const bad of [{ ...s, tag: flip(s.tag) }, { ...s, wrappedDataKey: flipWrapped(s.wrappedDataKey, 2) }, { ...s, iv: 'x' }]) {
    try {
      decryptValue(master, row, bad);
    } catch (err) {
      errors.push(err as Error);
    }
  }
  assert.equal(errors.length, 3);
  for (const e of errors) {
    for (const s2 of [CANARY, row.name, s.ciphertext.slice(0, 12), s.wrappedDataKey.slice(4, 16)]) assert.ok(!`${e.message}${e.stack ?? ''}`.includes(s2));
  }
});

test('end to end with the seal: put under v1, rotate through SealManager with rewrapDataKey, restart, read under v2', async () => {
  const store = new InMemoryKeyFileStore();
  const clock = new ManualClock();
  const seal = new SealManager({ store, clock, keyFile: TEST_KEY_FILE_OPTIONS });
  await seal.initialize({ mode: 'passphrase', passphrase: GOOD_PASSPHRASE });
  await seal.unsealWithPassphrase(GOOD_PASSPHRASE);
  // A tiny "repository": rows by binding.
  const rows = new Map<string, { binding: SecretBinding; sealed: SealedValue }>();
  const put = (binding: SecretBinding, value: string) =>
    seal.withMasterKey(async (key) => void rows.set(JSON.stringify(binding), { binding, sealed: encryptValue(key, binding, Buffer.from(value)) }));
  await put(row, CANARY);
  await put({ ...row, version: 2 }, 'second version');
  await put({ ...row, environment: 'staging' }, 'staging value');
  const before = new Map([...rows].map(([k, r]) => [k, r.sealed.ciphertext]));

  const { rewrapped, status } = await seal.rotateMasterKey(async (from, to) => {
    let n = 0;
    for (const r of rows.values()) {
      const old = from.find((k) => k.version === r.sealed.masterKeyVersion);
      if (!old) continue;
      r.sealed = rewrapDataKey(old, to, r.binding, r.sealed);
      n++;
    }
    return n;
  });
  assert.deepEqual([rewrapped, status.keyVersion], [3, 2]);
  for (const [k, r] of rows) {
    assert.equal(r.sealed.masterKeyVersion, 2);
    assert.equal(r.sealed.ciphertext, before.get(k), 'values were not re-encrypted');
  }
  const restarted = new SealManager({ store, clock, keyFile: TEST_KEY_FILE_OPTIONS });
  await restarted.unsealWithPassphrase(GOOD_PASSPHRASE);
  const read = (b: SecretBinding) => {
    const r = rows.get(JSON.stringify(b));
    assert.ok(r);
    return decryptValue(restarted.masterKey(r.sealed.masterKeyVersion), b, r.sealed).toString();
  };
  assert.equal(read(row), CANARY);
  assert.equal(read({ ...row, version: 2 }), 'second version');
  assert.equal(read({ ...row, environment: 'staging' }), 'staging value');
  await restarted.seal();
  assert.throws(() => read(row), (e: unknown) => e instanceof Error && e.message === 'sealed');
});
