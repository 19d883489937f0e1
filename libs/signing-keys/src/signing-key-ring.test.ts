// The key ring: first key, key-id prefix, publish-ahead rotation, retired keys, replicas sharing one store.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sign, verify } from 'node:crypto';
import { AlreadyExistsError, ManualClock } from '@gatehouse/core';
import type { SessionKeySource, SessionSigningKey } from '@gatehouse/session';
import { DEFAULT_KEY_ROTATION, SigningKeyRing, masterKeyCipher, type KeyRotationPolicy, type SigningKeyRecord, type SigningKeyRepository } from './index.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const POLICY: KeyRotationPolicy = { rotateEveryMs: 10 * DAY, publishAheadMs: HOUR, keepRetiredMs: DAY };
const cipher = masterKeyCipher([new Uint8Array(32).fill(5)], 'gatehouse/test/signing-key', 'gatehouse/test-signing-key');

/** The store every replica shares, in memory, with the port's contract (duplicate ids refused, listed by activation). */
class MemoryKeys implements SigningKeyRepository {
  readonly rows = new Map<string, SigningKeyRecord>();
  /** Every key this store accepted, in order (what a service's audited create records an event for). */
  readonly created: Array<{ keyId: string; activatesAt: Date }> = [];
  /** The next create fails with this (a refused unit: the audit event could not be written). */
  failNext: Error | undefined;
  async create(k: SigningKeyRecord): Promise<void> {
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    if (this.rows.has(k.keyId)) throw new AlreadyExistsError('a signing key with this id already exists');
    this.rows.set(k.keyId, { ...k });
    this.created.push({ keyId: k.keyId, activatesAt: k.activatesAt });
  }
  async list(): Promise<SigningKeyRecord[]> {
    return [...this.rows.values()].sort((a, b) => a.activatesAt.getTime() - b.activatesAt.getTime() || a.keyId.localeCompare(b.keyId));
  }
  async delete(keyIds: string[]): Promise<number> {
    return keyIds.filter((id) => this.rows.delete(id)).length;
  }
}

/** What a session token's `kid` may be (libs/session's KEY_ID_RE). */
const TOKEN_KID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The private key signs, and the public key `keys` hands out for its id verifies. */
async function signAndVerify(key: SessionSigningKey, keys: SessionKeySource): Promise<void> {
  const data = Buffer.from('header.payload');
  const publicKey = await keys.key(key.keyId);
  assert.ok(publicKey);
  assert.ok(verify(null, data, publicKey, sign(null, data, key.privateKey)));
}

function setup(options?: { keyIdPrefix?: string }) {
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  const repo = new MemoryKeys();
  const ring = new SigningKeyRing(repo, cipher, clock, POLICY, options);
  return { clock, repo, created: repo.created, ring };
}

