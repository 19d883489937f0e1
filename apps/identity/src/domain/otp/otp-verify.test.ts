// Window, replay, drift, look-ahead, resync and enrolment rules (REQUIREMENTS "One-time
// passwords": RFC 6238 §5.2/§6, RFC 4226 §7.4, NIST §3.1.4.2, ASVS 4.0.3 2.8.5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailedPreconditionError } from '@gatehouse/core';
import {
  HOTP_LOOK_AHEAD,
  confirmEnrollment,
  isConfirmationExpired,
  otpAt,
  resyncHotp,
  retireCredential,
  verifyHotp,
  verifyOtp,
  verifyTotp,
} from './index.js';
import type { OtpCredential, OtpSeed } from './index.js';
import { applyNext, credentialFor, seededRandom, testCipher } from './otp-test-support.js';

const cipher = testCipher();
const SEED = seededRandom(42).bytes(20);
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0); // a multiple of 30 s
const STEP = T0 / 30_000;

function seedOf(cred: OtpCredential): OtpSeed {
  return cipher.decrypt(cred.encryptedSeed, { credentialId: cred.credentialId, accountId: cred.accountId });
}
function totp(opts: Parameters<typeof credentialFor>[2] = {}): { cred: OtpCredential; seed: OtpSeed; code: (step: number) => string } {
  const cred = credentialFor(SEED, cipher, { kind: 'totp', ...opts });
  const seed = seedOf(cred);
  return { cred, seed, code: (step) => otpAt(seed, cred.algorithm, cred.digits, step) };
}
function hotp(counter = 0): { cred: OtpCredential; seed: OtpSeed; code: (c: number) => string } {
  const cred = credentialFor(SEED, cipher, { kind: 'hotp', counter });
  const seed = seedOf(cred);
  return { cred, seed, code: (c) => otpAt(seed, 'SHA1', 6, c) };
}
const at = (offsetMs: number) => new Date(T0 + offsetMs);

// ---------------------------------------------------------------- TOTP window edges

test('TOTP window: codes of step-1, step and step+1 are accepted with drift -1, 0, +1; step±2 are refused', () => {
  const { cred, seed, code } = totp();
  const now = at(12_000);
  for (const drift of [-1, 0, 1] as const) {
    const result = verifyTotp(cred, seed, code(STEP + drift), now);
    assert.ok(result.ok, `drift ${drift}`);
    assert.equal(result.step, STEP + drift);
    assert.equal(result.drift, drift);
    assert.deepEqual(result.next, { lastAcceptedStep: STEP + drift, driftSteps: drift });
  }
  for (const far of [-2, 2, -3, 3, 10]) {
    assert.deepEqual(verifyTotp(cred, seed, code(STEP + far), now), { ok: false, reason: 'mismatch' }, `step ${far}`);
  }
});

test('TOTP window edges in time: the step changes exactly at a multiple of 30 s', () => {
  const { cred, seed, code } = totp();
  // At the last millisecond of STEP, STEP+2 is still out of the window; one ms later it is in.
  assert.deepEqual(verifyTotp(cred, seed, code(STEP + 2), at(29_999)), { ok: false, reason: 'mismatch' });
  const later = verifyTotp(cred, seed, code(STEP + 2), at(30_000));
  assert.ok(later.ok && later.drift === 1);
  // And STEP-1 leaves the window when STEP+1 begins.
  assert.ok(verifyTotp(cred, seed, code(STEP - 1), at(29_999)).ok);
  assert.deepEqual(verifyTotp(cred, seed, code(STEP - 1), at(30_000)), { ok: false, reason: 'mismatch' });
});

test('TOTP at the epoch: step 0 has no step -1 and still works', () => {
  const { cred, seed, code } = totp();
  const result = verifyTotp(cred, seed, code(0), new Date(0));
  assert.ok(result.ok && result.step === 0 && result.drift === 0);
});

// ---------------------------------------------------------------- TOTP replay and ordering

test('TOTP replay: the same code is refused as replayed once accepted (sequentially)', () => {
  const { cred, seed, code } = totp();
  const first = verifyTotp(cred, seed, code(STEP), at(5_000));
  assert.ok(first.ok);
  const after = applyNext(cred, first.next);
  assert.deepEqual(verifyTotp(after, seed, code(STEP), at(5_000)), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(after, seed, code(STEP), at(25_000)), { ok: false, reason: 'replayed' });
  // Still replayed one step later, while the code is in the window as step-1.
  assert.deepEqual(verifyTotp(after, seed, code(STEP), at(35_000)), { ok: false, reason: 'replayed' });
});

