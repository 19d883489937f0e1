// Per-account throttling (RFC 4226 §7.3, NIST §3.2.2, ASVS 6.3.3): increasing delays, lockout
// at N ≤ 100, one budget for every second-factor path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '@gatehouse/core';
import { AccountThrottle, DEFAULT_THROTTLE_POLICY, INITIAL_THROTTLE_STATE, throttleStatesEqual } from './index.js';
import type { ThrottleState } from './index.js';

const T0 = Date.UTC(2026, 0, 1);

test('policy: defaults, and lockAfter must be 1..100 (NIST §3.2.2), delays positive', () => {
  assert.deepEqual(new AccountThrottle().policy, DEFAULT_THROTTLE_POLICY);
  assert.equal(DEFAULT_THROTTLE_POLICY.lockAfter, 10);
  assert.equal(new AccountThrottle({ lockAfter: 100 }).policy.lockAfter, 100);
  for (const bad of [{ lockAfter: 101 }, { lockAfter: 0 }, { lockAfter: 2.5 }, { baseDelayMs: 0 }, { maxDelayMs: 10, baseDelayMs: 20 }, { freeFailures: -1 }]) {
    assert.throws(() => new AccountThrottle(bad), RangeError, JSON.stringify(bad));
  }
});

test('delays: none for the first freeFailures, then doubling from baseDelayMs, capped at maxDelayMs', () => {
  const t = new AccountThrottle({ lockAfter: 100, freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 60_000 });
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 99].map((n) => t.delayAfter(n)),
    [0, 0, 0, 0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000],
  );
});

test('sequential failures: free attempts, then increasing waits, then locked at lockAfter until unlocked', () => {
  const t = new AccountThrottle({ lockAfter: 6, freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 10_000 });
  const clock = new ManualClock(T0);
  let state: ThrottleState = { ...INITIAL_THROTTLE_STATE };
  const waits: number[] = [];
  for (let i = 1; i <= 6; i++) {
    assert.deepEqual(t.checkAllowed(state, clock.now()), { allowed: true }, `attempt ${i}`);
    state = t.recordFailure(state, clock.now());
    assert.equal(state.consecutiveFailures, i);
    const decision = t.checkAllowed(state, clock.now());
    if (decision.allowed) {
      waits.push(0);
    } else if (!decision.locked) {
      waits.push(decision.retryAfterMs);
      // One millisecond early is still refused; on time is allowed.
      clock.advance(decision.retryAfterMs - 1);
      assert.equal(t.checkAllowed(state, clock.now()).allowed, false);
      clock.advance(1);
    } else {
      waits.push(-1);
    }
  }
  assert.deepEqual(waits, [0, 0, 1000, 2000, 4000, -1]);
  assert.ok(state.lockedAt !== null);
  // No automatic unlock: a day later it is still locked.
  clock.advance(24 * 3600_000);
  assert.deepEqual(t.checkAllowed(state, clock.now()), { allowed: false, locked: true });
  assert.deepEqual(t.reserveAttempt(state, clock.now()), { allowed: false, locked: true });
  // Further failures keep the original lock time.
  assert.deepEqual(t.recordFailure(state, clock.now()).lockedAt, state.lockedAt);
  assert.deepEqual(t.unlock(), INITIAL_THROTTLE_STATE);
});

test('a completed sign-in resets the count; the lock is derived from the count even if lockedAt was never written', () => {
  const t = new AccountThrottle({ lockAfter: 5 });
  const now = new Date(T0);
  assert.deepEqual(t.recordSuccess({ consecutiveFailures: 3, lockedAt: null, nextAttemptAt: new Date(T0 + 5000) }), INITIAL_THROTTLE_STATE);
  // Fail closed: 5 failures counted but the lock write was lost (crash) -> still locked.
  assert.deepEqual(t.checkAllowed({ consecutiveFailures: 5, lockedAt: null, nextAttemptAt: null }, now), { allowed: false, locked: true });
  assert.equal(t.isLocked({ consecutiveFailures: 0, lockedAt: now, nextAttemptAt: null }), true);
});

test('one budget for every path: SMS, TOTP, HOTP, resync and confirmation failures add up, and the lock refuses them all', () => {
  const t = new AccountThrottle({ lockAfter: 10, freeFailures: 10, baseDelayMs: 1000, maxDelayMs: 1000 });
  let state: ThrottleState = { ...INITIAL_THROTTLE_STATE };
  const now = new Date(T0);
  const paths = ['sms', 'totp', 'hotp', 'resync', 'confirm', 'sms', 'totp', 'hotp', 'resync', 'confirm'];
  for (const _path of paths) state = t.recordFailure(state, now);
  assert.equal(state.consecutiveFailures, 10);
  for (const _path of [...new Set(paths), 'session-refresh']) {
    assert.deepEqual(t.checkAllowed(state, now), { allowed: false, locked: true });
  }
});