describe('SigningKeyRing', () => {
  test('the first key signs at once; its private key is stored only encrypted and bound to its key id', async () => {
    const { clock, repo, created, ring } = setup();
    const key = await ring.signingKey();
    assert.match(key.keyId, /^sk-[A-Za-z0-9_-]{12}$/, 'identity\'s prefix by default');
    assert.deepEqual(created, [{ keyId: key.keyId, activatesAt: clock.now() }], 'created once');
    const [published, ...more] = await ring.published();
    assert.deepEqual(more, []);
    assert.deepEqual({ ...published, publicKey: undefined }, { keyId: key.keyId, publicKey: undefined, status: 'active', notBefore: clock.now(), notAfter: null });
    assert.deepEqual(ring.validity(key.keyId), { notBefore: clock.now() });
    await signAndVerify(key, ring);

    const stored = repo.rows.get(key.keyId) as SigningKeyRecord;
    assert.ok(!stored.encryptedPrivateKey.includes('PRIVATE KEY'));
    assert.match(cipher.decrypt(stored.encryptedPrivateKey, key.keyId), /^-----BEGIN PRIVATE KEY-----/);
    assert.throws(() => cipher.decrypt(stored.encryptedPrivateKey, 'sk-another'), /not_authentic/);
  });

  test('a service names its key ids (impersonation: ik-); a prefix that could not be a key id is refused', async () => {
    const { ring } = setup({ keyIdPrefix: 'ik-' });
    assert.equal(ring.keyIdPrefix, 'ik-');
    const key = await ring.signingKey();
    assert.match(key.keyId, /^ik-[A-Za-z0-9_-]{12}$/);
    assert.match(key.keyId, TOKEN_KID, 'a valid token kid');
    for (const keyIdPrefix of ['', 'a b', 'ik/', 'x'.repeat(33)]) {
      assert.throws(() => new SigningKeyRing(new MemoryKeys(), cipher, new ManualClock(), POLICY, { keyIdPrefix }), RangeError, keyIdPrefix);
    }
    assert.throws(() => new SigningKeyRing(new MemoryKeys(), cipher, new ManualClock(), { ...POLICY, publishAheadMs: POLICY.rotateEveryMs }), RangeError);
    assert.equal(new SigningKeyRing(new MemoryKeys(), cipher, new ManualClock()).policy, DEFAULT_KEY_ROTATION);
  });

  test('rotation: the successor is published ahead, then signs; the retired key stays published while its tokens live, then is deleted', async () => {
    const { clock, repo, created, ring } = setup();
    const first = await ring.signingKey();
    clock.advance(POLICY.rotateEveryMs - POLICY.publishAheadMs - 1);
    await ring.fresh();
    assert.equal(created.length, 1, 'not yet due');

    clock.advance(31_000);
    assert.equal((await ring.signingKey()).keyId, first.keyId, 'the old key still signs while the new one is only published');
    assert.equal(created.length, 2);
    const next = created[1] as { keyId: string; activatesAt: Date };
    assert.equal(next.activatesAt.getTime(), clock.now().getTime() + POLICY.publishAheadMs);
    assert.deepEqual(
      (await ring.published()).map((k) => [k.keyId, k.status]),
      [
        [first.keyId, 'active'],
        [next.keyId, 'next'],
      ],
    );
    assert.ok(await ring.key(next.keyId), 'verifiers already know it');

    clock.set(next.activatesAt);
    clock.advance(31_000);
    const second = await ring.signingKey();
    assert.equal(second.keyId, next.keyId);
    const retired = (await ring.published()).find((k) => k.keyId === first.keyId);
    assert.equal(retired?.status, 'retired');
    assert.deepEqual(retired?.notAfter, new Date(next.activatesAt.getTime() + POLICY.keepRetiredMs));
    assert.deepEqual(ring.validity(first.keyId), { notBefore: created[0]?.activatesAt, notAfter: retired?.notAfter });

    clock.set(new Date(next.activatesAt.getTime() + POLICY.keepRetiredMs));
    await ring.fresh();
    assert.deepEqual([...repo.rows.keys()], [next.keyId], 'the retired key is deleted once nothing it signed can be valid');
    assert.equal(await ring.key(first.keyId), undefined);
    assert.equal(created.length, 2);
  });

  test('replicas share the store: the second signs with the first one\'s key, and learns a key another replica just made', async () => {
    const { clock, repo, created, ring } = setup();
    const replica = new SigningKeyRing(repo, cipher, clock, POLICY);
    const key = await ring.signingKey();
    assert.equal((await replica.signingKey()).keyId, key.keyId);
    await signAndVerify(key, replica);

    clock.advance(POLICY.rotateEveryMs - POLICY.publishAheadMs - 2_000);
    await replica.fresh(); // not due yet
    clock.advance(2_000);
    await ring.fresh(); // due: this replica makes the successor
    const next = created[1]?.keyId as string;
    assert.equal(replica.validity(next), undefined, 'the replica has not read the store since');
    assert.ok(await replica.key(next), 'an unknown kid makes it read the store once more');
    assert.equal(replica.validity(next)?.notBefore?.getTime(), clock.now().getTime() + POLICY.publishAheadMs);
    assert.equal(created.length, 2, 'the replica created no key: it signs with the ones in the store');
  });

  test('a create the store refuses (its audit event could not be written) fails the reload and leaves no key; the next reload creates one', async () => {
    const clock = new ManualClock();
    const repo = new MemoryKeys();
    repo.failNext = new Error('audit outbox refused the event');
    const ring = new SigningKeyRing(repo, cipher, clock);
    await assert.rejects(ring.signingKey(), /audit outbox refused/);
    assert.equal(repo.rows.size, 0, 'no key without its event');
    assert.equal((await ring.signingKey()).keyId, [...repo.rows.keys()][0]);
    assert.equal(repo.rows.size, 1);
  });
});