test('TOTP ordering: after a newer code is accepted, an older in-window code is refused as replayed', () => {
  const { cred, seed, code } = totp();
  const newer = verifyTotp(cred, seed, code(STEP + 1), at(1_000));
  assert.ok(newer.ok && newer.drift === 1);
  const after = applyNext(cred, newer.next);
  assert.deepEqual(verifyTotp(after, seed, code(STEP), at(1_000)), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(after, seed, code(STEP - 1), at(1_000)), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(after, seed, code(STEP + 1), at(1_000)), { ok: false, reason: 'replayed' });
});

test('TOTP: the last accepted step only moves forward, one code per step, across time', () => {
  let { cred } = totp();
  const { seed, code } = totp();
  for (let i = 0; i < 5; i++) {
    const now = at(i * 30_000 + 3_000);
    const result = verifyTotp(cred, seed, code(STEP + i), now);
    assert.ok(result.ok && result.step === STEP + i && result.drift === 0);
    assert.ok((result.next.lastAcceptedStep as number) > cred.lastAcceptedStep);
    cred = applyNext(cred, result.next);
    assert.deepEqual(verifyTotp(cred, seed, code(STEP + i), now), { ok: false, reason: 'replayed' });
  }
  assert.equal(cred.lastAcceptedStep, STEP + 4);
});

test('TOTP drift is recorded per credential: late device -1, then on time 0, then fast +1', () => {
  let { cred } = totp();
  const { seed, code } = totp();
  const late = verifyTotp(cred, seed, code(STEP - 1), at(1_000));
  assert.ok(late.ok);
  cred = applyNext(cred, late.next);
  assert.equal(cred.driftSteps, -1);
  const onTime = verifyTotp(cred, seed, code(STEP + 1), at(31_000));
  assert.ok(onTime.ok);
  cred = applyNext(cred, onTime.next);
  assert.equal(cred.driftSteps, 0);
  const fast = verifyTotp(cred, seed, code(STEP + 3), at(61_000));
  assert.ok(fast.ok);
  cred = applyNext(cred, fast.next);
  assert.equal(cred.driftSteps, 1);
  // Recorded drift never widens the window: acceptance stays at ±1 around the server's clock.
  assert.deepEqual(verifyTotp(cred, seed, code(STEP + 6), at(91_000)), { ok: false, reason: 'mismatch' });
});

// ---------------------------------------------------------------- code format

test('codes must be exactly the credential\'s number of ASCII digits, else malformed', () => {
  const { cred, seed, code } = totp();
  const good = code(STEP);
  const bad = [
    '',
    good.slice(0, 5),
    `${good}0`,
    ` ${good}`,
    `${good} `,
    `${good.slice(0, 3)} ${good.slice(3)}`,
    `+${good.slice(1)}`,
    `-${good.slice(1)}`,
    '12345a',
    '１２３４５６', // full-width digits
    '١٢٣٤٥٦', // Arabic-Indic digits
    '1e5000',
    '0x1234',
    `${good}\n`,
    '9'.repeat(100_000),
  ];
  for (const c of bad) assert.deepEqual(verifyTotp(cred, seed, c, at(0)), { ok: false, reason: 'malformed' }, JSON.stringify(c.slice(0, 20)));
  for (const c of [123456, null, undefined, { toString: () => good }, [good]]) {
    assert.deepEqual(verifyTotp(cred, seed, c as unknown as string, at(0)), { ok: false, reason: 'malformed' });
  }
  // 8-digit credential: a 6-digit code is malformed, the 8-digit one fine.
  const eight = totp({ digits: 8 });
  assert.deepEqual(verifyTotp(eight.cred, eight.seed, eight.code(STEP).slice(2), at(0)), { ok: false, reason: 'malformed' });
  assert.ok(verifyTotp(eight.cred, eight.seed, eight.code(STEP), at(0)).ok);
  // Leading zeros are part of the code (RFC vectors have them), not stripped.
  assert.ok(/^\d{6}$/.test(good));
});

// ---------------------------------------------------------------- state and kind preconditions