test('reserveAttempt decides from the incremented count and pre-sets the delay; settleFailure then records the lock', () => {
  const t = new AccountThrottle({ lockAfter: 5, freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 8000 });
  const now = new Date(T0);
  const r1 = t.reserveAttempt(INITIAL_THROTTLE_STATE, now);
  assert.ok(r1.allowed);
  assert.deepEqual(r1.guard, INITIAL_THROTTLE_STATE);
  assert.deepEqual(r1.next, { consecutiveFailures: 1, lockedAt: null, nextAttemptAt: null });
  // From 2 failures, the reservation that makes it 3 sets the 1 s wait at once, before the code is checked.
  const r3 = t.reserveAttempt({ consecutiveFailures: 2, lockedAt: null, nextAttemptAt: null }, now);
  assert.ok(r3.allowed);
  assert.deepEqual(r3.next.nextAttemptAt, new Date(T0 + 1000));
  assert.deepEqual(t.reserveAttempt(r3.next, now), { allowed: false, locked: false, retryAfterMs: 1000 });
  // The reservation that makes it lockAfter is the last one allowed; after it, everyone sees locked.
  const r5 = t.reserveAttempt({ consecutiveFailures: 4, lockedAt: null, nextAttemptAt: null }, now);
  assert.ok(r5.allowed && r5.next.consecutiveFailures === 5 && r5.next.lockedAt === null);
  assert.deepEqual(t.reserveAttempt(r5.next, new Date(T0 + 3600_000)), { allowed: false, locked: true });
  // settleFailure writes lockedAt once the count reached lockAfter, and only then.
  const settled = t.settleFailure(r5.next, now);
  assert.ok(settled?.becameLocked);
  assert.deepEqual(settled.transition.guard, r5.next);
  assert.deepEqual(settled.transition.next, { consecutiveFailures: 5, lockedAt: now, nextAttemptAt: null });
  assert.equal(t.settleFailure(settled.transition.next, now), undefined);
  assert.equal(t.settleFailure(r3.next, now), undefined);
});

test('reserve + settle reaches the same state as recordFailure', () => {
  const t = new AccountThrottle({ lockAfter: 7, freeFailures: 2, baseDelayMs: 500, maxDelayMs: 4000 });
  const clock = new ManualClock(T0);
  let viaRecord: ThrottleState = { ...INITIAL_THROTTLE_STATE };
  let viaReserve: ThrottleState = { ...INITIAL_THROTTLE_STATE };
  for (let i = 0; i < 7; i++) {
    viaRecord = t.recordFailure(viaRecord, clock.now());
    const r = t.reserveAttempt(viaReserve, clock.now());
    assert.ok(r.allowed);
    viaReserve = r.next;
    viaReserve = t.settleFailure(viaReserve, clock.now())?.transition.next ?? viaReserve;
    assert.ok(throttleStatesEqual(viaRecord, viaReserve), `after ${i + 1}`);
    const wait = t.checkAllowed(viaRecord, clock.now());
    if (!wait.allowed && !wait.locked) clock.advance(wait.retryAfterMs);
  }
});

test('releaseAttempt hands back the reservation of a successful intermediate step without resetting earlier failures', () => {
  const t = new AccountThrottle({ lockAfter: 10, freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 8000 });
  const now = new Date(T0);
  const before: ThrottleState = { consecutiveFailures: 4, lockedAt: null, nextAttemptAt: new Date(T0 - 1) };
  const r = t.reserveAttempt(before, now);
  assert.ok(r.allowed);
  // The SMS code was right: give the reservation back; the 4 earlier failures stay.
  const release = t.releaseAttempt(r.next, r);
  assert.deepEqual(release?.guard, r.next);
  assert.deepEqual(release?.next, before);
  // Someone else failed meanwhile: only our reservation is removed, their delay stays.
  const other = t.reserveAttempt(r.next, new Date(T0 + 60_000));
  assert.ok(other.allowed);
  const later = t.releaseAttempt(other.next, r);
  assert.deepEqual(later?.next, { consecutiveFailures: 5, lockedAt: null, nextAttemptAt: other.next.nextAttemptAt });
  // A lock recorded meanwhile is never undone by a release.
  assert.equal(t.releaseAttempt({ consecutiveFailures: 10, lockedAt: now, nextAttemptAt: null }, r), undefined);
});
