// One use per code under concurrency (RFC 6238 §5.2, ASVS 5.0 6.5.1, issue 4 acceptance: "replay
// refused ... with 20 parallel calls on one code (exactly one success)"). The service's loop is
// simulated here against an in-memory store with the single-document compare-and-set of
// ports.ts; scheduling jitter makes the 20 calls interleave between read and write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Transaction } from '@gatehouse/core';
import { FailedPreconditionError } from '@gatehouse/core';
import { confirmEnrollment, otpAt, verifyOtp } from './index.js';
import type { OtpCasGuard, OtpCredential, OtpCredentialCasStore } from './index.js';
import { MemoryOtpStore, credentialFor, jitter, NO_TX, prng, seededRandom, testCipher } from './otp-test-support.js';

const cipher = testCipher();
const SEED = seededRandom(9).bytes(20);
const NOW = new Date(Date.UTC(2026, 5, 1, 8, 0, 10));
const STEP = Math.floor(NOW.getTime() / 30_000);
const PARALLEL = 20;

type Outcome = 'accepted' | 'replayed' | 'mismatch' | 'malformed' | 'not_pending' | 'contended';

/** VerifyOtp (or ConfirmOtpEnrollment) as the service must run it: read, decide, CAS; on a lost CAS, re-read and decide again. */
async function call(store: OtpCredentialCasStore, credentialId: string, code: string, mode: 'verify' | 'confirm' = 'verify'): Promise<Outcome> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const cred = await store.get(credentialId);
    assert.ok(cred);
    const seed = cipher.decrypt(cred.encryptedSeed, { credentialId, accountId: cred.accountId });
    let result;
    try {
      result = mode === 'verify' ? verifyOtp(cred, seed, code, NOW) : confirmEnrollment(cred, seed, code, NOW);
    } catch (err) {
      if (err instanceof FailedPreconditionError) return 'not_pending';
      throw err;
    } finally {
      seed.destroy();
    }
    if (!result.ok) return result.reason;
    if (await store.compareAndSet(NO_TX, result.guard, result.next)) return 'accepted';
  }
  return 'contended';
}

function tally(outcomes: Outcome[]): Partial<Record<Outcome, number>> {
  const t: Partial<Record<Outcome, number>> = {};
  for (const o of outcomes) t[o] = (t[o] ?? 0) + 1;
  return t;
}

function storeWith(cred: OtpCredential, rand: () => number): MemoryOtpStore {
  const store = new MemoryOtpStore(rand);
  store.rows.set(cred.credentialId, cred);
  return store;
}

test('TOTP: 20 parallel VerifyOtp calls with one code give exactly one success and 19 replays (many interleavings)', async () => {
  let racing = 0;
  for (let run = 0; run < 30; run++) {
    const cred = credentialFor(SEED, cipher, { kind: 'totp' });
    const store = storeWith(cred, prng(run));
    const code = otpAt(cipher.decrypt(cred.encryptedSeed, cred), 'SHA1', 6, STEP);
    const outcomes = await Promise.all(Array.from({ length: PARALLEL }, () => call(store, cred.credentialId, code)));
    assert.deepEqual(tally(outcomes), { accepted: 1, replayed: PARALLEL - 1 }, `run ${run}`);
    assert.equal(store.writes, 1);
    assert.equal(store.rows.get(cred.credentialId)?.lastAcceptedStep, STEP);
    racing += store.casMisses;
  }
  // Several calls decided "accept" from the same row and lost the compare-and-set.
  assert.ok(racing > 0);
});

test('HOTP: 20 parallel VerifyOtp calls with one code give exactly one success, and the counter moves once', async () => {
  for (let run = 0; run < 30; run++) {
    const cred = credentialFor(SEED, cipher, { kind: 'hotp', counter: 4 });
    const store = storeWith(cred, prng(1000 + run));
    const code = otpAt(cipher.decrypt(cred.encryptedSeed, cred), 'SHA1', 6, 6);
    const outcomes = await Promise.all(Array.from({ length: PARALLEL }, () => call(store, cred.credentialId, code)));
    assert.deepEqual(tally(outcomes), { accepted: 1, replayed: PARALLEL - 1 }, `run ${run}`);
    assert.equal(store.rows.get(cred.credentialId)?.counter, 7);
  }
});

test('ConfirmOtpEnrollment: 20 parallel confirmations with one code activate once; the rest find it no longer pending', async () => {
  const cred = credentialFor(SEED, cipher, { kind: 'totp', status: 'pending', now: NOW });
  const store = storeWith(cred, prng(77));
  const code = otpAt(cipher.decrypt(cred.encryptedSeed, cred), 'SHA1', 6, STEP);
  const outcomes = await Promise.all(Array.from({ length: PARALLEL }, () => call(store, cred.credentialId, code, 'confirm')));
  assert.equal(tally(outcomes).accepted, 1);
  assert.equal(outcomes.filter((o) => o === 'not_pending').length, PARALLEL - 1);
  // And the confirming code is then refused by VerifyOtp.
  assert.equal(await call(store, cred.credentialId, code), 'replayed');
});

test('TOTP: parallel calls with codes of two steps accept each step at most once and leave the newest step', async () => {
  for (let run = 0; run < 20; run++) {
    const cred = credentialFor(SEED, cipher, { kind: 'totp' });
    const store = storeWith(cred, prng(2000 + run));
    const seed = cipher.decrypt(cred.encryptedSeed, cred);
    const older = otpAt(seed, 'SHA1', 6, STEP);
    const newer = otpAt(seed, 'SHA1', 6, STEP + 1);
    const codes = Array.from({ length: PARALLEL }, (_, i) => (i % 2 === 0 ? older : newer));
    const outcomes = await Promise.all(codes.map((c) => call(store, cred.credentialId, c)));
    const acceptedNewer = outcomes.filter((o, i) => o === 'accepted' && codes[i] === newer).length;
    const acceptedOlder = outcomes.filter((o, i) => o === 'accepted' && codes[i] === older).length;
    assert.equal(acceptedNewer, 1, `run ${run}`);
    assert.ok(acceptedOlder <= 1);
    assert.ok(outcomes.every((o) => o === 'accepted' || o === 'replayed'));
    assert.equal(store.rows.get(cred.credentialId)?.lastAcceptedStep, STEP + 1);
  }
});

/** What a store WITHOUT the compare-and-set does: the write ignores the guard. */
class BlindWriteStore implements OtpCredentialCasStore {
  constructor(
    private readonly inner: MemoryOtpStore,
    private readonly rand: () => number,
  ) {}
  get(credentialId: string): Promise<OtpCredential | undefined> {
    return this.inner.get(credentialId);
  }
  async compareAndSet(_tx: Transaction, guard: OtpCasGuard, next: Partial<OtpCredential>): Promise<boolean> {
    await jitter(this.rand);
    const row = this.inner.rows.get(guard.credentialId) as OtpCredential;
    this.inner.rows.set(guard.credentialId, { ...row, ...next });
    return true;
  }
}

test('control: without the compare-and-set the same 20 calls accept one code several times (the test can fail)', async () => {
  const cred = credentialFor(SEED, cipher, { kind: 'totp' });
  const inner = storeWith(cred, prng(5));
  const code = otpAt(cipher.decrypt(cred.encryptedSeed, cred), 'SHA1', 6, STEP);
  const outcomes = await Promise.all(Array.from({ length: PARALLEL }, () => call(new BlindWriteStore(inner, prng(6)), cred.credentialId, code)));
  assert.ok((tally(outcomes).accepted ?? 0) > 1, JSON.stringify(tally(outcomes)));
});
