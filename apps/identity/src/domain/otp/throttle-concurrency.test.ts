// Parallel brute force (RFC 4226 §7.3: "parallel guessing gains nothing"; issue 4 acceptance:
// "parallel brute force over 50 connections never evaluates more than N guesses, and leaves the
// account locked on every path"). Each guess runs the protocol the service must run: reserve
// the attempt with a compare-and-set BEFORE looking at the code, evaluate, then settle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '@gatehouse/core';
import type { Clock } from '@gatehouse/core';
import { AccountThrottle, INITIAL_THROTTLE_STATE, otpAt, verifyTotp } from './index.js';
import type { OtpCredential, ThrottleCasStore } from './index.js';
import { MemoryThrottleStore, credentialFor, jitter, NO_TX, prng, seededRandom, testCipher } from './otp-test-support.js';

const ACCOUNT = 'acc-1';
const CONNECTIONS = 50;
const cipher = testCipher();
const cred: OtpCredential = credentialFor(seededRandom(3).bytes(20), cipher, { kind: 'totp', accountId: ACCOUNT });

type GuessOutcome = 'accepted' | 'refused' | 'throttled' | 'locked' | 'contended' | 'locked_meanwhile';

interface Counters {
  evaluated: number;
}

/** One second-factor attempt as the service must run it. */
async function attempt(
  store: ThrottleCasStore,
  throttle: AccountThrottle,
  clock: Clock,
  code: string,
  counters: Counters,
): Promise<{ outcome: GuessOutcome; retryAfterMs?: number }> {
  // 1. Reserve (compare-and-set on the state read), a few tries under contention.
  let reserved = false;
  for (let i = 0; i < 3 && !reserved; i++) {
    const state = await store.get(ACCOUNT);
    const r = throttle.reserveAttempt(state, clock.now());
    if (!r.allowed) return r.locked ? { outcome: 'locked' } : { outcome: 'throttled', retryAfterMs: r.retryAfterMs };
    reserved = await store.compareAndSet(NO_TX, ACCOUNT, r.guard, r.next);
  }
  if (!reserved) return { outcome: 'contended' };
  // 2. Only now is the code looked at.
  counters.evaluated++;
  const seed = cipher.decrypt(cred.encryptedSeed, cred);
  const result = verifyTotp(cred, seed, code, clock.now());
  seed.destroy();
  if (result.ok) {
    // A completed sign-in: reset, unless the account locked meanwhile.
    return (await store.resetIfUnlocked(NO_TX, ACCOUNT, throttle.recordSuccess(await store.get(ACCOUNT)))) ? { outcome: 'accepted' } : { outcome: 'locked_meanwhile' };
  }
  // 3. Settle the failure (records the lock when the count reached lockAfter).
  for (let i = 0; i < 10; i++) {
    const state = await store.get(ACCOUNT);
    const settle = throttle.settleFailure(state, clock.now());
    if (!settle) break;
    if (await store.compareAndSet(NO_TX, ACCOUNT, settle.transition.guard, settle.transition.next)) break;
  }
  return { outcome: 'refused' };
}

/** Wrong codes: the valid window codes plus one, never equal to one of them. */
function wrongCode(i: number, now: Date): string {
  const seed = cipher.decrypt(cred.encryptedSeed, cred);
  const step = Math.floor(now.getTime() / 30_000);
  const valid = new Set([step - 1, step, step + 1].map((s) => otpAt(seed, 'SHA1', 6, s)));
  seed.destroy();
  let n = (i * 7919 + 123457) % 1_000_000;
  while (valid.has(String(n).padStart(6, '0'))) n = (n + 1) % 1_000_000;
  return String(n).padStart(6, '0');
}

test('50 simultaneous guesses: only the free attempts plus one are evaluated, never more than N', async () => {
  let racing = 0;
  for (let run = 0; run < 10; run++) {
    const throttle = new AccountThrottle({ lockAfter: 10, freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 60_000 });
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const store = new MemoryThrottleStore(prng(run));
    const counters = { evaluated: 0 };
    const results = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => attempt(store, throttle, clock, wrongCode(i, clock.now()), counters)));
    assert.ok(counters.evaluated <= throttle.policy.freeFailures + 1, `run ${run}: ${counters.evaluated}`);
    assert.ok(counters.evaluated >= 1);
    assert.equal(results.filter((r) => r.outcome === 'refused').length, counters.evaluated);
    // Every evaluated guess is counted: the parallel ones could not all read "0 failures".
    assert.equal((await store.get(ACCOUNT)).consecutiveFailures, counters.evaluated);
    racing += store.casMisses;
  }
  // Parallel reservations really collided on the same count and lost.
  assert.ok(racing > 0);
});

