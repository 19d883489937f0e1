import { FailedPreconditionError } from '@gatehouse/core';
import { codesEqual, isWellFormedCode, otpAt } from './otp-code.js';
import { isConfirmationExpired, otpCasGuard } from './otp-credential.js';
import type { OtpSeed } from './otp-seed.js';
import { HOTP_DEFAULT_MAX_RESYNC, HOTP_LOOK_AHEAD, HOTP_MAX_RESYNC_LIMIT, TOTP_WINDOW_STEPS } from './otp-types.js';
import type { OtpCasGuard, OtpCredential, OtpDrift, OtpFailure, OtpKind, OtpStatus } from './otp-types.js';

/**
 * An accepted TOTP code. Apply `next` with a compare-and-set on `guard` (the row this was
 * computed from); only if that write succeeds was the code really accepted.
 */
export interface TotpAccepted {
  ok: true;
  kind: 'totp';
  /** The time step the code belongs to. */
  step: number;
  /** step minus the server's current step: -1, 0 or +1 (RFC 6238 §6, recorded per credential). */
  drift: OtpDrift;
  guard: OtpCasGuard;
  next: Partial<OtpCredential>;
}

/** An accepted HOTP code; same compare-and-set rule as {@link TotpAccepted}. */
export interface HotpAccepted {
  ok: true;
  kind: 'hotp';
  /** The counter value the code belongs to; `next.counter` is one past it. */
  counter: number;
  guard: OtpCasGuard;
  next: Partial<OtpCredential>;
}

/** Outcome of checking one code against a TOTP credential. */
export type TotpResult = TotpAccepted | OtpFailure;
/** Outcome of checking one code against an HOTP credential. */
export type HotpResult = HotpAccepted | OtpFailure;
/** Outcome of VerifyOtp or ConfirmOtpEnrollment on a credential of either kind. */
export type OtpResult = TotpAccepted | HotpAccepted | OtpFailure;

/** A successful HOTP resync: the counter moves past the second code, so neither code can be used again. */
export interface ResyncAccepted {
  ok: true;
  /** Counter of the first code; the second was `firstCounter + 1`. */
  firstCounter: number;
  guard: OtpCasGuard;
  next: Partial<OtpCredential>;
}

/** Outcome of ResyncHotp. A failure counts as a failed attempt (RFC 4226 §7.4, REQUIREMENTS "Look-ahead and resync"). */
export type ResyncResult = ResyncAccepted | { ok: false; reason: 'mismatch' | 'malformed' };

/**
 * VerifyOtp for TOTP (RFC 6238): accepts the code of the server's current time step or one step
 * either side (§5.2, §6), but only a step STRICTLY after `lastAcceptedStep`, so a code is good
 * once and an older code in the window is refused after a newer one (§5.2, NIST §3.1.4.2).
 * A genuine code of an already passed step is reported as `replayed` (audit it and tell the
 * holder, ASVS 4.0.3 2.8.5); anything else that is not `digits` ASCII digits is `malformed`.
 * `now` must come from the server's clock: it is the only clock (RFC 6238 §6). Recorded drift
 * is stored, not used to widen the window, so acceptance never exceeds ±1 step.
 *
 * Throws FailedPreconditionError if the credential is not an active TOTP credential.
 */
export function verifyTotp(cred: OtpCredential, seed: OtpSeed, code: string, now: Date): TotpResult {
  requireState(cred, 'active', 'totp');
  return evaluateTotp(cred, seed, code, now);
}

/**
 * VerifyOtp for HOTP (RFC 4226): accepts the code of counter..counter+10 (look-ahead s = 10,
 * §7.4) and moves the counter to one past the matched value, so that code and every skipped
 * one are dead. A genuine code of one of the 11 counters just below is `replayed`.
 *
 * Throws FailedPreconditionError if the credential is not an active HOTP credential.
 */
export function verifyHotp(cred: OtpCredential, seed: OtpSeed, code: string): HotpResult {
  requireState(cred, 'active', 'hotp');
  return evaluateHotp(cred, seed, code);
}

/** VerifyOtp on the account's active credential, whichever its kind. */
export function verifyOtp(cred: OtpCredential, seed: OtpSeed, code: string, now: Date): OtpResult {
  return cred.kind === 'totp' ? verifyTotp(cred, seed, code, now) : verifyHotp(cred, seed, code);
}

/**
 * ResyncHotp (RFC 4226 §7.4): finds two CONSECUTIVE codes `code1`, `code2` of counters c, c+1
 * with counter ≤ c and c+1 ≤ counter + maxResync, and moves the counter to c+2. A pair is
 * needed because a single code that far ahead would be a ~maxResync-fold easier guess.
 *
 * Throws FailedPreconditionError if the credential is not an active HOTP credential, and
 * RangeError for a maxResync outside 1..1000 (a configuration error).
 */