test('verify refuses a credential that is not active, or of the other kind, with FailedPreconditionError', () => {
  const pending = totp({ status: 'pending' });
  assert.throws(() => verifyTotp(pending.cred, pending.seed, pending.code(STEP), at(0)), FailedPreconditionError);
  const retired = totp({ status: 'retired' });
  assert.throws(() => verifyTotp(retired.cred, retired.seed, retired.code(STEP), at(0)), FailedPreconditionError);
  const h = hotp();
  assert.throws(() => verifyTotp(h.cred, h.seed, h.code(0), at(0)), FailedPreconditionError);
  const t = totp();
  assert.throws(() => verifyHotp(t.cred, t.seed, t.code(STEP)), FailedPreconditionError);
  assert.throws(() => resyncHotp(t.cred, t.seed, '000000', '000000'), FailedPreconditionError);
});

test('verifyOtp dispatches on the credential kind', () => {
  const t = totp();
  const tr = verifyOtp(t.cred, t.seed, t.code(STEP), at(0));
  assert.ok(tr.ok && tr.kind === 'totp');
  const h = hotp(3);
  const hr = verifyOtp(h.cred, h.seed, h.code(4), at(0));
  assert.ok(hr.ok && hr.kind === 'hotp' && hr.counter === 4);
});

// ---------------------------------------------------------------- HOTP look-ahead

test('HOTP look-ahead: counter..counter+10 accepted and the counter moves past the match; +11 refused', () => {
  const start = 20;
  const { cred, seed, code } = hotp(start);
  for (let ahead = 0; ahead <= HOTP_LOOK_AHEAD; ahead++) {
    const result = verifyHotp(cred, seed, code(start + ahead));
    assert.ok(result.ok, `+${ahead}`);
    assert.equal(result.counter, start + ahead);
    assert.deepEqual(result.next, { counter: start + ahead + 1 });
  }
  assert.deepEqual(verifyHotp(cred, seed, code(start + HOTP_LOOK_AHEAD + 1)), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifyHotp(cred, seed, code(start + 50)), { ok: false, reason: 'mismatch' });
});

test('HOTP: an accepted code, and every code it skipped, are refused afterwards as replayed', () => {
  const { cred, seed, code } = hotp(0);
  const result = verifyHotp(cred, seed, code(7));
  assert.ok(result.ok);
  const after = applyNext(cred, result.next);
  assert.equal(after.counter, 8);
  for (let c = 0; c <= 7; c++) assert.deepEqual(verifyHotp(after, seed, code(c)), { ok: false, reason: 'replayed' }, `counter ${c}`);
  assert.ok(verifyHotp(after, seed, code(8)).ok);
});

// ---------------------------------------------------------------- HOTP resync

test('HOTP resync: two consecutive codes beyond the window move the counter past the second', () => {
  const { cred, seed, code } = hotp(5);
  // The device ran 60 presses ahead: a single code is refused...
  assert.deepEqual(verifyHotp(cred, seed, code(65)), { ok: false, reason: 'mismatch' });
  // ...but the pair resynchronises.
  const result = resyncHotp(cred, seed, code(65), code(66));
  assert.ok(result.ok);
  assert.equal(result.firstCounter, 65);
  assert.deepEqual(result.next, { counter: 67 });
  const after = applyNext(cred, result.next);
  // Neither code of the pair can then be used; the next press can.
  assert.deepEqual(verifyHotp(after, seed, code(66)), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyHotp(after, seed, code(65)), { ok: false, reason: 'replayed' });
  assert.ok(verifyHotp(after, seed, code(67)).ok);
});