async function sustainedAttack(lockAfter: number, seed: number): Promise<{ evaluated: number; store: MemoryThrottleStore; throttle: AccountThrottle; clock: ManualClock }> {
  const throttle = new AccountThrottle({ lockAfter, freeFailures: 3, baseDelayMs: 50, maxDelayMs: 2000 });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const rand = prng(seed);
  const store = new MemoryThrottleStore(rand);
  const counters = { evaluated: 0 };
  let guess = 0;
  // 50 connections, each guessing until it is told the account is locked; a throttled
  // connection "waits" by moving the shared clock on.
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (let i = 0; i < 10_000; i++) {
        const r = await attempt(store, throttle, clock, wrongCode(guess++, clock.now()), counters);
        if (r.outcome === 'locked') return;
        if (r.outcome === 'throttled') clock.advance(r.retryAfterMs ?? 0);
        await jitter(rand);
      }
      assert.fail('a connection never saw the lock');
    }),
  );
  return { evaluated: counters.evaluated, store, throttle, clock };
}

test('50 connections guessing until locked: exactly N guesses evaluated, then locked on every path', async () => {
  for (const [lockAfter, seed] of [
    [10, 1],
    [10, 2],
    [3, 3],
    [100, 4],
  ] as const) {
    const { evaluated, store, throttle, clock } = await sustainedAttack(lockAfter, seed);
    assert.equal(evaluated, lockAfter, `lockAfter ${lockAfter}`);
    assert.ok(store.casMisses > 0, 'connections really raced');
    const state = await store.get(ACCOUNT);
    assert.equal(state.consecutiveFailures, lockAfter);
    assert.ok(state.lockedAt !== null, 'lockedAt recorded');
    // Locked on every path (they all share this state), long after the attack.
    clock.advance(7 * 24 * 3600_000);
    for (const _path of ['sms', 'totp', 'hotp', 'resync', 'confirm', 'session-refresh']) {
      assert.deepEqual(throttle.checkAllowed(state, clock.now()), { allowed: false, locked: true });
    }
    // Even the right code is now refused without being evaluated.
    const seedNow = cipher.decrypt(cred.encryptedSeed, cred);
    const right = otpAt(seedNow, 'SHA1', 6, Math.floor(clock.now().getTime() / 30_000));
    const counters = { evaluated: 0 };
    assert.equal((await attempt(store, throttle, clock, right, counters)).outcome, 'locked');
    assert.equal(counters.evaluated, 0);
  }
});

test('a completed sign-in resets the count; one that lands after the lock does not unlock', async () => {
  const throttle = new AccountThrottle({ lockAfter: 10, freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 1000 });
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 10));
  const store = new MemoryThrottleStore(prng(11));
  const counters = { evaluated: 0 };
  for (let i = 0; i < 4; i++) assert.equal((await attempt(store, throttle, clock, wrongCode(i, clock.now()), counters)).outcome, 'refused');
  const seed = cipher.decrypt(cred.encryptedSeed, cred);
  const right = otpAt(seed, 'SHA1', 6, Math.floor(clock.now().getTime() / 30_000));
  assert.equal((await attempt(store, throttle, clock, right, counters)).outcome, 'accepted');
  assert.deepEqual(await store.get(ACCOUNT), INITIAL_THROTTLE_STATE);
  // Locked meanwhile: the reset does not apply.
  store.rows.set(ACCOUNT, { consecutiveFailures: 10, lockedAt: clock.now(), nextAttemptAt: null });
  assert.equal(await store.resetIfUnlocked(NO_TX, ACCOUNT, throttle.recordSuccess(await store.get(ACCOUNT))), false);
});

test('control: a read-check-then-write throttle (no reservation) lets 50 parallel guesses through (the test can fail)', async () => {
  const throttle = new AccountThrottle({ lockAfter: 10, freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 60_000 });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = new MemoryThrottleStore(prng(21));
  let evaluated = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const state = await store.get(ACCOUNT);
      if (!throttle.checkAllowed(state, clock.now()).allowed) return;
      evaluated++;
      await jitter(prng(evaluated));
      const now = await store.get(ACCOUNT);
      await store.compareAndSet(NO_TX, ACCOUNT, now, throttle.recordFailure(now, clock.now()));
    }),
  );
  assert.ok(evaluated > throttle.policy.lockAfter, `${evaluated}`);
});