export function resyncHotp(
  cred: OtpCredential,
  seed: OtpSeed,
  code1: string,
  code2: string,
  maxResync: number = HOTP_DEFAULT_MAX_RESYNC,
): ResyncResult {
  requireState(cred, 'active', 'hotp');
  if (!Number.isSafeInteger(maxResync) || maxResync < 1 || maxResync > HOTP_MAX_RESYNC_LIMIT) {
    throw new RangeError(`maxResync must be an integer from 1 to ${HOTP_MAX_RESYNC_LIMIT}`);
  }
  if (!isWellFormedCode(code1, cred.digits) || !isWellFormedCode(code2, cred.digits)) return { ok: false, reason: 'malformed' };
  const codes: string[] = [];
  for (let c = cred.counter; c <= cred.counter + maxResync; c++) codes.push(otpAt(seed, cred.algorithm, cred.digits, c));
  let found = -1;
  // Every pair is compared, with no early exit, so timing says nothing about where a match was.
  for (let i = 0; i + 1 < codes.length; i++) {
    const pair = codesEqual(codes[i] as string, code1) && codesEqual(codes[i + 1] as string, code2);
    if (pair && found < 0) found = cred.counter + i;
  }
  if (found < 0) return { ok: false, reason: 'mismatch' };
  return { ok: true, firstCounter: found, guard: otpCasGuard(cred), next: { counter: found + 2 } };
}

/**
 * ConfirmOtpEnrollment: a pending credential becomes active on one valid code (same windows as
 * VerifyOtp), and the step or counter of that code is recorded, so the very same code is then
 * refused by VerifyOtp as `replayed` (the sign-in needs a later code).
 *
 * Throws FailedPreconditionError if the credential is not pending or its confirmation window
 * passed (retire it then).
 */
export function confirmEnrollment(cred: OtpCredential, seed: OtpSeed, code: string, now: Date): OtpResult {
  if (cred.status !== 'pending') throw new FailedPreconditionError('the OTP credential is not pending confirmation');
  if (isConfirmationExpired(cred, now)) throw new FailedPreconditionError('the OTP credential confirmation window has passed; enrol again');
  const result = cred.kind === 'totp' ? evaluateTotp(cred, seed, code, now) : evaluateHotp(cred, seed, code);
  if (!result.ok) return result;
  return { ...result, next: { ...result.next, status: 'active', activatedAt: now, confirmBy: null } };
}

/** The RFC 6238 time step T = floor((now - T0) / X) with T0 = 0. */
export function timeStep(now: Date, periodSeconds: number): number {
  const ms = now.getTime();
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('now must be a valid date after 1970');
  if (!Number.isSafeInteger(periodSeconds) || periodSeconds <= 0) throw new RangeError('period must be a positive integer');
  return Math.floor(ms / (periodSeconds * 1000));
}

function evaluateTotp(cred: OtpCredential, seed: OtpSeed, code: string, now: Date): TotpResult {
  if (!isWellFormedCode(code, cred.digits)) return { ok: false, reason: 'malformed' };
  const current = timeStep(now, cred.period);
  let accepted: number | undefined;
  let replayed = false;
  // Current step first, then the past one, then the future one: on a (one in 10^digits) code
  // collision the smallest drift wins. All candidates are computed and compared regardless.
  for (const drift of [0, -TOTP_WINDOW_STEPS, TOTP_WINDOW_STEPS]) {
    const step = current + drift;
    if (step < 0) continue;
    const match = codesEqual(otpAt(seed, cred.algorithm, cred.digits, step), code);
    if (!match) continue;
    if (step > cred.lastAcceptedStep) accepted ??= step;
    else replayed = true;
  }
  if (accepted !== undefined) {
    const drift = (accepted - current) as OtpDrift;
    return {
      ok: true,
      kind: 'totp',
      step: accepted,
      drift,
      guard: otpCasGuard(cred),
      next: { lastAcceptedStep: accepted, driftSteps: drift },
    };
  }
  return { ok: false, reason: replayed ? 'replayed' : 'mismatch' };
}

function evaluateHotp(cred: OtpCredential, seed: OtpSeed, code: string): HotpResult {
  if (!isWellFormedCode(code, cred.digits)) return { ok: false, reason: 'malformed' };
  let accepted: number | undefined;
  let replayed = false;
  const from = Math.max(0, cred.counter - (HOTP_LOOK_AHEAD + 1));
  for (let c = from; c <= cred.counter + HOTP_LOOK_AHEAD; c++) {
    const match = codesEqual(otpAt(seed, cred.algorithm, cred.digits, c), code);
    if (!match) continue;
    if (c >= cred.counter) accepted ??= c;
    else replayed = true;
  }
  if (accepted !== undefined) {
    return { ok: true, kind: 'hotp', counter: accepted, guard: otpCasGuard(cred), next: { counter: accepted + 1 } };
  }
  return { ok: false, reason: replayed ? 'replayed' : 'mismatch' };
}

function requireState(cred: OtpCredential, status: OtpStatus, kind: OtpKind): void {
  if (cred.status !== status) throw new FailedPreconditionError(`no ${status} OTP credential; enrol first`);
  if (cred.kind !== kind) throw new FailedPreconditionError(`the OTP credential is not ${kind.toUpperCase()}`);
}