test('HOTP resync: the pair must be consecutive, in order, and within maxResync', () => {
  const { cred, seed, code } = hotp(0);
  assert.deepEqual(resyncHotp(cred, seed, code(40), code(42)), { ok: false, reason: 'mismatch' });
  assert.deepEqual(resyncHotp(cred, seed, code(41), code(40)), { ok: false, reason: 'mismatch' });
  assert.deepEqual(resyncHotp(cred, seed, code(40), code(40)), { ok: false, reason: 'mismatch' });
  // Edge of the default range (100): the pair (99, 100) is in, (100, 101) is out.
  const edge = resyncHotp(cred, seed, code(99), code(100));
  assert.ok(edge.ok && edge.firstCounter === 99);
  assert.deepEqual(resyncHotp(cred, seed, code(100), code(101)), { ok: false, reason: 'mismatch' });
  // A configured smaller range.
  assert.deepEqual(resyncHotp(cred, seed, code(30), code(31), 20), { ok: false, reason: 'mismatch' });
  assert.ok(resyncHotp(cred, seed, code(19), code(20), 20).ok);
  // Codes already behind the counter are not a resync.
  const moved = applyNext(cred, { counter: 50 });
  assert.deepEqual(resyncHotp(moved, seed, code(48), code(49)), { ok: false, reason: 'mismatch' });
  // Malformed and bad configuration.
  assert.deepEqual(resyncHotp(cred, seed, code(40), 'abcdef'), { ok: false, reason: 'malformed' });
  assert.deepEqual(resyncHotp(cred, seed, '1234567', code(41)), { ok: false, reason: 'malformed' });
  assert.throws(() => resyncHotp(cred, seed, code(40), code(41), 0), RangeError);
  assert.throws(() => resyncHotp(cred, seed, code(40), code(41), 1001), RangeError);
  assert.throws(() => resyncHotp(cred, seed, code(40), code(41), 2.5), RangeError);
});

// ---------------------------------------------------------------- enrolment confirmation

test('confirm TOTP enrolment, then VerifyOtp with the same code is refused; a later code works', () => {
  const { cred, seed, code } = totp({ status: 'pending', now: at(0) });
  const confirmed = confirmEnrollment(cred, seed, code(STEP), at(10_000));
  assert.ok(confirmed.ok && confirmed.kind === 'totp');
  assert.deepEqual(confirmed.next, { lastAcceptedStep: STEP, driftSteps: 0, status: 'active', activatedAt: at(10_000), confirmBy: null });
  const active = applyNext(cred, confirmed.next);
  assert.deepEqual(verifyTotp(active, seed, code(STEP), at(10_000)), { ok: false, reason: 'replayed' });
  assert.deepEqual(verifyTotp(active, seed, code(STEP), at(40_000)), { ok: false, reason: 'replayed' });
  assert.ok(verifyTotp(active, seed, code(STEP + 1), at(40_000)).ok);
});

test('confirm HOTP enrolment, then VerifyOtp with the same code is refused; the next press works', () => {
  const { code, seed } = hotp(0);
  const cred = credentialFor(SEED, cipher, { kind: 'hotp', status: 'pending', now: at(0) });
  const confirmed = confirmEnrollment(cred, seed, code(2), at(1_000));
  assert.ok(confirmed.ok && confirmed.kind === 'hotp' && confirmed.counter === 2);
  const active = applyNext(cred, confirmed.next);
  assert.equal(active.status, 'active');
  assert.equal(active.counter, 3);
  assert.deepEqual(verifyHotp(active, seed, code(2)), { ok: false, reason: 'replayed' });
  assert.ok(verifyHotp(active, seed, code(3)).ok);
});

test('confirm refuses a wrong code (a result, counted by the caller), an expired window and a non-pending credential', () => {
  const { cred, seed, code } = totp({ status: 'pending', now: at(0) });
  assert.deepEqual(confirmEnrollment(cred, seed, code(STEP + 5), at(1_000)), { ok: false, reason: 'mismatch' });
  assert.deepEqual(confirmEnrollment(cred, seed, 'nope', at(1_000)), { ok: false, reason: 'malformed' });
  assert.equal(isConfirmationExpired(cred, at(10 * 60_000)), false);
  assert.equal(isConfirmationExpired(cred, at(10 * 60_000 + 1)), true);
  assert.throws(() => confirmEnrollment(cred, seed, code(STEP + 20), at(10 * 60_000 + 1)), FailedPreconditionError);
  const active = totp();
  assert.throws(() => confirmEnrollment(active.cred, active.seed, active.code(STEP), at(0)), FailedPreconditionError);
});

test('retiring a credential destroys its encrypted seed and guards on its current state', () => {
  const { cred } = totp();
  const { guard, next } = retireCredential(cred, at(0));
  assert.deepEqual(next, { status: 'retired', retiredAt: at(0), confirmBy: null, encryptedSeed: '' });
  assert.deepEqual(guard, { credentialId: cred.credentialId, status: 'active', lastAcceptedStep: -1, counter: 0 });
  assert.throws(() => retireCredential(applyNext(cred, next), at(1)), FailedPreconditionError);
});
